"""The capture thread: read a source, pace recordings, stamp frames, reopen a failing camera,
report a stalled one, and skip frames that cannot be decoded.

Every frame leaves capture at the first frame's size: a later frame of another size (a camera reopened
at another resolution, a folder of mixed images) is fitted into it (scaled uniformly, centred, black
borders; `fitted_frame`), so the stages after it, which keep state in frame pixels (the body's reference
band, the driver's neutral), see one frame size. The summary says where the size changed.

A source that fails for good (e.g. most of a folder cannot be decoded) does not stop the run at
once: the failure goes to the run's FailureSlot and capture ends like the end of input, so every
frame captured before it still reaches the outputs (lossless runs lose nothing).
"""

from __future__ import annotations

import threading
import time

import cv2
import numpy as np

from live.io.sources import REOPEN_FIRST_DELAY_S, REOPEN_MAX_DELAY_S, Source, describe_source, media_time_s
from live.pipeline.messages import Frame
from live.pipeline.ringbuffer import RingBuffer
from live.pipeline.stats import Event, PipelineStats, Status
from live.pipeline.threads import FailureSlot

STALL_AFTER_S = 1.0  # a camera read taking longer than this is shown as a stall
STALL_CHECK_INTERVAL_S = 0.25
MAX_NAMED_CHANGES = 3  # frame size changes named in the summary


class StallWatch:
    """Times the read in progress; a daemon thread shows on the dashboard how long a stalled one has waited."""

    def __init__(self, source: Source, stats: PipelineStats, stall_after_s: float) -> None:
        self.source = source
        self.stats = stats
        self.stall_after_s = stall_after_s
        self.stalls = 0
        self.longest_s = 0.0
        self._read_start_s: float | None = None
        self._reported = False
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="live-capture-stall-watch", daemon=True)
        self._thread.start()

    def read_started(self, now_s: float) -> None:
        """A read began."""
        with self._lock:
            self._read_start_s = now_s

    def read_ended(self, now_s: float, delivered: bool) -> None:
        """A read returned; a stall it ended is counted and its length shown."""
        with self._lock:
            start_s, self._read_start_s = self._read_start_s, None
            stalled, self._reported = self._reported, False
        if stalled and start_s is not None:
            length_s = now_s - start_s
            self.stalls += 1
            self.longest_s = max(self.longest_s, length_s)
            outcome = "frames again" if delivered else "the read failed"
            self.stats.set_text(
                Status.SOURCE, f"{describe_source(self.source)} (stalled {length_s:.1f} s, then {outcome})"
            )

    def _watch(self) -> None:
        while not self._done.wait(STALL_CHECK_INTERVAL_S):
            with self._lock:
                start_s = self._read_start_s
                waited_s = 0.0 if start_s is None else time.perf_counter() - start_s
                if waited_s > self.stall_after_s:
                    self._reported = True
                    self.stats.set_text(
                        Status.SOURCE,
                        f"{self.source.name} STALLED: no frame for {waited_s:.1f} s (device open, waiting)",
                    )

    def close(self) -> None:
        """Stop watching; the run's summary gets a note if the source stalled."""
        self._done.set()
        self._thread.join()
        if self.stalls:
            times = "once" if self.stalls == 1 else f"{self.stalls} times"
            self.stats.add_note(f"{self.source.name} stalled {times} (longest {self.longest_s:.1f} s)")


def fitted_frame(image_bgr: np.ndarray, size_px: tuple[int, int]) -> np.ndarray:
    """The image scaled uniformly to fit in size_px (width, height), centred on a black frame of that size."""
    width_px, height_px = size_px
    scale = min(width_px / image_bgr.shape[1], height_px / image_bgr.shape[0])
    fit_width_px = min(width_px, max(1, round(image_bgr.shape[1] * scale)))
    fit_height_px = min(height_px, max(1, round(image_bgr.shape[0] * scale)))
    interpolation = cv2.INTER_AREA if scale < 1.0 else cv2.INTER_LINEAR
    resized_bgr = cv2.resize(image_bgr, (fit_width_px, fit_height_px), interpolation=interpolation)
    fitted_bgr = np.zeros((height_px, width_px, 3), dtype=image_bgr.dtype)
    x0, y0 = (width_px - fit_width_px) // 2, (height_px - fit_height_px) // 2
    fitted_bgr[y0 : y0 + fit_height_px, x0 : x0 + fit_width_px] = resized_bgr
    return fitted_bgr


