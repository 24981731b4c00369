"""`live bench` on a real tiny exported model and a short real clip: every JSON field, no timing assertions."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import cv2
import numpy as np
import onnxruntime
import pytest

from live.bench.generators import export_reference
from live.bench.report import TARGETS
from live.cli import main

DATA = Path(__file__).resolve().parents[1] / "data"


@pytest.fixture(scope="module")
def short_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first 20 frames of a real clip (shorter than a phase, so the bench must loop it)."""
    capture = cv2.VideoCapture(str(DATA / "jwp_office.mp4"))
    path = tmp_path_factory.mktemp("clip") / "short.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 30.0, (352, 288))
    for _ in range(20):
        ok, frame = capture.read()
        assert ok
        writer.write(frame)
    writer.release()
    capture.release()
    return path


def timing_fields_ok(timing: dict) -> bool:
    return (
        set(timing) == {"p50", "p95", "max", "count"}
        and timing["count"] >= 1
        and 0 < timing["p50"] <= timing["p95"] <= timing["max"]
    )


def test_bench_writes_every_field(
    tiny_model_path: Path, short_clip: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "bench.json"
    assert (
        main(
            [
                "bench",
                "--model",
                str(tiny_model_path),
                "--source",
                str(short_clip),
                "--seconds",
                "1",
                "--json",
                str(out),
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert "pipeline / sequential" in printed and "paced 30 fps: latency p50" in printed
    data = json.loads(out.read_text())

    machine = data["machine"]
    assert machine["cores"] == os.cpu_count() and isinstance(machine["cpu_model"], str) and machine["cpu_model"]
    assert machine["ort_version"] == onnxruntime.__version__ and "CPUExecutionProvider" in machine["ort_providers"]
    assert isinstance(machine["python"], str) and isinstance(machine["platform"], str)
    model = data["model"]
    assert model["sha256"] == hashlib.sha256(tiny_model_path.read_bytes()).hexdigest()
    assert (
        model["size_px"] == 64 and model["provider"] == "CPUExecutionProvider" and model["path"] == str(tiny_model_path)
    )

    generator = data["generator_ms"]
    assert timing_fields_ok(generator["model"])
    assert generator["reference_unet_256"] is None and generator["speedup"] is None  # unet_256 cannot run at 64 px
    assert "multiple of 256" in generator["reference_note"]
    assert set(data["stages_ms"]) == {"landmarks", "retarget", "sketch", "paste_back 1280x720"}
    assert all(timing_fields_ok(timing) for timing in data["stages_ms"].values())

    for run in (data["pipeline_unthrottled"], data["sequential"]):
        assert run["fps"] > 0 and run["frames_written"] == run["frames_captured"] > 20  # lossless, and the clip looped
        assert run["drops"] == 0 and run["face_lost_frames"] < run["frames_captured"]
        assert {"landmarks", "generator", "sinks"} <= set(run["stages_ms_p50"])
    assert data["pipeline_vs_sequential"] == pytest.approx(
        data["pipeline_unthrottled"]["fps"] / data["sequential"]["fps"], rel=0.01
    )

    largest = data["largest_stage"]
    assert largest["stage"] in data["sequential"]["stages_ms_p50"] and 0 < largest["share_of_frame"] <= 1
    assert largest["p50_ms"] == pytest.approx(max(data["sequential"]["stages_ms_p50"].values()), abs=1e-3)

    paced = data["paced_30fps"]
    assert paced["fps"] == 30 and timing_fields_ok(paced["latency_ms"])
    assert isinstance(paced["drops"], int) and paced["drops"] == sum(paced["drops_by_buffer"].values())
    assert paced["frames_written"] >= 1 and paced["cpu_percent"] > 0
    assert (
        0 < paced["rss_mb"] <= paced["rss_peak_mb"] + 1 and data["process_peak_rss_mb"] > 0
    )  # sampled <= high-water mark
    assert 0 < data["first_output_warm_s"] < data["first_output_s"]

    assert set(data["targets"]) == set(TARGETS)
    for name, target in data["targets"].items():
        assert target["comparison"] in (">=", "<=") and isinstance(target["target"], float)
        assert target["met"] is None if target["value"] is None else isinstance(target["met"], bool), name
    assert data["targets"]["generator_speedup_vs_unet_256"]["met"] is None
    assert data["targets"]["first_output_s"]["value"] == data["first_output_s"]
    assert data["seconds_per_phase"] == 1.0 and data["settings"]["intra_op_threads"] >= 1
    assert data["settings"]["sequential_intra_op_threads"] >= data["settings"]["intra_op_threads"]
    assert set(data["load_average_1min"]) == {"start", "end"}


def test_reference_is_pix2pix_unet_256_and_runs(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    from live.training.reference_unet import reference_unet

    network = reference_unet()
    assert (
        sum(parameter.numel() for parameter in network.parameters()) == 54_413_955
    )  # pix2pix prints 54.414 M for unet_256
    assert not network.training
    assert sum(isinstance(module, torch.nn.ConvTranspose2d) for module in network.modules()) == 8
    assert sum(isinstance(module, torch.nn.Dropout) for module in network.modules()) == 3
    path, note = export_reference(tmp_path, 256)
    assert path is not None and "unet_256" in note
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (output,) = session.run(None, {"input": np.zeros((1, 3, 256, 256), dtype=np.float32)})
    assert output.shape == (1, 3, 256, 256) and np.abs(output).max() <= 1.0


def test_bench_refuses_a_camera(tiny_model_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", "--model", str(tiny_model_path), "--source", "0", "--seconds", "1"]) == 2
    assert "video file or a folder" in capsys.readouterr().err


def test_the_sequential_loop_gets_the_threads_of_all_the_pipelines_workers() -> None:
    from live.bench.measure import BenchConfig

    cores = os.cpu_count() or 1
    assert BenchConfig(Path("m.onnx"), "clip", intra_op_threads=1, generator_workers=2).sequential_threads() == min(
        2, cores
    )
    assert BenchConfig(Path("m.onnx"), "clip", intra_op_threads=2, generator_workers=1).sequential_threads() == min(
        2, cores
    )
    assert BenchConfig(Path("m.onnx"), "clip", intra_op_threads=8, generator_workers=8).sequential_threads() == cores
