"""The capture thread: read a source, pace recordings, stamp frames, reopen a failing camera."""

from __future__ import annotations

import threading
import time

from live.io.sources import REOPEN_FIRST_DELAY_S, REOPEN_MAX_DELAY_S, Source, describe_source, media_time_s
from live.pipeline.messages import Frame
from live.pipeline.ringbuffer import RingBuffer
from live.pipeline.stats import PipelineStats


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
    ) -> None:
        self.source = source
        self.frames = frames
        self.stop = stop
        self.stats = stats
        self.pace_fps = source.fps if pace and not source.live else 0.0
        self.max_frames = max_frames

    def run(self) -> None:
        """Capture until the end of input, max_frames, or the stop event."""
        self.stats.set_text("source_status", describe_source(self.source))
        index = 0
        start_s: float | None = None
        while not self.stop.is_set() and (self.max_frames <= 0 or index < self.max_frames):
            read_start_s = time.perf_counter()
            image_bgr = self.source.read()
            read_ms = (time.perf_counter() - read_start_s) * 1000.0
            if image_bgr is None:
                if not self.source.live:
                    self.stats.set_text("source_status", f"{self.source.name}: end of input")
                    return
                self._recover()
                continue
            start_s = read_start_s if start_s is None else start_s
            if self.pace_fps and self.stop.wait(max(0.0, start_s + index / self.pace_fps - time.perf_counter())):
                return
            t_capture_s = time.perf_counter()
            self.stats.record_stage("capture", read_ms)
            self.stats.record_capture(t_capture_s)
            self.frames.put(Frame(index, t_capture_s, image_bgr, media_time_s(self.source, index)))
            index += 1
        if index >= self.max_frames > 0:
            self.stats.set_text("source_status", f"{self.source.name}: stopped after {index} frames")

    def _recover(self) -> None:
        """The camera failed: reopen with doubling delays (waiting on the stop event) until it works."""
        self.stats.count("source_failures")
        delay_s = REOPEN_FIRST_DELAY_S
        attempt = 1
        while not self.stop.is_set():
            self.stats.set_text(
                "source_status", f"{self.source.name} LOST: reopening in {delay_s:.1f} s (attempt {attempt})"
            )
            if self.stop.wait(delay_s):
                return
            self.stats.count("source_reopens")
            if self.source.reopen():
                self.stats.set_text("source_status", f"{describe_source(self.source)} (reopened)")
                return
            delay_s = min(delay_s * 2.0, REOPEN_MAX_DELAY_S)
            attempt += 1
