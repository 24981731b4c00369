"""Progress of a long step, in a terminal and in a log: one shape for `make`, `train`, `prepare`, `eval` and
`drive-eval`.

`bar(console)` stands where a `rich.progress.Progress` would (add_task / advance / update, and `with`):
- when stdout is a terminal: a rich bar on the console (stderr) with the count, the rate, an ETA and a note
  (the losses, the newest sample image);
- otherwise: plain lines. Each goes to the log file named by `progress_log_to` (at most every LOG_INTERVAL_S,
  and always at a task's start and end) and to stdout (at most every PRINT_INTERVAL_S, and at a task's end).

The ETA is the units left times a smoothed rate: an exponential moving average of the seconds each unit took
(SMOOTHING of each new measurement), so a pause (a checkpoint, a sample grid) moves it a little and a slower
stretch moves it for good, instead of the mean since the start or over the last few seconds.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

SMOOTHING = 0.1  # weight of the newest seconds-per-unit measurement in the moving average
LOG_INTERVAL_S = 2.0
PRINT_INTERVAL_S = 15.0

_log_path: ContextVar[Path | None] = ContextVar("live_progress_log", default=None)
_prefix: ContextVar[str] = ContextVar("live_progress_prefix", default="")


@contextmanager
def progress_log_to(path: Path | None, prefix: str = "") -> Iterator[None]:
    """Within the block, plain progress lines (stdout not a terminal) are appended to `path` too, and every
    task's name starts with `prefix` (e.g. the phase of `live make`)."""
    log_token, prefix_token = _log_path.set(path), _prefix.set(prefix)
    try:
        yield
    finally:
        _log_path.reset(log_token)
        _prefix.reset(prefix_token)


@contextmanager
def progress_prefix(prefix: str) -> Iterator[None]:
    """Within the block, every task's name starts with `prefix` after the prefix already set (the log file stays
    as it is)."""
    token = _prefix.set(_prefix.get() + prefix)
    try:
        yield
    finally:
        _prefix.reset(token)


def current_log_path() -> Path | None:
    """The log file progress lines go to now (None: stdout only)."""
    return _log_path.get()


def stdout_is_terminal() -> bool:
    return sys.stdout.isatty()


def append_to_log(path: Path | None, line: str) -> None:
    """Append a time-stamped line to the log file (its folder made if needed); nothing without a path."""
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as log:
        log.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {line}\n")


def log_line(line: str) -> None:
    """A command's own line (not a progress line) into the current log too, when stdout is not a terminal."""
    if not stdout_is_terminal():
        append_to_log(_log_path.get(), line)


