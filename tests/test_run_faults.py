"""`live run` never destroys a file it was not able to record into, never lets two of its paths name one file,
prints user paths literally, and warns when pacing dropped frames from a recording (issue 27)."""

from __future__ import annotations

import dataclasses
import re
import shutil
import socket
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import av
import numpy as np
import pytest
import pyvirtualcam

from live.bench.instruments import DISCARD_BACKEND
from live.cli import main
from live.face.alignment import ALIGNMENT_INDICES
from live.formats.card_file import update_card_data
from live.io.sinks import open_sink, parse_output
from live.pipeline.stats import PipelineReport, PipelineStats

EARLIER_RECORDING = b"an earlier recording that must survive\n" * 64


@pytest.fixture
def frames(clip_frames: Callable[[int, str], Path]) -> Path:
    return clip_frames(6, "frames")


def run_arguments(model: Path, source: Path | str, *extra: str) -> list[str]:
    return ["run", "--model", str(model), "--source", str(source), "--device", "cpu", "--retarget", "off", *extra]


def decoded_count(path: Path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A TCP port on 127.0.0.1 that another socket listens on."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield listener.getsockname()[1]


@pytest.fixture(autouse=True)
def _real_virtual_camera_backends(monkeypatch: pytest.MonkeyPatch) -> None:
    """pyvirtualcam's own backends only: `live bench` (run in this process by another test) registers one that
    discards frames, and with it a virtual camera would open here."""
    backends = {name: backend for name, backend in pyvirtualcam.camera.BACKENDS.items() if name != DISCARD_BACKEND}
    monkeypatch.setattr(pyvirtualcam.camera, "BACKENDS", backends)


@pytest.fixture
def other_template_model(tiny_model_path: Path, tmp_path: Path) -> Path:
    """The tiny model, its card's head template aligned on the same points listed in another order: a face still
    (the card's own geometry checks pass), but not the landmark list this version aligns on."""
    model = tmp_path / "other_template.onnx"
    shutil.copy(tiny_model_path, model)

    def reorder(data: dict) -> None:
        template = data["template"]
        template.update(landmark_indices=template["landmark_indices"][::-1], points_unit=template["points_unit"][::-1])
        assert template["landmark_indices"] != list(ALIGNMENT_INDICES)

    update_card_data(model, reorder)
    return model


USAGE_ERRORS = {  # the case -> (the outputs after the file, the start of the one error line)
    "no virtual camera": (["--output", "vcam", "--vcam-device", "/nonexistent/video99"], "no virtual camera"),
    "bad --web-port": (["--output", "web", "--web-port", "70000"], "--web-port 70000"),
    "port in use": (["--output", "web", "--web-port", "{port}"], "--web-host 127.0.0.1 --web-port {port}"),
    "no display": (["--output", "window"], "no display"),
    "model template": ([], "the model's head template"),
}


@pytest.mark.parametrize("case", USAGE_ERRORS)
@pytest.mark.parametrize("suffix", [".avi", ".mp4"])
def test_a_usage_error_leaves_an_existing_output_file_as_it_was(
    case: str,
    suffix: str,
    frames: Path,
    tiny_model_path: Path,
    other_template_model: Path,
    busy_port: int,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    if case == "no display" and not sys.platform.startswith("linux"):
        pytest.skip("the display is probed on Linux only")
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    keep = tmp_path / f"keep{suffix}"
    keep.write_bytes(EARLIER_RECORDING)
    outputs, error_start = USAGE_ERRORS[case]
    model = other_template_model if case == "model template" else tiny_model_path
    arguments = [text.format(port=busy_port) for text in ["--output", str(keep), *outputs]]
    assert main(run_arguments(model, frames, *arguments)) == 2
    errors = capsys.readouterr().err.strip().splitlines()
    assert len(errors) == 1 and errors[0].startswith(f"live run: error: {error_start.format(port=busy_port)}"), errors
    assert keep.read_bytes() == EARLIER_RECORDING
    assert sorted(path.name for path in tmp_path.iterdir() if path.name.startswith("keep")) == [keep.name]


@pytest.mark.parametrize("suffix", [".avi", ".mp4"])
def test_a_recording_replaces_the_file_only_once_it_holds_a_frame(suffix: str, tmp_path: Path) -> None:
    """Written beside the file (NAME.partial) and renamed over it at the first saved frame (for .mp4, the
    first whole fragment), so an existing file survives a run that ends before; a run with no frame leaves it."""
    keep = tmp_path / f"keep{suffix}"
    keep.write_bytes(EARLIER_RECORDING)
    config = parse_output(str(keep), fps=10.0, badge=False)
    with open_sink(config, (64, 48)):
        pass
    assert keep.read_bytes() == EARLIER_RECORDING and sorted(tmp_path.iterdir()) == [keep]
    partial = tmp_path / f"keep{suffix}.partial"
    sink = open_sink(config, (64, 48))
    sink.write(np.full((48, 64, 3), 100, dtype=np.uint8))
    if suffix == ".mp4":  # the first fragment is whole at the second keyframe (one a second: the 11th frame)
        assert keep.read_bytes() == EARLIER_RECORDING and partial.exists()
        for _ in range(10):
            sink.write(np.full((48, 64, 3), 100, dtype=np.uint8))
    assert not partial.exists() and keep.read_bytes() != EARLIER_RECORDING  # now it holds frames
    sink.close()
    assert decoded_count(keep) == sink.frames_saved > 0
    assert sorted(tmp_path.iterdir()) == [keep]


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["--output", "out.avi", "--calibration", "out.avi"], "--calibration out.avi is the same file as --output"),
        (["--output", "out.avi", "--calibration", "./out.avi"], "--calibration out.avi is the same file as --output"),
        (["--output", "out.avi", "--calibration", "link.json"], "--calibration link.json is the same file as --output"),
        (["--output", "out.avi", "--output", "./out.avi"], "--output out.avi is the same file as --output out.avi"),
        (["--output", "out.avi", "--output", "hard.avi"], "--output hard.avi is the same file as --output out.avi"),
        (["--output", "out/", "--output", "out/"], "--output out is the same file as --output out"),
    ],
)
def test_two_of_the_run_paths_naming_one_file_are_refused(
    arguments: list[str],
    message: str,
    frames: Path,
    tiny_model_path: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "out.avi").write_bytes(EARLIER_RECORDING)
    (tmp_path / "link.json").symlink_to(tmp_path / "out.avi")
    (tmp_path / "hard.avi").hardlink_to(tmp_path / "out.avi")
    assert main(run_arguments(tiny_model_path, frames, "--no-pace", *arguments)) == 2
    errors = capsys.readouterr().err.strip().splitlines()
    assert len(errors) == 1 and errors[0].startswith(f"live run: error: {message}"), errors
    assert errors[0].endswith("name another file")
    assert (tmp_path / "out.avi").read_bytes() == EARLIER_RECORDING
    assert not (tmp_path / "out").exists()


