"""Recordings keep what was captured and never claim otherwise (issue 12): a full disk, kill -9,
unreadable frames, the source named as the output, a named pipe as the source, a bad --fps."""

from __future__ import annotations

import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from fake_camera import FakeCameraDevice, Stall

from live.cli import main
from live.io.sinks import open_sink, parse_output
from live.io.sources import SourceConfig, open_source
from live.pipeline.capture import CaptureLoop
from live.pipeline.messages import Frame
from live.pipeline.ringbuffer import RingBuffer
from live.pipeline.stats import PipelineStats

REPO = Path(__file__).resolve().parents[1]
CLIP = REPO / "data" / "jwp_office.mp4"
CLIP_FRAME_COUNT = 237


def solid_frames(count: int, size_px: tuple[int, int] = (160, 120)) -> list[np.ndarray]:
    return [np.full((size_px[1], size_px[0], 3), index, dtype=np.uint8) for index in range(count)]


def decoded_frames(path: Path) -> list[np.ndarray]:
    """Every frame a player gets from the file, up to the first undecodable data (a cut-off tail)."""
    frames: list[np.ndarray] = []
    try:
        with av.open(str(path)) as container:
            for frame in container.decode(video=0):
                frames.append(frame.to_ndarray(format="bgr24"))
    except av.FFmpegError:
        pass  # a player stops there too
    return frames


def frame_counts(summary: str) -> tuple[int, int, int]:
    """(captured, written, dropped) from the final summary."""
    match = re.search(r"(\d+) captured, (\d+) written, (\d+) dropped", summary)
    assert match, summary
    captured, written, dropped = (int(group) for group in match.groups())
    return captured, written, dropped


def run_arguments(model: Path, source: Path | str, *outputs: Path | str) -> list[str]:
    arguments = ["run", "--model", str(model), "--source", str(source), "--device", "cpu", "--retarget", "off"]
    for output in outputs:
        arguments += ["--output", str(output)]
    return arguments


def test_mp4_is_fragmented_h264_of_even_size(tmp_path: Path) -> None:
    path = tmp_path / "avatar.mp4"
    frames = [np.full((47, 63, 3), value, dtype=np.uint8) for value in range(0, 250, 5)]
    with open_sink(parse_output(str(path), fps=25.0, badge=False), (63, 47)) as sink:
        for frame in frames:
            sink.write(frame)
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.name, stream.codec_context.pix_fmt) == ("h264", "yuv420p")
        assert (stream.codec_context.width, stream.codec_context.height) == (64, 48)
    data = path.read_bytes()
    assert data[4:8] == b"ftyp" and data.index(b"moov") < data.index(b"moof")  # header first, then fragments
    assert data.count(b"moof") >= 2  # a fragment per keyframe: 50 frames at 25 fps
    decoded = decoded_frames(path)
    assert len(decoded) == len(frames)
    assert [abs(int(image[20, 30, 1]) - int(frame[20, 30, 1])) <= 3 for image, frame in zip(decoded, frames)] == [
        True
    ] * len(frames)


@pytest.mark.parametrize("suffix", [".mp4", ".avi"])
def test_kill_9_keeps_the_recording_up_to_its_last_second(tiny_model_path: Path, tmp_path: Path, suffix: str) -> None:
    """A paced run writes the file and, as a witness, every frame as a PNG; kill -9 partway."""
    out, witness = tmp_path / f"out{suffix}", tmp_path / "frames"
    command = [sys.executable, "-m", "live", *run_arguments(tiny_model_path, CLIP, out, f"{witness}/")]
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    fps = 30
    try:
        deadline_s = time.monotonic() + 120
        while len(list(witness.glob("*.png"))) < 2 * fps + 5 and process.poll() is None:
            assert time.monotonic() < deadline_s, "the run did not write 65 frames"
            time.sleep(0.05)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == -signal.SIGKILL, process.stderr.read() if process.stderr else ""
    shown = sorted(witness.glob("*.png"))
    decoded = decoded_frames(out)
    assert len(shown) - fps - 1 <= len(decoded) <= len(shown) < CLIP_FRAME_COUNT
    for index in (0, min(len(decoded), len(shown) - 1) - 1):  # the file's frames are the ones shown (the last
        # PNG may be cut short by the kill)
        expected = cv2.imread(str(shown[index])).astype(np.int16)
        assert np.abs(decoded[index].astype(np.int16) - expected).mean() < 6


