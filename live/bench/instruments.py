"""The input and output of `live bench` runs: a looped clip, and a virtual camera whose device
discards frames while the sink notes the first write, CPU time and RSS.

Real use is a virtual camera, so the sink is the real live.io.sinks.VirtualCameraSink (1280x720 canvas,
avatar scaled and badged); only the device is replaced, by a pyvirtualcam backend that converts each
frame to I420 (the work the v4l2loopback backend does) and drops it.
"""

from __future__ import annotations

import os
import sys
import time

import cv2
import numpy as np

from live.closing import Closing
from live.io.sinks import VirtualCameraSink, parse_output
from live.io.sources import Source, SourceConfig, open_source

RSS_SAMPLE_EVERY = 15
DISCARD_BACKEND = "live-bench-discard"


class LoopingSource(Closing):
    """The bench's input: a video file or image folder played again from its start until `duration_s`
    after the first read. `fps` is the rate a paced run delivers it at (0: the file's own)."""

    live = False

    def __init__(self, text: str, duration_s: float, fps: float = 0.0) -> None:
        self._text = text
        self._inner: Source | None = open_source(SourceConfig(text))
        self.name = f"{self._inner.name} (looped)"
        self.size_px = self._inner.size_px
        self.fps = fps or self._inner.fps
        self._duration_s = duration_s
        self._deadline_s: float | None = None
        self.skipped: list[str] = []  # frames that could not be decoded (the bench's clip has none)

    def read(self) -> np.ndarray | None:
        """The next frame (the first again after the last), or None once the time is up."""
        now_s = time.perf_counter()
        self._deadline_s = self._deadline_s or now_s + self._duration_s
        if self._inner is None or now_s >= self._deadline_s:
            return None
        image_bgr = self._inner.read()
        if image_bgr is None:
            self._inner.close()
            self._inner = open_source(SourceConfig(self._text))
            image_bgr = self._inner.read()
        return image_bgr

    def reopen(self) -> bool:
        """Not a camera: never reopened."""
        return False

    def close(self) -> None:
        """Release the decoder; idempotent."""
        if self._inner is not None:
            self._inner.close()
            self._inner = None


class DiscardingCamera:
    """A pyvirtualcam backend standing in for the device: converts each BGR frame to I420 (the work the
    v4l2loopback backend does) and drops it."""

    def __init__(
        self, *, width: int, height: int, fps: float, fourcc: int, device: str | None, **options: object
    ) -> None:
        self._shape = (height, width, 3)
        self._i420 = np.empty((height * 3 // 2, width), dtype=np.uint8)
        self._device = device or "bench (frames discarded)"

    def send(self, frame: np.ndarray) -> None:
        cv2.cvtColor(frame.reshape(self._shape), cv2.COLOR_BGR2YUV_I420, dst=self._i420)

    def device(self) -> str:
        return self._device

    def native_fourcc(self) -> int | None:
        return None

    def close(self) -> None:
        """Nothing to release."""


def process_cpu_s() -> float:
    """User + system CPU seconds of this process, all threads."""
    times = os.times()
    return times.user + times.system


class MeasuringSink(Closing):
    """The bench's virtual camera, noting the first write, CPU time between first and last write, and RSS."""

    def __init__(self, frame_size_px: tuple[int, int], fps: float) -> None:
        import pyvirtualcam

        pyvirtualcam.register_backend(DISCARD_BACKEND, DiscardingCamera)
        self._camera = VirtualCameraSink(parse_output("vcam", fps=fps, vcam_backend=DISCARD_BACKEND), frame_size_px)
        self.name = self._camera.name
        self.first_write: tuple[float, float] | None = None  # (perf_counter, process CPU seconds)
        self.first_write_wall_s: float | None = None  # time.time() of the first write
        self.last_write: tuple[float, float] | None = None
        self.rss_max_bytes: int | None = None
        self._writes = 0
        self._process = _psutil_process()

    def write(self, image_bgr: np.ndarray) -> None:
        """Send to the virtual camera, then note wall and CPU time (and RSS every RSS_SAMPLE_EVERY writes)."""
        self._camera.write(image_bgr)
        self.last_write = (time.perf_counter(), process_cpu_s())
        if self.first_write is None:
            self.first_write, self.first_write_wall_s = self.last_write, time.time()
        if self._process is not None and self._writes % RSS_SAMPLE_EVERY == 0:
            self.rss_max_bytes = max(self.rss_max_bytes or 0, self._process.memory_info().rss)
        self._writes += 1

    def cpu_percent(self) -> float | None:
        """Process CPU time over wall time between the first and last write, in % of one core."""
        if self.first_write is None or self.last_write is None or self.last_write[0] <= self.first_write[0]:
            return None
        return 100.0 * (self.last_write[1] - self.first_write[1]) / (self.last_write[0] - self.first_write[0])

    def close(self) -> None:
        """Close the virtual camera; idempotent."""
        self._camera.close()


def _psutil_process() -> object | None:
    try:
        import psutil
    except ImportError:  # listed in pyproject; without it the RSS during the run is reported as null
        return None
    return psutil.Process()


def reset_peak_rss() -> bool:
    """Restart Linux's RSS high-water mark (/proc/self/clear_refs 5), so peak_rss_mb() then gives the peak
    since now; False where that is not possible (the peak stays the process-lifetime one)."""
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
    except OSError:
        return False
    return True


def peak_rss_mb() -> float | None:
    """The process's peak RSS in MiB (ru_maxrss), or None where the resource module does not exist (Windows)."""
    try:
        import resource
    except ImportError:
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024.0  # bytes on macOS, KiB on Linux


PASTE_BACK_FRAME_SIZE_PX = (1280, 720)


def paste_back_call(stages, sketches_bgr: list[np.ndarray], frame_size_px: tuple[int, int] = PASTE_BACK_FRAME_SIZE_PX):
    """A call(index) that pastes generated head crops into the target's plate scaled to frame_size_px, at the
    usual crop scaled alike (the paste-back stage as a 1280x720 target would need it)."""
    from live.face.alignment import transform_from_parameters, transform_parameters
    from live.pipeline.paste_back import PasteBack

    card, session = stages.card, stages.session
    width_px, height_px = card.plate_size_px
    scale_x, scale_y = frame_size_px[0] / width_px, frame_size_px[1] / height_px
    plate_bgr = cv2.resize(session.plate_bgr, frame_size_px, interpolation=cv2.INTER_LINEAR)
    centre_x, centre_y, side_px, angle = transform_parameters(session.neutral_transform, card.size_px)
    transform = transform_from_parameters(
        np.array([centre_x * scale_x, centre_y * scale_y, side_px * scale_y, angle]), card.size_px
    )
    paste_back = PasteBack(plate_bgr, card.size_px)
    plate_crop_bgr = paste_back.plate_crop(transform)
    crops_bgr = [session.generate(sketch, plate_bgr=plate_crop_bgr) for sketch in sketches_bgr[:8]]
    output_bgr = np.empty_like(plate_bgr)

    def paste(index: int) -> None:
        paste_back.paste(crops_bgr[index % len(crops_bgr)], plate_crop_bgr, transform, output_bgr)

    return paste