def duration_text(seconds: float | None) -> str:
    """H:MM:SS or M:SS; "?" when unknown."""
    if seconds is None:
        return "?"
    whole = max(0, int(round(seconds)))
    hours, rest = divmod(whole, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


@dataclass
class SmoothedRate:
    """Seconds per unit as an exponential moving average of the measurements (SMOOTHING each)."""

    smoothing: float = SMOOTHING
    seconds_per_unit: float | None = None
    _last: tuple[float, float] | None = None  # (completed, time_s) at the last measurement

    def update(self, completed: float, now_s: float) -> None:
        """Add the time since the last update over the units done since it (the first update only starts)."""
        if self._last is not None and completed > self._last[0]:
            measured = (now_s - self._last[1]) / (completed - self._last[0])
            previous = self.seconds_per_unit
            self.seconds_per_unit = (
                measured if previous is None else self.smoothing * measured + (1 - self.smoothing) * previous
            )
        if self._last is None or completed != self._last[0]:
            self._last = (completed, now_s)

    def eta_s(self, remaining: float) -> float | None:
        return None if self.seconds_per_unit is None else max(0.0, remaining) * self.seconds_per_unit


@dataclass
class _Task:
    description: str
    total: float | None
    completed: float = 0.0
    note: str = ""
    started_s: float = 0.0
    rate: SmoothedRate = field(default_factory=SmoothedRate)
    logged_s: float | None = None
    printed_s: float | None = None
    shown: tuple[float, float | None] | None = None  # (completed, total) of the last line on stdout
    logged: tuple[float, float | None] | None = None  # and in the log

    def line(self, now_s: float) -> str:
        count = f"{self.completed:g}" if self.total is None else f"{self.completed:g}/{self.total:g}"
        share = f" ({self.completed / self.total:.0%})" if self.total else ""
        seconds = self.rate.seconds_per_unit
        rate = "" if seconds is None else f", {seconds:.3g} s each"
        if self.total is not None and self.completed >= self.total:
            timing = f", done in {duration_text(now_s - self.started_s)}"
        elif self.total is not None:
            timing = f", ETA {duration_text(self.rate.eta_s(self.total - self.completed))}"
        else:
            timing = f", {duration_text(now_s - self.started_s)} so far"
        note = f", {self.note}" if self.note else ""
        return f"{self.description}: {count}{share}{rate}{timing}{note}"


class ProgressLines:
    """The rich Progress calls used for long steps (add_task, advance, update) as plain, rate-limited lines:
    to the log file (`progress_log_to`) and to stdout. A rich bar on a terminal instead: `bar()`."""

    def __init__(self, enabled: bool = True, log_path: Path | None = None, stream=None) -> None:
        self._tasks: list[_Task] = []
        self._enabled = enabled
        self._log_path = log_path
        self._stream = stream or sys.stdout

    def __enter__(self) -> ProgressLines:
        return self

    def __exit__(self, *exc_info: object) -> None:
        for task in self._tasks:  # where each task ended, unless its last lines said so already
            state = (task.completed, task.total)
            if task.logged != state or task.shown != state:
                self._emit(task, time.perf_counter(), log=task.logged != state, show=task.shown != state)

    def add_task(self, description: str, total: float | None = None, completed: float = 0, **fields: object) -> int:
        task = _Task(_prefix.get() + description, total, completed, str(fields.get("note", "")), time.perf_counter())
        task.rate.update(completed, task.started_s)
        self._tasks.append(task)
        self._emit(task, task.started_s, log=True, show=False)
        return len(self._tasks) - 1

    def advance(self, task_id: int, advance: float = 1) -> None:
        self.update(task_id, completed=self._tasks[task_id].completed + advance)

    def update(self, task_id: int, completed: float | None = None, total: float | None = None, **fields) -> None:
        task, now_s = self._tasks[task_id], time.perf_counter()
        if total is not None:
            task.total = total
        if "note" in fields:
            task.note = str(fields["note"])
        if completed is not None:
            task.completed = completed
            task.rate.update(completed, now_s)
        finished = task.total is not None and task.completed >= task.total
        log = task.logged_s is None or now_s - task.logged_s >= LOG_INTERVAL_S
        log = log or (finished and task.logged != (task.completed, task.total))
        show = now_s - (task.printed_s or task.started_s) >= PRINT_INTERVAL_S
        if log or show:
            self._emit(task, now_s, log, show)

    def eta_s(self, task_id: int) -> float | None:
        """The task's ETA from its smoothed rate (None before two updates)."""
        task = self._tasks[task_id]
        return None if task.total is None else task.rate.eta_s(task.total - task.completed)

    def _emit(self, task: _Task, now_s: float, log: bool, show: bool) -> None:
        if not self._enabled:
            return
        line = task.line(now_s)
        if log:
            task.logged_s, task.logged = now_s, (task.completed, task.total)
            self._append_to_log(line)
        if show:
            task.printed_s = now_s
            task.shown = (task.completed, task.total)
            print(line, file=self._stream, flush=True)

    def _append_to_log(self, line: str) -> None:
        append_to_log(self._log_path if self._log_path is not None else _log_path.get(), line)


class _TerminalBar(Progress):
    """A rich bar whose ETA comes from the smoothed rate (SmoothedRate), with a note column."""

    def __init__(self, console: Console | None, enabled: bool, transient: bool) -> None:
        columns = [
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("ETA {task.fields[eta]}"),
            TextColumn("{task.fields[note]}", markup=False),
        ]
        super().__init__(*columns, console=console, disable=not enabled, transient=transient)
        self._rates: dict[int, SmoothedRate] = {}

    def add_task(self, description: str, total: float | None = None, completed: float = 0, **fields) -> int:
        fields = {"note": "", **fields, "eta": "?"}
        task_id = super().add_task(_prefix.get() + description, total=total, completed=completed, **fields)
        self._rates[task_id] = SmoothedRate()
        self._rates[task_id].update(completed, time.perf_counter())
        return task_id

    def update(self, task_id, completed: float | None = None, total: float | None = None, **fields) -> None:
        advance = fields.pop("advance", None)
        if completed is None and advance is not None:
            completed = self._tasks[task_id].completed + advance
        rate = self._rates.get(task_id)
        if completed is not None and rate is not None:
            rate.update(completed, time.perf_counter())
            limit = total if total is not None else self._tasks[task_id].total
            fields["eta"] = duration_text(None if limit is None else rate.eta_s(limit - completed))
        super().update(task_id, completed=completed, total=total, **fields)

    def advance(self, task_id, advance: float = 1) -> None:
        self.update(task_id, completed=self._tasks[task_id].completed + advance)

    def eta_s(self, task_id: int) -> float | None:
        task, rate = self._tasks[task_id], self._rates.get(task_id)
        return None if rate is None or task.total is None else rate.eta_s(task.total - task.completed)


ProgressDisplay = _TerminalBar | ProgressLines


def bar(console: Console | None = None, enabled: bool = True, transient: bool = False) -> ProgressDisplay:
    """Where a rich Progress would stand: a bar when stdout is a terminal, plain lines (log file and stdout)
    otherwise. enabled=False shows nothing (e.g. every process but the first of a distributed run)."""
    if stdout_is_terminal():
        return _TerminalBar(console or Console(stderr=True), enabled, transient)
    return ProgressLines(enabled)
