"""Run statistics: per-stage timings (p50/p95), FPS, latency, drops, fallbacks.

`PipelineStats` is the thread-safe recorder every stage writes into;
`snapshot()` returns a frozen `PipelineReport`, the one statistics type shared
by the threaded pipeline, the sequential loop, the dashboard and `live bench`.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

STAGE_ORDER = ("capture", "landmarks", "retarget", "sketch", "generator", "sinks")
RECENT_SAMPLE_COUNT = 120
HISTORY_SAMPLE_COUNT = 100_000
RATE_WINDOW_S = 2.0


@dataclass(frozen=True, slots=True)
class TimingSummary:
    """Distribution of one duration in milliseconds (zeros when there are no samples)."""

    count: int = 0
    p50_ms: float = 0.0
    p95_ms: float = 0.0
    max_ms: float = 0.0


class TimingWindow:
    """Samples of one duration: the recent ones for the dashboard, the whole run for the report."""

    def __init__(self) -> None:
        self._recent_ms: deque[float] = deque(maxlen=RECENT_SAMPLE_COUNT)
        self._history_ms: deque[float] = deque(maxlen=HISTORY_SAMPLE_COUNT)

    def add(self, duration_ms: float) -> None:
        """Record one sample."""
        self._recent_ms.append(duration_ms)
        self._history_ms.append(duration_ms)

    def summary(self, recent: bool) -> TimingSummary:
        """p50/p95/max of the recent window or of the whole run."""
        samples = self._recent_ms if recent else self._history_ms
        if not samples:
            return TimingSummary()
        values = np.fromiter(samples, dtype=np.float64, count=len(samples))
        p50_ms, p95_ms = np.percentile(values, [50, 95])
        return TimingSummary(len(self._history_ms), float(p50_ms), float(p95_ms), float(values.max()))


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
        self._counts = {"resent": 0, "face_lost": 0, "held": 0, "neutral": 0, "source_failures": 0, "source_reopens": 0}
        self._buffers: list[DropCounter] = []
        self._extra_drops: dict[str, int] = {}
        self._text = {
            "source_status": "starting",
            "provider": "",
            "provider_note": "",
            "retarget_status": "",
            "end_reason": "",
        }
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

    def record_drop(self, where: str) -> None:
        """A frame lost outside the ring buffers (e.g. the sequential loop cannot drop)."""
        with self._lock:
            self._extra_drops[where] = self._extra_drops.get(where, 0) + 1

    def count(self, event: str) -> None:
        """Count an event: resent, face_lost, held, neutral, source_failures, source_reopens."""
        with self._lock:
            self._counts[event] += 1

    def set_text(self, key: str, value: str) -> None:
        """Set a status line: source_status, provider, provider_note, retarget_status, end_reason."""
        with self._lock:
            if key not in self._text:
                raise KeyError(f"unknown status {key!r}")
            self._text[key] = value

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
            for where, count in self._extra_drops.items():
                drops[where] = drops.get(where, 0) + count
            ordered = sorted(
                self._timings, key=lambda name: STAGE_ORDER.index(name) if name in STAGE_ORDER else len(STAGE_ORDER)
            )
            first_output_s = None if self._output.first_s is None else self._output.first_s - self._start_s
            return PipelineReport(
                mode=self.mode,
                duration_s=end_s - self._start_s,
                frames_captured=self._input.count,
                frames_written=self._output.count,
                frames_resent=self._counts["resent"],
                drops=drops,
                stage_ms={name: self._timings[name].summary(recent) for name in ordered},
                latency_ms=self._latency.summary(recent),
                input_fps=self._input.recent_rate(now_s) if recent else self._input.overall_rate(),
                output_fps=self._output.recent_rate(now_s) if recent else self._output.overall_rate(),
                first_output_s=first_output_s,
                face_lost_frames=self._counts["face_lost"],
                held_frames=self._counts["held"],
                neutral_frames=self._counts["neutral"],
                source_failures=self._counts["source_failures"],
                source_reopens=self._counts["source_reopens"],
                source_status=self._text["source_status"],
                provider=self._text["provider"],
                provider_note=self._text["provider_note"],
                retarget_status=self._text["retarget_status"],
                last_index=self._last_index,
                out_of_order_outputs=self._out_of_order,
                end_reason=self._text["end_reason"],
                notes=tuple(self._notes),
            )
