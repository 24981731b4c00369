"""Run statistics: per-stage timings (p50/p95), FPS, latency, drops, fallbacks.

`PipelineStats` is the thread-safe recorder every stage writes into;
`snapshot()` returns a frozen `PipelineReport`, the one statistics type shared
by the threaded pipeline, the sequential loop, the dashboard and `live bench`.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Protocol

import numpy as np

STAGE_ORDER = (
    "capture",
    "landmarks",
    "retarget",
    "sketch",
    "head_plate",
    "generator",
    "eye_warp",
    "corner_warp",
    "paste_back",
    "sinks",
)
RECENT_SAMPLE_COUNT = 120
RATE_WINDOW_S = 2.0
# Whole-run percentiles come from a fixed histogram (memory does not grow in an hours-long call):
# log-spaced bins 1% wide from 1 microsecond to 1000 s; p50/p95 are exact to within 1%.
HISTOGRAM_MIN_MS = 1e-3
HISTOGRAM_MAX_MS = 1e6
HISTOGRAM_BIN_RATIO = 1.01
_HISTOGRAM_BINS = math.ceil(math.log(HISTOGRAM_MAX_MS / HISTOGRAM_MIN_MS) / math.log(HISTOGRAM_BIN_RATIO)) + 1


class Event(str, Enum):
    """Events the pipeline counts."""

    RESENT = "resent"
    FACE_LOST = "face_lost"
    HELD = "held"
    NEUTRAL = "neutral"
    SOURCE_FAILURES = "source_failures"
    SOURCE_REOPENS = "source_reopens"


class Status(str, Enum):
    """Status lines the pipeline keeps (the latest value of each)."""

    SOURCE = "source_status"
    PROVIDER = "provider"
    PROVIDER_NOTE = "provider_note"
    RETARGET = "retarget_status"
    END_REASON = "end_reason"


@dataclass(frozen=True, slots=True)
class TimingSummary:
    """Distribution of one duration in milliseconds (zeros when there are no samples)."""

    count: int = 0
    p50_ms: float = 0.0
    p95_ms: float = 0.0
    max_ms: float = 0.0


def summarise(samples_ms: Iterable[float]) -> TimingSummary:
    """count, p50, p95 and max of a list of durations (all zeros for none)."""
    values = np.fromiter(samples_ms, dtype=np.float64)
    if values.size == 0:
        return TimingSummary()
    p50_ms, p95_ms = np.percentile(values, [50, 95])
    return TimingSummary(int(values.size), float(p50_ms), float(p95_ms), float(values.max()))


class TimingWindow:
    """Samples of one duration: the last RECENT_SAMPLE_COUNT for the dashboard, and a fixed-size histogram
    of the whole run for the report (constant memory however long the run)."""

    def __init__(self) -> None:
        self._recent_ms: deque[float] = deque(maxlen=RECENT_SAMPLE_COUNT)
        self._histogram = np.zeros(_HISTOGRAM_BINS, dtype=np.int64)
        self._count = 0
        self._max_ms = 0.0

    def add(self, duration_ms: float) -> None:
        """Record one sample."""
        self._recent_ms.append(duration_ms)
        clamped_ms = min(max(duration_ms, HISTOGRAM_MIN_MS), HISTOGRAM_MAX_MS)
        self._histogram[round(math.log(clamped_ms / HISTOGRAM_MIN_MS) / math.log(HISTOGRAM_BIN_RATIO))] += 1
        self._count += 1
        self._max_ms = max(self._max_ms, duration_ms)

    def summary(self, recent: bool) -> TimingSummary:
        """p50/p95/max of the recent window (count: the whole run's) or of the whole run."""
        if recent:
            return replace(summarise(self._recent_ms), count=self._count)
        if self._count == 0:
            return TimingSummary()
        cumulative = np.cumsum(self._histogram)
        p50_ms, p95_ms = (self._histogram_quantile_ms(cumulative, share) for share in (0.5, 0.95))
        return TimingSummary(self._count, p50_ms, p95_ms, self._max_ms)

    def _histogram_quantile_ms(self, cumulative: np.ndarray, share: float) -> float:
        index = int(np.searchsorted(cumulative, share * self._count))
        return min(HISTOGRAM_MIN_MS * HISTOGRAM_BIN_RATIO**index, self._max_ms)


class RateMeter:
    """Events per second over the last RATE_WINDOW_S and over the whole run."""

    def __init__(self) -> None:
        self._times_s: deque[float] = deque()
        self.count = 0
        self.first_s: float | None = None
        self.last_s: float | None = None

    def tick(self, now_s: float) -> None:
        """Record one event at `now_s` (perf_counter seconds)."""
        self.count += 1
        if self.first_s is None:
            self.first_s = now_s
        self.last_s = now_s
        self._times_s.append(now_s)
        while self._times_s and now_s - self._times_s[0] > RATE_WINDOW_S:
            self._times_s.popleft()

    def recent_rate(self, now_s: float) -> float:
        """Events per second over the last window (0 when fewer than two events)."""
        times = [t for t in self._times_s if now_s - t <= RATE_WINDOW_S]
        if len(times) < 2 or times[-1] <= times[0]:
            return 0.0
        return (len(times) - 1) / (times[-1] - times[0])

    def overall_rate(self) -> float:
        """Events per second between the first and the last event."""
        if self.count < 2 or self.first_s is None or self.last_s is None or self.last_s <= self.first_s:
            return 0.0
        return (self.count - 1) / (self.last_s - self.first_s)


class DropCounter(Protocol):
    """Anything with a name and a drop count (ring buffers)."""

    name: str

    @property
    def dropped_count(self) -> int: ...


@dataclass(frozen=True, slots=True)
class PipelineReport:
    """Everything measured about one run (a snapshot; final when the run is over)."""

    mode: str
    duration_s: float
    frames_captured: int
    frames_written: int
    frames_resent: int
    drops: dict[str, int]
    stage_ms: dict[str, TimingSummary]
    latency_ms: TimingSummary
    input_fps: float
    output_fps: float
    first_output_s: float | None
    face_lost_frames: int
    held_frames: int
    neutral_frames: int
    source_failures: int
    source_reopens: int
    source_status: str
    provider: str
    provider_note: str
    retarget_status: str
    last_index: int
    out_of_order_outputs: int
    end_reason: str
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def dropped_total(self) -> int:
        """Frames dropped in any buffer."""
        return sum(self.drops.values())


class PipelineStats:
    """Thread-safe recorder of one run; every stage writes, the dashboard reads snapshots."""

    def __init__(self, mode: str) -> None:
        self.mode = mode
        self._lock = threading.Lock()
        self._start_s = time.perf_counter()
        self._end_s: float | None = None
        self._timings: dict[str, TimingWindow] = {}
        self._latency = TimingWindow()
        self._input = RateMeter()
        self._output = RateMeter()
        self._counts = dict.fromkeys(Event, 0)
        self._buffers: list[DropCounter] = []
        self._text = dict.fromkeys(Status, "")
        self._text[Status.SOURCE] = "starting"
        self._last_index = -1
        self._out_of_order = 0
        self._notes: list[str] = []

    def watch_buffers(self, buffers: list[DropCounter]) -> None:
        """Report these buffers' drop counts."""
        with self._lock:
            self._buffers.extend(buffers)

    def record_stage(self, stage: str, duration_ms: float) -> None:
        """One timing of a stage (capture, landmarks, retarget, sketch, generator, sinks)."""
        with self._lock:
            self._timings.setdefault(stage, TimingWindow()).add(duration_ms)

    def record_capture(self, now_s: float) -> None:
        """A frame entered the pipeline."""
        with self._lock:
            self._input.tick(now_s)

    def record_output(self, index: int, t_capture_s: float, now_s: float) -> None:
        """A new frame reached every sink: latency is now_s - t_capture_s."""
        with self._lock:
            self._output.tick(now_s)
            self._latency.add((now_s - t_capture_s) * 1000.0)
            if index <= self._last_index:
                self._out_of_order += 1
            self._last_index = index

    def count(self, event: Event) -> None:
        """Count one event."""
        with self._lock:
            self._counts[Event(event)] += 1

    def set_text(self, key: Status, value: str) -> None:
        """Set a status line."""
        with self._lock:
            self._text[Status(key)] = value

    def add_note(self, note: str) -> None:
        """A line for the final summary (e.g. why frames were not dropped)."""
        with self._lock:
            self._notes.append(note)

    def finish(self) -> None:
        """Freeze the run's duration."""
        with self._lock:
            if self._end_s is None:
                self._end_s = time.perf_counter()

    def snapshot(self, recent: bool = False) -> PipelineReport:
        """The statistics so far: recent windows (dashboard) or the whole run (report)."""
        with self._lock:
            now_s = time.perf_counter()
            end_s = self._end_s if self._end_s is not None else now_s
            drops = {buffer.name: buffer.dropped_count for buffer in self._buffers}
            ordered = sorted(
                self._timings, key=lambda name: STAGE_ORDER.index(name) if name in STAGE_ORDER else len(STAGE_ORDER)
            )
            first_output_s = None if self._output.first_s is None else self._output.first_s - self._start_s
            return PipelineReport(
                mode=self.mode,
                duration_s=end_s - self._start_s,
                frames_captured=self._input.count,
                frames_written=self._output.count,
                frames_resent=self._counts[Event.RESENT],
                drops=drops,
                stage_ms={name: self._timings[name].summary(recent) for name in ordered},
                latency_ms=self._latency.summary(recent),
                input_fps=self._input.recent_rate(now_s) if recent else self._input.overall_rate(),
                output_fps=self._output.recent_rate(now_s) if recent else self._output.overall_rate(),
                first_output_s=first_output_s,
                face_lost_frames=self._counts[Event.FACE_LOST],
                held_frames=self._counts[Event.HELD],
                neutral_frames=self._counts[Event.NEUTRAL],
                source_failures=self._counts[Event.SOURCE_FAILURES],
                source_reopens=self._counts[Event.SOURCE_REOPENS],
                source_status=self._text[Status.SOURCE],
                provider=self._text[Status.PROVIDER],
                provider_note=self._text[Status.PROVIDER_NOTE],
                retarget_status=self._text[Status.RETARGET],
                last_index=self._last_index,
                out_of_order_outputs=self._out_of_order,
                end_reason=self._text[Status.END_REASON],
                notes=tuple(self._notes),
            )
