"""`live eval`'s presentation: the terminal table, the card summary, the picture strip."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from rich.table import Table
from rich.text import Text

from live.errors import UsageError
from live.formats.card_file import update_card_metrics
from live.offline.evaluate import EvalResult


def results_table(report: dict) -> Table:
    """metric | model | nearest-frame baseline | compared outputs, for the terminal."""
    width_px, height_px = report["frame_size_px"]
    table = Table(
        title=f"live eval: {report['frames']} {report['split']} frames at {width_px}x{height_px} "
        "(the target's own size), "
        f"{report['size_px']} px head crop ({report['provider']})"
    )
    compared = report.get("compared", {})
    for column in ("metric", "model", "nearest-frame baseline", *compared):
        table.add_column(Text(column), justify="left" if column == "metric" else "right")  # model names: no markup
    model, baseline = report["model"], report["nearest_frame_baseline"]
    for key in model:
        table.add_row(key, _text(model[key]), _text(baseline.get(key)), *(_text(c.get(key)) for c in compared.values()))
    table.add_row("landmark_distance_px (to nearest training frame)", "", _text(baseline["landmark_distance_px"]))
    real = report["real_frames"]
    table.caption = (
        f"real frames: face found {_text(real['face_found_rate'])}, "
        f"flicker {_text(real['flicker_0_255'])} over {real['flicker_pairs']} pairs; "
        f"generator p50 {report['generator_ms_p50']:.1f} ms"
    )
    return table


def _text(value: object) -> str:
    if value is None:
        return "-"
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def card_metrics(report: dict) -> dict:
    """The compact summary stored in the model card under metrics["eval"]."""
    model, baseline = report["model"], report["nearest_frame_baseline"]
    keys = (
        "psnr_db_frame",
        "psnr_db_face",
        "ssim_bgr_mean_frame",
        "ssim_bgr_mean_face",
        "detail_ratio_face",
        "gmsd_face",
    )
    return {
        "eval": {
            "split": report["split"],
            "frames": report["frames"],
            "date": report["date"],
            **{key: model[key] for key in keys},
            "akd_px": model["akd_px"],
            "face_found_rate": model["face_found_rate"],
            "flicker_ratio": model["flicker_ratio"],
            **{f"baseline_{key}": baseline[key] for key in keys},
        }
    }


def store_in_card(model_path: Path, report: dict) -> None:
    """Write card_metrics(report) into the ONNX model's card (and NAME.md); needs onnx. Figures of a dataset the
    model was not trained on (report["dataset_match"] "other", live.offline.eval_checks) are never stored:
    UsageError."""
    if report.get("dataset_match") == "other":
        raise UsageError(
            f"{report['dataset']} is not the dataset {model_path} was trained on: its figures are not stored in the "
            "card; evaluate the model on its own dataset to store them"
        )
    update_card_metrics(Path(model_path), card_metrics(report))


def dataset_note(report: dict) -> str | None:
    """A note when the figures may not be the model's own (None: scored on the very dataset it was trained on)."""
    model, dataset = report["model_path"], report["dataset"]
    return {
        "other": f"note: {dataset} is not the dataset {model} was trained on (--other-dataset): these figures score "
        "it on other footage, not on its own held-out frames",
        "videos": f"note: {dataset} was prepared again from the videos {model} was trained on (its manifest differs "
        "from the card's): its held-out frames are the ones held out in training if it was prepared alike",
        "unrecorded": f"note: the card of {model} does not record the dataset it was trained on: cannot check that "
        f"{dataset} is that dataset",
    }.get(report.get("dataset_match"))


def write_strip(result: EvalResult, path: Path, rows: int = 6) -> None:
    """PNG with rows of sketch | real | generated | nearest-frame (| compared) for `rows` evenly spaced frames,
    at the target's own size (the sketch scaled to its height)."""
    count = len(result.real_bgr)
    picks = np.unique(np.linspace(0, count - 1, min(rows, count)).round().astype(int))
    height_px, width_px = result.real_bgr.shape[1:3]
    labels = ["sketch", "real", "generated", "nearest frame", *result.compared_bgr]
    lines = [_header([height_px] + [width_px] * (len(labels) - 1), labels)]
    for k in picks:
        tiles = [result.real_bgr[k], result.generated_bgr[k], result.nearest_bgr[k]]
        tiles += [images[k] for images in result.compared_bgr.values()]
        sketch = cv2.resize(result.sketches_bgr[k], (height_px, height_px), interpolation=cv2.INTER_AREA)
        lines.append(np.hstack([sketch, *tiles]))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), np.vstack(lines)):
        raise UsageError(f"cannot write {path}: give --strip a writable path ending in .png")


def _header(widths_px: list[int], labels: list[str]) -> np.ndarray:
    band = np.zeros((max(16, widths_px[0] // 10), sum(widths_px), 3), dtype=np.uint8)
    scale = widths_px[0] / 300
    for column, label in enumerate(labels):
        cv2.putText(
            band,
            label,
            (sum(widths_px[:column]) + 4, band.shape[0] - 5),
            cv2.FONT_HERSHEY_SIMPLEX,
            scale,
            (255, 255, 255),
            1,
            cv2.LINE_AA,
        )
    return band
