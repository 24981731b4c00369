"""Stage threads: one shared stop event, and the first exception travels to the main thread.

Each stage thread runs `body()` and then its `on_exit()` (close the outgoing
buffer, release devices) in `finally`. If `body` raises, the failure is
recorded once (the first stage to fail wins), the stop event is set, and the
main thread raises `StageError` naming the stage and the cause.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from live.pipeline.stats import PipelineReport


class StageError(Exception):
    """A pipeline stage raised: the message names the stage and the cause (exit code 1)."""

    def __init__(self, stage: str, cause: BaseException) -> None:
        super().__init__(f"stage {stage!r} failed: {type(cause).__name__}: {cause}")
        self.stage = stage
        self.cause = cause
        self.report: PipelineReport | None = None  # the run's statistics so far, attached by the pipeline


class FailureSlot:
    """Holds the first stage failure of a run; later ones (often consequences) are ignored."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._error: StageError | None = None

    def report(self, stage: str, cause: BaseException) -> None:
        """Record a failure unless one is already recorded."""
        with self._lock:
            if self._error is None:
                self._error = StageError(stage, cause)
                self._error.__cause__ = cause

    @property
    def error(self) -> StageError | None:
        """The first failure, or None."""
        with self._lock:
            return self._error

    def raise_if_failed(self) -> None:
        """Raise the recorded StageError on the calling (main) thread."""
        error = self.error
        if error is not None:
            raise error


def start_stage_thread(
    stage: str,
    body: Callable[[], None],
    on_exit: Callable[[], None],
    stop: threading.Event,
    failures: FailureSlot,
) -> threading.Thread:
    """Start a daemon thread running `body`, then `on_exit` always; a raise stops the run."""

    def target() -> None:
        try:
            body()
        except Exception as error:  # reported on the main thread by FailureSlot.raise_if_failed
            failures.report(stage, error)
            stop.set()
        finally:
            try:
                on_exit()
            except Exception as error:  # releasing a device failed: report it like any stage failure
                failures.report(stage, error)
                stop.set()

    thread = threading.Thread(target=target, name=f"live-{stage}", daemon=True)
    thread.start()
    return thread
