"""Sources that misbehave: frames that change size mid-stream, a named pipe with no writer yet, a file cut
short. Each run ends normally with every frame it read written, or stops on Ctrl-C."""

from __future__ import annotations

import os
import re
import selectors
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from fake_camera import FakeCameraDevice

from live.cli import main
from live.face.body import BodyFollower
from live.face.expression import FACE_TOP_BOTTOM
from live.io.sources import SourceConfig, open_source
from live.pipeline.capture import CaptureLoop
from live.pipeline.messages import Frame
from live.pipeline.ringbuffer import RingBuffer
from live.pipeline.stats import PipelineStats

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "data"
BODY_CLIP = DATA / "jwp_intro.mp4"  # 640x480, room below the chin: the body is followed
SHORT_CLIP = DATA / "cremad_1001_HAP.flv"  # an FLV whose header gives its frame count


def run_arguments(model: Path, source: Path, output: Path | str) -> list[str]:
    return ["run", "--model", str(model), "--source", str(source), "--output", str(output), "--device", "cpu"]


def frame_counts(summary: str) -> tuple[int, int, int]:
    """(captured, written, dropped) from the final summary."""
    match = re.search(r"(\d+) captured, (\d+) written, (\d+) dropped", summary)
    assert match, summary
    captured, written, dropped = (int(group) for group in match.groups())
    return captured, written, dropped


def read_frames(path: Path, count: int = 0) -> list[np.ndarray]:
    """Every frame OpenCV decodes from `path` (the first `count` when count > 0)."""
    capture = cv2.VideoCapture(str(path))
    frames: list[np.ndarray] = []
    while count <= 0 or len(frames) < count:
        ok, image_bgr = capture.read()
        if not ok:
            break
        frames.append(image_bgr)
    capture.release()
    return frames


# --- frames that change size mid-stream ---