def check_write_failure(out: Path, exit_code: int, stdout: str, stderr: str, reason: str) -> None:
    """Exit 1, one error line naming the file and the cause, and no more frames claimed than the file holds."""
    assert exit_code == 1, stderr
    errors = [line for line in stderr.splitlines() if "error" in line]
    assert len(errors) == 1, stderr
    assert errors[0].startswith(f"live run: error: cannot write {out}: {reason}"), errors[0]
    captured, written, _ = frame_counts(stdout)
    assert written < captured <= CLIP_FRAME_COUNT
    assert written <= len(decoded_frames(out))
    assert re.search(rf"holds only the first {written} frames", stdout.replace("\n", " ")), stdout


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 1 MiB tmpfs with 24 KiB free (needs root, as in CI's container); skipped where mount is refused."""
    mount_point = tmp_path / "small"
    mount_point.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount_point)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({mounted.stderr.decode().strip()}); the RLIMIT_FSIZE test covers it")
    try:
        (mount_point / "filler").write_bytes(b"\0" * (1024 - 24) * 1024)
        yield mount_point
    finally:
        subprocess.run(["umount", str(mount_point)], check=True)


@pytest.mark.parametrize("suffix", [".mp4", ".avi"])
def test_a_full_disk_fails_the_run_with_one_line(
    tiny_model_path: Path, small_disk: Path, suffix: str, capsys: pytest.CaptureFixture[str]
) -> None:
    out = small_disk / f"out{suffix}"
    exit_code = main([*run_arguments(tiny_model_path, CLIP, out), "--no-pace"])
    captured = capsys.readouterr()
    check_write_failure(out, exit_code, captured.out, captured.err, "No space left on device")


def test_a_failing_write_fails_the_run_with_one_line(tiny_model_path: Path, tmp_path: Path) -> None:
    """Without root: the kernel refuses writes past a file size limit (EFBIG), through the same writer."""
    out = tmp_path / "out.mp4"

    def limit_file_size() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (24 * 1024, resource.RLIM_INFINITY))

    command = [sys.executable, "-m", "live", *run_arguments(tiny_model_path, CLIP, out), "--no-pace"]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, preexec_fn=limit_file_size, timeout=300)
    check_write_failure(out, done.returncode, done.stdout, done.stderr, os.strerror(27))


