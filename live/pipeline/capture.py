"""The capture thread: read a source, pace recordings, stamp frames, reopen a failing camera,
report a stalled one, and skip frames that cannot be decoded.

A source that fails for good (e.g. most of a folder cannot be decoded) does not stop the run at
once: the failure goes to the run's FailureSlot and capture ends like the end of input, so every
frame captured before it still reaches the outputs (lossless runs lose nothing).
"""

from __future__ import annotations

import threading
import time

from live.io.sources import REOPEN_FIRST_DELAY_S, REOPEN_MAX_DELAY_S, Source, describe_source, media_time_s
from live.pipeline.messages import Frame
from live.pipeline.ringbuffer import RingBuffer
from live.pipeline.stats import Event, PipelineStats, Status
from live.pipeline.threads import FailureSlot

STALL_AFTER_S = 1.0  # a camera read taking longer than this is shown as a stall
STALL_CHECK_INTERVAL_S = 0.25


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
            self._note_skipped()

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

    def _note_skipped(self) -> None:
        """One line in the summary for the frames that could not be decoded."""
        skipped = self.source.skipped
        if skipped:
            names = ", ".join(skipped[:3]) + (", ..." if len(skipped) > 3 else "")
            frames = "frame" if len(skipped) == 1 else "frames"
            self.stats.add_note(f"skipped {len(skipped)} unreadable {frames} of {self.source.name} ({names})")

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
