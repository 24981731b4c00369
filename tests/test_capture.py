"""Sources (webcam through a fake device, real video file, real image folder) and the capture loop."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from fake_camera import FakeCameraDevice

from live.commands.cameras import list_cameras
from live.errors import UsageError
from live.io.sources import ImageFolderSource, SourceConfig, VideoFileSource, open_source
from live.pipeline.capture import CaptureLoop
from live.pipeline.messages import Frame
from live.pipeline.ringbuffer import RingBuffer
from live.pipeline.stats import PipelineStats

DATA = Path(__file__).resolve().parents[1] / "data"
CLIP = DATA / "jwp_office.mp4"


def solid_frames(count: int, first_value: int = 0, size_px: tuple[int, int] = (160, 120)) -> list[np.ndarray]:
    """Frames whose pixel value tells them apart."""
    return [np.full((size_px[1], size_px[0], 3), first_value + index, dtype=np.uint8) for index in range(count)]


def drain(buffer: RingBuffer[Frame]) -> list[Frame]:
    frames = []
    while (frame := buffer.get(0)) is not None:
        frames.append(frame)
    return frames


def test_a_missing_path_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="no such camera index, file or folder"):
        open_source(SourceConfig("/nonexistent/talk.mp4"))


def test_an_unreadable_video_is_a_usage_error(tmp_path: Path) -> None:
    broken = tmp_path / "broken.mp4"
    broken.write_text("not a video")
    with pytest.raises(UsageError, match="cannot read video frames"):
        open_source(SourceConfig(str(broken)))


def test_a_folder_without_images_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("no images here")
    with pytest.raises(UsageError, match="no images"):
        open_source(SourceConfig(str(tmp_path)))


def test_a_camera_that_does_not_open_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="camera 3 does not open"):
        open_source(SourceConfig("3"), FakeCameraDevice([solid_frames(2)], indices=(0,)))


def test_video_file_delivers_every_frame_then_ends() -> None:
    source = open_source(SourceConfig(str(CLIP)))
    assert isinstance(source, VideoFileSource)
    with source:
        assert source.size_px == (352, 288)
        assert source.fps == pytest.approx(30.12, abs=0.1)
        count = 0
        while (image_bgr := source.read()) is not None:
            assert image_bgr.shape == (288, 352, 3)
            count += 1
    assert count == 237
    assert source.read() is None


def test_image_folder_in_name_order_at_the_requested_rate(tmp_path: Path) -> None:
    for name, value in (("b.png", 20), ("a.jpg", 10), ("c.png", 30)):
        cv2.imwrite(str(tmp_path / name), np.full((40, 50, 3), value, dtype=np.uint8))
    (tmp_path / "readme.txt").write_text("ignored")
    source = open_source(SourceConfig(str(tmp_path), fps=12.0))
    assert isinstance(source, ImageFolderSource)
    assert source.fps == 12.0 and source.size_px == (50, 40)
    values = []
    while (image_bgr := source.read()) is not None:
        values.append(int(np.median(image_bgr)))
    assert values == [10, 20, 30]


def test_camera_gets_the_requested_settings_and_reports_the_actual_ones() -> None:
    device = FakeCameraDevice([solid_frames(3, size_px=(640, 480))], fps=25.0)
    with open_source(SourceConfig("0", width_px=1280, height_px=720, fps=60.0), device) as source:
        assert source.live
        assert source.size_px == (640, 480) and source.fps == 25.0
        requested = device.opened[0].requested
        assert requested[cv2.CAP_PROP_FRAME_WIDTH] == 1280 and requested[cv2.CAP_PROP_FRAME_HEIGHT] == 720
        assert requested[cv2.CAP_PROP_FPS] == 60.0
    assert device.opened[0].released


def test_list_cameras_reports_the_ones_that_open() -> None:
    device = FakeCameraDevice(
        [solid_frames(1, size_px=(320, 240)), solid_frames(1, size_px=(640, 480))], indices=(0, 2)
    )
    cameras = list_cameras(4, device)
    assert [(camera.index, camera.size_px) for camera in cameras] == [(0, (320, 240)), (2, (640, 480))]
    assert all(capture.released for capture in device.opened)


def test_lost_camera_is_reopened_with_backoff_and_frames_continue() -> None:
    # first session: 3 frames then read failures; the next open fails; the one after delivers.
    device = FakeCameraDevice([solid_frames(3, 0), None, solid_frames(3, 100)])
    source = open_source(SourceConfig("0"), device)
    frames: RingBuffer[Frame] = RingBuffer("frames", capacity=16)
    stats = PipelineStats("pipeline")
    CaptureLoop(source, frames, threading.Event(), stats, pace=True, max_frames=6).run()
    received = drain(frames)
    assert [frame.index for frame in received] == list(range(6))
    assert [int(frame.image_bgr[0, 0, 0]) for frame in received] == [0, 1, 2, 100, 101, 102]
    assert all(a.t_capture_s < b.t_capture_s for a, b in zip(received, received[1:]))
    report = stats.snapshot()
    assert report.source_failures == 1
    assert report.source_reopens == 2
    assert "reopened" in report.source_status or "stopped after 6 frames" in report.source_status
    assert device.opened[0].released and len(device.opened) == 3


def test_stop_event_interrupts_the_reopen_wait() -> None:
    device = FakeCameraDevice([solid_frames(1)])  # every reopen fails
    source = open_source(SourceConfig("0"), device)
    frames: RingBuffer[Frame] = RingBuffer("frames", capacity=4)
    stop = threading.Event()
    stats = PipelineStats("pipeline")
    thread = threading.Thread(target=CaptureLoop(source, frames, stop, stats, pace=True).run)
    thread.start()
    while stats.snapshot().source_reopens < 1 and thread.is_alive():
        stop.wait(0.05)
    assert "LOST" in stats.snapshot().source_status
    stop.set()
    thread.join(2.0)
    assert not thread.is_alive()


def test_video_is_paced_at_its_frame_rate_unless_pacing_is_off() -> None:
    frame_count = 12

    def capture_seconds(pace: bool) -> float:
        frames: RingBuffer[Frame] = RingBuffer("frames", capacity=frame_count)
        with open_source(SourceConfig(str(CLIP))) as source:
            start_s = time.perf_counter()
            CaptureLoop(
                source, frames, threading.Event(), PipelineStats("pipeline"), pace=pace, max_frames=frame_count
            ).run()
            elapsed_s = time.perf_counter() - start_s
        assert [frame.index for frame in drain(frames)] == list(range(frame_count))
        return elapsed_s

    paced_s = capture_seconds(pace=True)
    unpaced_s = capture_seconds(pace=False)
    clip_duration_s = (frame_count - 1) / 30.12
    assert paced_s >= 0.8 * clip_duration_s
    assert unpaced_s < paced_s