def test_the_calibration_is_never_the_source(
    frames: Path, tiny_model_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    first_frame = frames / "000.png"
    before = first_frame.read_bytes()
    arguments = run_arguments(tiny_model_path, first_frame, "--retarget", "full", "--calibration", str(first_frame))
    assert main([*arguments, "--output", str(frames.parent / "out.avi")]) == 2
    assert "is the --source" in capsys.readouterr().err
    assert first_frame.read_bytes() == before


def test_paths_are_printed_literally_not_as_markup(
    clip_frames: Callable[[int, str], Path],
    tiny_model_path: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`x[/]cal.json` is `]cal.json` in a folder `x[`; the second run loads it and says so in the summary."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "200")  # the summary's lines unwrapped
    clip_frames(45, "c[bold]")
    (tmp_path / "x[").mkdir()
    arguments = run_arguments(tiny_model_path, "c[bold]", "--retarget", "full", "--calibration", "x[/]cal.json")
    for number in (1, 2):
        assert main([*arguments, "--no-pace", "--output", f"o[bold]ut{number}.avi"]) == 0, capsys.readouterr().err
        summary = capsys.readouterr().out
        assert (tmp_path / "x[" / "]cal.json").is_file()
        assert re.search(r"source +c\[bold\]: ", summary), summary  # not "c" in bold
        assert f"o[bold]ut{number}.avi: 45 frames saved" in summary, summary
    assert "calibrated from x[/]cal.json" in summary, summary


@pytest.mark.parametrize("no_pace", [False, True])
def test_a_paced_recording_that_dropped_frames_warns_once(
    no_pace: bool,
    frames: Path,
    tiny_model_path: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """How many frames a paced run drops depends on the machine: the run's report is given drops."""
    import live.commands.run as run_command

    real_run_pipeline = run_command.run_pipeline

    def dropping(*arguments: object, **keywords: object) -> PipelineReport:
        report = real_run_pipeline(*arguments, **keywords)
        return dataclasses.replace(report, drops={"frames": 2, "sketches": 1})

    monkeypatch.setattr(run_command, "run_pipeline", dropping)
    out = tmp_path / "out.avi"
    no_pace_argument = ["--no-pace"] if no_pace else []
    assert main(run_arguments(tiny_model_path, frames, "--output", str(out), *no_pace_argument)) == 0
    warnings = [line for line in capsys.readouterr().err.splitlines() if "--no-pace" in line]
    expected = (
        f"live run: warning: 3 frame(s) dropped to keep up with the source in real time, so {out} plays faster"
        " than the source; add --no-pace to render every frame"
    )
    assert warnings == ([] if no_pace else [expected])


def test_the_pace_warning_is_for_files_from_files_only(tmp_path: Path) -> None:
    from live.commands.output_checks import pace_warning

    dropped = dataclasses.replace(PipelineStats("pipeline").snapshot(), drops={"frames": 4})
    files = [parse_output(str(tmp_path / "out.avi")), parse_output(f"{tmp_path / 'frames'}/")]
    assert f"{tmp_path / 'frames'}/ play faster" in str(pace_warning(dropped, files, True, "folder"))
    assert pace_warning(dropped, files, paced=True, source_kind="camera") is None  # live anyway
    assert pace_warning(dropped, files, paced=True, source_kind="pipe") is None  # paced by its writer
    assert pace_warning(dropped, [*files, parse_output("vcam")], paced=True, source_kind="video") is None
    assert pace_warning(dataclasses.replace(dropped, drops={"frames": 0}), files, True, "video") is None


def test_drive_eval_prints_the_driver_file_name_literally() -> None:
    from io import StringIO

    from rich.console import Console

    from live.offline.expression import MEASURE_NAMES, drive_table

    report = {
        "driver": "clips/a[bold]b.mp4",
        "correlation": dict.fromkeys(MEASURE_NAMES, 0.5),
        "faces_found": 1.0,
        "jitter_ratio": 1.0,
        "outside_training": 0.0,
    }
    printed = StringIO()
    Console(file=printed, width=300).print(drive_table([report]))
    assert "a[bold]b.mp4" in printed.getvalue()
