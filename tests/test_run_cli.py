"""`live run` from the command line: usage errors (exit 2, one line), stage failures (exit 1),
real runs to a file and a window, SIGTERM."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import pytest

from live.cli import main

DATA = Path(__file__).resolve().parents[1] / "data"
CLIP = DATA / "jwp_office.mp4"
REPO = Path(__file__).resolve().parents[1]
TINY_FRAME_SHAPE = cv2.imread(str(DATA / "grace_hopper.jpg")).shape  # the tiny test model's plate (conftest)


def error_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("live run: error:")]


def frame_counts(summary: str) -> tuple[int, int, int]:
    """(captured, written, dropped) from the final summary."""
    match = re.search(r"(\d+) captured, (\d+) written, (\d+) dropped", summary)
    assert match, summary
    captured, written, dropped = (int(group) for group in match.groups())
    return captured, written, dropped


def count_frames(path: Path) -> tuple[int, tuple[int, ...]]:
    capture = cv2.VideoCapture(str(path))
    count, shape = 0, ()
    while True:
        ok, image_bgr = capture.read()
        if not ok:
            break
        count, shape = count + 1, image_bgr.shape
    capture.release()
    return count, shape


@pytest.fixture
def face_folder(clip_frames: Callable[[int, str], Path]) -> Path:
    """Eight real frames of the shipped clip as images."""
    return clip_frames(8, "frames")


@pytest.mark.parametrize(
    "arguments, message",
    [
        (["--model", "{missing}", "--source", str(CLIP), "--output", "{out}"], r"model .*missing\.onnx does not exist"),
        (
            ["--model", "{model}", "--source", "/nonexistent/talk.mp4", "--output", "{out}"],
            r"--source /nonexistent/talk\.mp4: no such camera index, file or folder",
        ),
        (
            ["--model", "{model}", "--source", "{broken}", "--output", "{out}"],
            r"cannot read video frames from this file",
        ),
        (
            ["--model", "{model}", "--source", str(CLIP), "--output", "clip.mkv"],
            r"unknown output 'clip\.mkv': use window, vcam, web, a \.mp4/\.avi/\.webm path",
        ),
        (
            ["--model", "{model}", "--source", str(CLIP), "--output", "{out}", "--vcam-size", "big"],
            r"--vcam-size big: give WIDTHxHEIGHT",
        ),
    ],
    ids=["missing-model", "bad-source", "unreadable-video", "unknown-output", "bad-vcam-size"],
)
def test_usage_errors_exit_2_with_one_line(
    arguments: list[str], message: str, tiny_model_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "broken.mp4"
    broken.write_text("not a video")
    values = {
        "missing": str(tmp_path / "missing.onnx"),
        "model": str(tiny_model_path),
        "out": str(tmp_path / "out.mp4"),
        "broken": str(broken),
    }
    assert main(["run", *(argument.format(**values) for argument in arguments)]) == 2
    errors = capsys.readouterr().err.strip().splitlines()
    assert len(errors) == 1
    assert errors[0].startswith("live run: error: ")
    assert re.search(message, errors[0]), errors[0]


def test_run_to_a_file_prints_the_summary(
    tiny_model_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out.mp4"
    exit_code = main(
        [
            "run",
            "--model",
            str(tiny_model_path),
            "--source",
            str(CLIP),
            "--output",
            str(out),
            "--no-pace",
            "--max-frames",
            "30",
            "--retarget",
            "off",
            "--device",
            "cpu",
        ]
    )
    captured = capsys.readouterr()
    assert exit_code == 0, captured.err
    assert "30 captured, 30 written, 0 dropped" in captured.out
    assert "capture -> output" in captured.out and "ended" in captured.out and "end of input" in captured.out
    assert count_frames(out) == (30, TINY_FRAME_SHAPE)  # the target's own size: the tiny model's plate


def test_a_stage_failing_mid_run_exits_1_naming_it_once(
    face_folder: Path, tiny_model_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for index in range(3, 8):  # most of the folder: one unreadable image would be skipped
        (face_folder / f"{index:03d}.png").write_bytes(b"this is not a png")
    out = tmp_path / "out.mp4"
    exit_code = main(
        [
            "run",
            "--model",
            str(tiny_model_path),
            "--source",
            str(face_folder),
            "--output",
            str(out),
            "--no-pace",
            "--device",
            "cpu",
        ]
    )
    captured = capsys.readouterr()
    assert exit_code == 1
    errors = error_lines(captured.err)
    assert errors == [
        "live run: error: stage 'capture' failed: RuntimeError: 5 of the 8 images in frames cannot be decoded"
        " (003.png, 004.png, 005.png, ...): give a folder of readable images"
    ]
    assert "stage 'capture' failed" in captured.out  # the summary says why it ended
    captured_count, written, dropped = frame_counts(captured.out)
    assert captured_count == 3 and written == 3 and dropped == 0
    assert count_frames(out)[0] == written  # what was rendered before is in a playable file


def test_no_badge_prints_the_disclosure_reminder(
    face_folder: Path, tiny_model_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    exit_code = main(
        [
            "run",
            "--model",
            str(tiny_model_path),
            "--source",
            str(face_folder),
            "--output",
            str(tmp_path / "out.avi"),
            "--no-badge",
            "--no-pace",
        ]
    )
    assert exit_code == 0
    assert "reminder: --no-badge removes the AI badge" in capsys.readouterr().err


@pytest.mark.needs("Xvfb")
def test_window_and_file_end_with_the_input(
    face_folder: Path, tiny_model_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert os.environ.get("DISPLAY"), "pytest-xvfb provides a display"
    out = tmp_path / "out.mp4"
    exit_code = main(
        [
            "run",
            "--model",
            str(tiny_model_path),
            "--source",
            str(face_folder),
            "--fps",
            "10",
            "--output",
            "window",
            "--output",
            str(out),
        ]
    )
    assert exit_code == 0
    captured, written, dropped = frame_counts(capsys.readouterr().out)
    assert captured == 8 and written + dropped == 8 and written >= 1
    assert count_frames(out)[0] == written


@pytest.mark.parametrize(
    "signal_number, reason", [(signal.SIGTERM, "SIGTERM"), (signal.SIGINT, "Ctrl-C")], ids=["sigterm", "ctrl-c"]
)
def test_a_signal_stops_cleanly_with_a_playable_file(
    signal_number: int, reason: str, tiny_model_path: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out.mp4"
    command = [
        sys.executable,
        "-m",
        "live",
        "run",
        "--model",
        str(tiny_model_path),
        "--source",
        str(CLIP),
        "--output",
        str(out),
        "--device",
        "cpu",
    ]
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline_s = time.perf_counter() + 60
        while not (out.exists() and out.stat().st_size > 0) and time.perf_counter() < deadline_s:
            time.sleep(0.2)
        time.sleep(1.0)  # let frames flow for a second
        process.send_signal(signal_number)
        signalled_s = time.perf_counter()
        stdout, stderr = process.communicate(timeout=20)
        exited_s = time.perf_counter()
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, stderr
    assert re.search(rf"ended +{reason}", stdout), stdout
    assert exited_s - signalled_s < 2.0  # threads stop in 1 s; the rest is interpreter exit
    _, written, _ = frame_counts(stdout)
    frames, shape = count_frames(out)
    assert 0 < frames == written < 237 and shape == TINY_FRAME_SHAPE


def test_unwritable_calibration_path_is_refused_before_the_run(tiny_model_path, tmp_path, capsys) -> None:
    from live.cli import main

    clip = Path(__file__).resolve().parents[1] / "data" / "jwp_office.mp4"
    code = main(
        [
            "run",
            "--model",
            str(tiny_model_path),
            "--source",
            str(clip),
            "--output",
            str(tmp_path / "o.mp4"),
            "--calibration",
            str(tmp_path / "missing" / "cal.json"),
        ]
    )
    assert code == 2 and "--calibration" in capsys.readouterr().err
    assert not (tmp_path / "o.mp4").exists(), "refused before anything ran"


@pytest.mark.parametrize("follow", [True, False])
def test_no_head_follow_leaves_the_plate_s_head_alone(
    tiny_model_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], follow: bool
) -> None:
    """The plate's head is moved onto the avatar's by default (its own stage in the timings); not with the flag."""
    arguments = ["run", "--model", str(tiny_model_path), "--source", str(CLIP), "--output", str(tmp_path / "out.mp4")]
    arguments += ["--no-pace", "--max-frames", "10", "--device", "cpu"] + ([] if follow else ["--no-head-follow"])
    assert main(arguments) == 0
    assert ("head_plate" in capsys.readouterr().out) == follow
