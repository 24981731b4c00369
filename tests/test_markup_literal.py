"""User strings (file and model names) reach the terminal as written: Rich markup in them is not interpreted."""

from __future__ import annotations

from rich.console import Console

from live.formats.dataset import VideoEntry
from live.offline.eval_report import results_table
from live.offline.prepare_files import summary_table

NAMES = ("talk[bold]x.mp4", "a[/]b.mp4", "[red]model")


def rendered(renderable: object) -> str:
    console = Console(record=True, width=400, color_system=None)
    console.print(renderable)
    return console.export_text()


def test_prepare_summary_prints_video_names_literally() -> None:
    videos = [VideoEntry(name, "0" * 64, 25.0, 10, (64, 48), None, None, 10, 8, 2) for name in NAMES[:2]]
    text = rendered(summary_table(videos, 64))
    assert all(name in text for name in NAMES[:2]), text


def test_eval_table_prints_compared_model_names_literally() -> None:
    figures = {"face_psnr_db": 30.0}
    report = {
        "frame_size_px": [64, 48],
        "frames": 2,
        "split": "val",
        "size_px": 64,
        "provider": "CPUExecutionProvider",
        "model": figures,
        "nearest_frame_baseline": figures | {"landmark_distance_px": 1.0},
        "compared": {NAMES[2]: figures},
        "real_frames": {"face_found_rate": 1.0, "flicker_0_255": 1.0, "flicker_pairs": 1},
        "generator_ms_p50": 1.0,
    }
    assert NAMES[2] in rendered(results_table(report))