@pytest.mark.parametrize("form", ["same", "dot-relative", "symlink", "hard-link", "folder"])
def test_the_source_is_never_the_output(
    form: str, tiny_model_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.chdir(tmp_path)
    source = tmp_path / "a.mp4"
    shutil.copy(CLIP, source)
    if form == "folder":
        source = tmp_path / "frames"
        source.mkdir()
        cv2.imwrite(str(source / "000.jpg"), np.zeros((64, 64, 3), dtype=np.uint8))
    outputs = {
        "same": str(source),
        "dot-relative": "./a.mp4",
        "symlink": str(tmp_path / "link.mp4"),
        "hard-link": str(tmp_path / "hard.mp4"),
        "folder": "./frames/",
    }
    if form == "symlink":
        (tmp_path / "link.mp4").symlink_to(source)
    if form == "hard-link":
        os.link(source, tmp_path / "hard.mp4")
    before = sorted((path.name, path.read_bytes()) for path in (source.iterdir() if source.is_dir() else [source]))
    assert main(run_arguments(tiny_model_path, source, outputs[form])) == 2
    errors = capsys.readouterr().err.strip().splitlines()
    assert len(errors) == 1 and "is the --source" in errors[0] and "name another file" in errors[0], errors
    after = sorted((path.name, path.read_bytes()) for path in (source.iterdir() if source.is_dir() else [source]))
    assert after == before


@pytest.fixture
def clip_folder(clip_frames: Callable[[int, str], Path]) -> Path:
    """The first 60 frames of the shipped clip as PNGs."""
    return clip_frames(60, "clip")


def test_an_unreadable_image_is_skipped_with_one_warning(
    clip_folder: Path, tiny_model_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (clip_folder / "013.png").write_bytes(b"not a png")
    out = tmp_path / "out.mp4"
    assert main([*run_arguments(tiny_model_path, clip_folder, out), "--no-pace"]) == 0
    captured = capsys.readouterr()
    assert captured.err.strip().splitlines() == ["live run: warning: skipped 1 unreadable frame(s): 013.png"]
    assert "skipped 1 unreadable frame of clip (013.png)" in captured.out
    assert frame_counts(captured.out) == (59, 59, 0)
    assert len(decoded_frames(out)) == 59


def test_a_folder_of_mostly_unreadable_images_fails_after_writing_every_captured_frame(
    clip_folder: Path, tiny_model_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for index in range(20, 60):
        (clip_folder / f"{index:03d}.png").write_bytes(b"not a png")
    out = tmp_path / "out.mp4"
    assert main([*run_arguments(tiny_model_path, clip_folder, out), "--no-pace"]) == 1
    captured = capsys.readouterr()
    errors = captured.err.strip().splitlines()
    assert errors == [
        "live run: error: stage 'capture' failed: RuntimeError: 31 of the 60 images in clip cannot be decoded"
        " (020.png, 021.png, 022.png, ...): give a folder of readable images"
    ]
    assert re.search(r"ended +stage 'capture' failed", captured.out), captured.out
    assert frame_counts(captured.out) == (20, 20, 0)  # nothing in flight was lost
    assert len(decoded_frames(out)) == 20


FEEDER = """
import sys, av, cv2
pipe, stream_format, clip, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
with av.open(pipe, "w", format=stream_format) as container:
    stream = container.add_stream("rawvideo" if stream_format == "yuv4mpegpipe" else "mjpeg", rate=25)
    stream.width, stream.height = 352, 288
    stream.pix_fmt = "yuv420p" if stream_format == "yuv4mpegpipe" else "yuvj420p"
    capture = cv2.VideoCapture(clip)
    for _ in range(count):
        container.mux(stream.encode(av.VideoFrame.from_ndarray(capture.read()[1], format="bgr24")))
    container.mux(stream.encode(None))
"""


@pytest.mark.parametrize("stream_format", ["yuv4mpegpipe", "mjpeg"])
def test_a_named_pipe_is_read_as_a_video_stream(
    stream_format: str, tiny_model_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Another process streams into a FIFO, as `ffmpeg -i CAMERA -f yuv4mpegpipe PIPE` would."""
    pipe = tmp_path / "camera.pipe"
    os.mkfifo(pipe)
    frame_count = 24
    feeder = subprocess.Popen([sys.executable, "-c", FEEDER, str(pipe), stream_format, str(CLIP), str(frame_count)])
    out = tmp_path / "out.mp4"
    try:
        exit_code = main([*run_arguments(tiny_model_path, pipe, out), "--no-pace"])
    finally:
        try:
            feeder.wait(timeout=30)
        except subprocess.TimeoutExpired:  # the run never read the pipe
            feeder.kill()
            feeder.wait()
    captured = capsys.readouterr()
    assert exit_code == 0, captured.err
    assert feeder.returncode == 0
    assert frame_counts(captured.out) == (frame_count, frame_count, 0)
    assert len(decoded_frames(out)) == frame_count


@pytest.mark.parametrize("fps", ["-5", "1e9", "0.001", "nan"])
def test_a_bad_fps_is_a_usage_error(fps: str, tiny_model_path: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "out.mp4"
    assert main([*run_arguments(tiny_model_path, CLIP, out), "--fps", fps]) == 2
    errors = capsys.readouterr().err.strip().splitlines()
    assert len(errors) == 1 and errors[0].startswith(f"live run: error: --fps {float(fps):g}: give a frame rate")
    assert not out.exists()


def test_a_stalled_camera_is_shown_with_how_long_it_has_stalled() -> None:
    """The device stays open but read() delivers nothing: the dashboard's source line says so, with the wait."""
    stall = Stall()
    device = FakeCameraDevice([[*solid_frames(2), stall, *solid_frames(2)]])
    source = open_source(SourceConfig("0"), device)
    frames: RingBuffer[Frame] = RingBuffer("frames", capacity=8)
    stats = PipelineStats("pipeline")
    stop = threading.Event()
    loop = CaptureLoop(source, frames, stop, stats, pace=True, max_frames=4, stall_after_s=0.2)
    thread = threading.Thread(target=loop.run)
    thread.start()
    try:
        assert stall.started.wait(30)
        deadline_s = time.monotonic() + 30
        while "STALLED" not in stats.snapshot(recent=True).source_status:
            assert time.monotonic() < deadline_s, stats.snapshot(recent=True).source_status
            time.sleep(0.05)
        status = stats.snapshot(recent=True).source_status
        assert re.fullmatch(r"camera 0 STALLED: no frame for (\d+\.\d) s \(device open, waiting\)", status), status
        assert float(status.split("for ")[1].split(" s")[0]) >= 0.2
        assert stats.snapshot().source_failures == 0  # nothing failed: the camera just went quiet
    finally:
        stall.release.set()
        thread.join(10)
    report = stats.snapshot()
    assert report.frames_captured == 4
    assert re.search(r"camera 0 stalled once \(longest \d+\.\d s\)", " ".join(report.notes)), report.notes