class SizeKeeper:
    """Frames at the first one's size (`fitted_frame`); `note()`: where the size changed, for the summary."""

    def __init__(self) -> None:
        self.size_px: tuple[int, int] | None = None
        self.fitted = 0
        self.changes: list[str] = []  # "frame N (WxH)", the first MAX_NAMED_CHANGES
        self.change_count = 0
        self._last_size_px: tuple[int, int] | None = None

    def keep(self, image_bgr: np.ndarray, index: int) -> np.ndarray:
        """The image, or (when its size differs from the first frame's) the image fitted into that size."""
        size_px = (image_bgr.shape[1], image_bgr.shape[0])
        self.size_px = self.size_px or size_px
        if size_px != self._last_size_px and self._last_size_px is not None:
            self.change_count += 1
            if len(self.changes) < MAX_NAMED_CHANGES:
                self.changes.append(f"frame {index} ({size_px[0]}x{size_px[1]})")
        self._last_size_px = size_px
        if size_px == self.size_px:
            return image_bgr
        self.fitted += 1
        return fitted_frame(image_bgr, self.size_px)

    def note(self) -> str | None:
        """One summary line, or None when every frame had the first one's size."""
        if not self.fitted:
            return None
        width_px, height_px = self.size_px or (0, 0)
        changes = ", ".join(self.changes) + (", ..." if self.change_count > len(self.changes) else "")
        frames = "frame" if self.fitted == 1 else "frames"
        return (
            f"frame size changed at {changes}: {self.fitted} {frames} fitted into the first size {width_px}x{height_px}"
        )


class CaptureLoop:
    """The capture thread's body: read, pace, stamp, push; reopen a failing camera with backoff."""

    def __init__(
        self,
        source: Source,
        frames: RingBuffer[Frame],
        stop: threading.Event,
        stats: PipelineStats,
        pace: bool,
        max_frames: int = 0,
        failures: FailureSlot | None = None,
        stall_after_s: float = STALL_AFTER_S,
    ) -> None:
        self.source = source
        self.frames = frames
        self.stop = stop
        self.stats = stats
        self.pace_fps = source.fps if pace and not source.live else 0.0
        self.max_frames = max_frames
        self.failures = failures
        self.stall_after_s = stall_after_s
        self.sizes = SizeKeeper()

    def run(self) -> None:
        """Capture until the end of input, max_frames, the stop event or a source failure."""
        self.stats.set_text(Status.SOURCE, describe_source(self.source))
        watch = StallWatch(self.source, self.stats, self.stall_after_s)
        try:
            self._capture(watch)
        except Exception as error:  # the source failed for good: what was captured still flows to the outputs
            if self.failures is None:
                raise
            self.stats.set_text(Status.SOURCE, f"{self.source.name}: failed ({error})")
            self.failures.report("capture", error)
        finally:
            watch.close()
            self._note_source()

    def _capture(self, watch: StallWatch) -> None:
        index = 0
        start_s: float | None = None
        while not self.stop.is_set() and (self.max_frames <= 0 or index < self.max_frames):
            read_start_s = time.perf_counter()
            watch.read_started(read_start_s)
            image_bgr = self.source.read()
            watch.read_ended(time.perf_counter(), image_bgr is not None)
            read_ms = (time.perf_counter() - read_start_s) * 1000.0
            if image_bgr is None:
                if not self.source.live:
                    self.stats.set_text(Status.SOURCE, f"{self.source.name}: end of input")
                    return
                self._recover()
                continue
            image_bgr = self.sizes.keep(image_bgr, index)
            start_s = read_start_s if start_s is None else start_s
            if self.pace_fps and self.stop.wait(max(0.0, start_s + index / self.pace_fps - time.perf_counter())):
                return
            t_capture_s = time.perf_counter()
            self.stats.record_stage("capture", read_ms)
            self.stats.record_capture(t_capture_s)
            self.frames.put(Frame(index, t_capture_s, image_bgr, media_time_s(self.source, index)))
            index += 1
        if index >= self.max_frames > 0:
            self.stats.set_text(Status.SOURCE, f"{self.source.name}: stopped after {index} frames")

    def _note_source(self) -> None:
        """Lines in the summary for the frames that could not be decoded, a file that ended before its frame
        count, and frames of another size."""
        skipped = self.source.skipped
        if skipped:
            names = ", ".join(skipped[:3]) + (", ..." if len(skipped) > 3 else "")
            frames = "frame" if len(skipped) == 1 else "frames"
            self.stats.add_note(f"skipped {len(skipped)} unreadable {frames} of {self.source.name} ({names})")
        ended_early = getattr(self.source, "ended_early", None)  # only a file that knows its length says it
        if ended_early:
            self.stats.set_text(Status.SOURCE, ended_early)
        if (size_note := self.sizes.note()) is not None:
            self.stats.add_note(size_note)

    def _recover(self) -> None:
        """The camera failed: reopen with doubling delays (waiting on the stop event) until it works."""
        self.stats.count(Event.SOURCE_FAILURES)
        delay_s = REOPEN_FIRST_DELAY_S
        attempt = 1
        while not self.stop.is_set():
            self.stats.set_text(
                Status.SOURCE, f"{self.source.name} LOST: reopening in {delay_s:.1f} s (attempt {attempt})"
            )
            if self.stop.wait(delay_s):
                return
            self.stats.count(Event.SOURCE_REOPENS)
            if self.source.reopen():
                self.stats.set_text(Status.SOURCE, f"{describe_source(self.source)} (reopened)")
                return
            delay_s = min(delay_s * 2.0, REOPEN_MAX_DELAY_S)
            attempt += 1