@pytest.mark.parametrize("scale", [0.5, 1.25], ids=["smaller", "larger"])
def test_frames_that_change_size_mid_stream_are_all_written(
    scale: float, tiny_model_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Real frames with the body followed from the start; from frame 10 on they come at another size."""
    folder = tmp_path / "frames"
    folder.mkdir()
    frames = read_frames(BODY_CLIP, 16)
    for index, image_bgr in enumerate(frames):
        if index >= 10:
            image_bgr = cv2.resize(image_bgr, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        cv2.imwrite(str(folder / f"{index:03d}.png"), image_bgr)
    out = tmp_path / "out"
    exit_code = main([*run_arguments(tiny_model_path, folder, f"{out}/"), "--no-pace", "--retarget", "off"])
    captured = capsys.readouterr()
    assert exit_code == 0, captured.err
    assert frame_counts(captured.out) == (len(frames), len(frames), 0)
    assert len(list(out.glob("*.png"))) == len(frames)
    first_height_px, first_width_px = frames[0].shape[:2]
    changed = f"{round(first_width_px * scale)}x{round(first_height_px * scale)}"
    assert f"frame size changed at frame 10 ({changed})" in " ".join(captured.out.split())


def test_a_camera_that_reopens_at_another_size_keeps_its_first_size() -> None:
    """Frames after the reopen (another size and shape) are fitted into the first size, centred, uncropped."""
    first = [np.full((480, 640, 3), 50, dtype=np.uint8) for _ in range(3)]
    after = [np.full((180, 320, 3), 200, dtype=np.uint8) for _ in range(3)]  # 16:9 after 4:3
    source = open_source(SourceConfig("0"), FakeCameraDevice([first, after]))
    frames: RingBuffer[Frame] = RingBuffer("frames", capacity=16)
    stats = PipelineStats("pipeline")
    CaptureLoop(source, frames, threading.Event(), stats, pace=True, max_frames=6).run()
    received = []
    while (frame := frames.get(0)) is not None:
        received.append(frame.image_bgr)
    assert [image.shape for image in received] == [(480, 640, 3)] * 6
    fitted = received[3]
    rows = np.nonzero(fitted[:, 320, 0] == 200)[0]
    assert (rows.min(), rows.max() + 1) == (60, 420)  # 640x360 in the middle: the aspect ratio is kept
    assert (fitted[:, 0, 0] == 200).sum() == (fitted[:, -1, 0] == 200).sum() == 360  # full width: nothing cut off
    notes = " ".join(stats.snapshot().notes)
    assert "frame size changed at frame 3 (320x180)" in notes and "640x480" in notes


def synthetic_face_px(chin_y_px: float, middle_x_px: float, face_px: float) -> np.ndarray:
    """478 landmarks in a face_px square whose chin is at chin_y_px (only the box and chin matter here)."""
    rng = np.random.default_rng(0)
    points = np.zeros((478, 3), dtype=np.float32)
    points[:, 0] = rng.uniform(middle_x_px - face_px / 2, middle_x_px + face_px / 2, 478)
    points[:, 1] = rng.uniform(chin_y_px - face_px, chin_y_px, 478)
    points[FACE_TOP_BOTTOM[0], :2] = (middle_x_px, chin_y_px - face_px)
    points[FACE_TOP_BOTTOM[1], :2] = (middle_x_px, chin_y_px)
    return points


def test_body_following_takes_a_new_reference_when_the_frame_size_changes() -> None:
    """The reference band lay below the new frame's bottom edge."""
    rng = np.random.default_rng(1)
    follower = BodyFollower(lambda image_bgr: np.ones(image_bgr.shape[:2], dtype=np.uint8), target_height_px=400)
    large_bgr = cv2.GaussianBlur(rng.integers(0, 255, (480, 640, 3), dtype=np.uint8), (7, 7), 0)
    large_px = synthetic_face_px(chin_y_px=300.0, middle_x_px=320.0, face_px=120.0)
    assert follower.follow(large_bgr, large_px, large_px, 0.0) == (0.0, 0.0)
    assert follower.follow(large_bgr, large_px, large_px, 0.04) is not None
    small_bgr = cv2.resize(large_bgr, (320, 240), interpolation=cv2.INTER_AREA)
    small_px = large_px / np.float32(2.0)
    assert follower.follow(small_bgr, small_px, small_px, 0.08) == (0.0, 0.0)  # the new frame is the reference
    assert follower.follow(small_bgr, small_px, small_px, 0.12) is not None


# --- a named pipe ---


def live_run_process(model: Path, source: Path, output: Path) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "live", *run_arguments(model, source, output), "--no-pace", "--retarget", "off"]
    return subprocess.Popen(command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for_line(process: subprocess.Popen[str], text: str, timeout_s: float) -> str:
    """The first stderr line containing `text`; fails the test after timeout_s."""
    assert process.stderr is not None
    selector = selectors.DefaultSelector()
    selector.register(process.stderr, selectors.EVENT_READ)
    deadline_s = time.monotonic() + timeout_s
    while (left_s := deadline_s - time.monotonic()) > 0:
        if selector.select(left_s):
            line = process.stderr.readline()
            if text in line or not line:
                return line
    process.kill()
    pytest.fail(f"no {text!r} on stderr within {timeout_s} s: {process.communicate()}")


def test_a_pipe_without_a_writer_says_so_and_ctrl_c_ends_it(tiny_model_path: Path, tmp_path: Path) -> None:
    pipe = tmp_path / "camera.pipe"
    os.mkfifo(pipe)
    process = live_run_process(tiny_model_path, pipe, tmp_path / "out.mp4")
    try:
        line = wait_for_line(process, "waiting for a writer", timeout_s=60)
        assert line.strip() == f"live: waiting for a writer on {pipe} (Ctrl-C stops)"
        process.send_signal(signal.SIGINT)
        signalled_s = time.monotonic()
        _, stderr = process.communicate(timeout=10)
        assert time.monotonic() - signalled_s < 3.0
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 130, stderr
    assert stderr.strip().splitlines()[-1] == "live run: interrupted"


def test_a_writer_that_comes_later_is_read(tiny_model_path: Path, tmp_path: Path) -> None:
    """The run waits; then a short y4m stream (smaller than the pipe's buffer: written and closed at once)."""
    pipe = tmp_path / "camera.pipe"
    os.mkfifo(pipe)
    out = tmp_path / "out.mp4"
    process = live_run_process(tiny_model_path, pipe, out)
    frames = [cv2.resize(image_bgr, (64, 48)) for image_bgr in read_frames(DATA / "jwp_office.mp4", 6)]
    try:
        wait_for_line(process, "waiting for a writer", timeout_s=60)
        with av.open(str(pipe), "w", format="yuv4mpegpipe") as container:
            stream = container.add_stream("rawvideo", rate=25)
            stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
            for image_bgr in frames:
                container.mux(stream.encode(av.VideoFrame.from_ndarray(image_bgr, format="bgr24")))
            container.mux(stream.encode(None))
        stdout, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, stderr
    assert frame_counts(stdout) == (len(frames), len(frames), 0)
    assert len(read_frames(out)) == len(frames)


# --- a file cut short ---


def test_a_file_cut_short_ends_with_one_warning(
    tiny_model_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cut = tmp_path / "cut.flv"
    data = SHORT_CLIP.read_bytes()
    cut.write_bytes(data[: len(data) * 6 // 10])
    whole_count = len(read_frames(SHORT_CLIP))
    readable_count = len(read_frames(cut))
    assert 0 < readable_count < whole_count
    out = tmp_path / "out.mp4"
    exit_code = main([*run_arguments(tiny_model_path, cut, out), "--no-pace", "--retarget", "off"])
    captured = capsys.readouterr()
    assert exit_code == 0, captured.err  # what was read is good and written
    message = f"cut.flv ended early at frame {readable_count} of {whole_count} (the file is probably cut short)"
    assert captured.err.strip().splitlines() == [f"live run: warning: {message}"]
    assert message in " ".join(captured.out.split())
    assert frame_counts(captured.out) == (readable_count, readable_count, 0)
    assert len(read_frames(out)) == readable_count


def test_a_whole_file_gives_no_warning(
    tiny_model_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out.mp4"
    assert main([*run_arguments(tiny_model_path, SHORT_CLIP, out), "--no-pace", "--retarget", "off"]) == 0
    captured = capsys.readouterr()
    assert "ended early" not in captured.out + captured.err
    assert frame_counts(captured.out)[0] == len(read_frames(SHORT_CLIP))
