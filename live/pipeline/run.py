"""The real-time pipeline, wired in one place.

    capture thread  --frames-->  landmarks thread (landmarks, retarget, sketch)  --sketches-->
    generator threads (one per session, frames side by side, handed on in capture order)  --rendered-->
    main thread (sinks: window, virtual camera, file)

Buffers drop their oldest item when the consumer falls behind (each drop counted), so latency
stays bounded while stages overlap; with `lossless=True` they block instead
(offline runs: every frame is rendered). The sinks run on the main thread,
which re-sends the last frame to virtual cameras whenever no new one arrives.

`run_pipeline` and `run_sequential` (pipeline/sequential.py: the same stages in one plain loop) both
return a PipelineReport, for `live run` and `live bench`. What a run opens is in pipeline/stages.py.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from typing import Any, Protocol

from live.io.sources import Source
from live.pipeline.capture import CaptureLoop
from live.pipeline.face_hold import FaceHold
from live.pipeline.messages import Frame, Rendered, Sketched
from live.pipeline.presenter import Output, Presenter, PresenterHooks
from live.pipeline.report_text import summary_lines
from live.pipeline.ringbuffer import RingBuffer
from live.pipeline.stages import PipelineConfig, Stages, describe_stages, open_stages, retarget_status
from live.pipeline.stats import PipelineReport, PipelineStats, Status
from live.pipeline.steps import (
    GET_TIMEOUT_S,
    BufferPool,
    SketchStep,
    StageLoop,
    TrackStep,
)
from live.pipeline.threads import FailureSlot, StageError, start_stage_thread
from live.pipeline.workers import InTurn

SHUTDOWN_BUDGET_S = 1.0


class Dashboard(Protocol):
    """Anything the main loop can show progress on (live.ui.dashboard.Dashboard)."""

    def update(self, stats: PipelineStats) -> None: ...


class Shutdown:
    """Why the main loop should stop (set from a signal handler: a plain attribute, no locks)."""

    def __init__(self) -> None:
        self.reason: str | None = None

    def request(self, reason: str) -> None:
        """Ask the main loop to stop (keeps the first reason)."""
        self.reason = self.reason or reason


@contextmanager
def sigterm_stops(shutdown: Shutdown) -> Iterator[None]:
    """While active (main thread only), SIGTERM ends the run cleanly like `q`."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, lambda number, frame: shutdown.request("SIGTERM"))
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_pipeline(
    config: PipelineConfig,
    source: Source,
    outputs: Sequence[Output],
    stages: Stages | None = None,
    dashboard: Dashboard | None = None,
) -> PipelineReport:
    """Run the threaded pipeline until the end of input, `q`, Ctrl-C or SIGTERM; return its statistics.

    `stages` may be opened beforehand with open_stages (else they are opened and closed here).
    The source and the sinks are closed at the end. A stage failure raises StageError
    (with `.report`) after everything is shut down.
    """
    with ExitStack() as stack:
        stages = stages or stack.enter_context(open_stages(config))
        return _PipelineRun(config, source, outputs, stages, dashboard).run()


class _PipelineRun:
    """One threaded run: builds the buffers and threads, runs the main loop, shuts down."""

    def __init__(
        self,
        config: PipelineConfig,
        source: Source,
        outputs: Sequence[Output],
        stages: Stages,
        dashboard: Dashboard | None,
    ) -> None:
        self.config = config
        self.source = source
        self.stages = stages
        self.dashboard = dashboard
        self.stats = PipelineStats("pipeline")
        self.stop = threading.Event()
        self.failures = FailureSlot()
        self.shutdown = Shutdown()
        self.pool = BufferPool(stages.card.size_px)
        hooks = PresenterHooks(overlay_lines=self._overlay_lines, recalibrate=stages.retargeter.recalibrate)
        self.presenter = Presenter(outputs, self.stats, self.pool, hooks, config.background.key_color_bgr)
        self.buffers: list[RingBuffer[Any]] = []
        self.threads: list[threading.Thread] = []

    def _buffer(self, name: str) -> RingBuffer[Any]:
        buffer: RingBuffer[Any] = RingBuffer(name, self.config.buffer_capacity, block_when_full=self.config.lossless)
        self.buffers.append(buffer)
        return buffer

    def _start(self) -> RingBuffer[Rendered]:
        """Wire the topology; returns the buffer the main thread reads."""
        config, stages, stats, stop = self.config, self.stages, self.stats, self.stop
        frames: RingBuffer[Frame] = self._buffer("frames")
        track = TrackStep(stages.detector, stats)
        sketch = SketchStep(stages.retargeter, stages.card.size_px, self.pool, stats, body=stages.body_follower)
        sketches: RingBuffer[Sketched] = self._buffer("sketches")
        rendered: RingBuffer[Rendered] = self._buffer("rendered")
        capture = CaptureLoop(self.source, frames, stop, stats, config.pace, config.max_frames, self.failures)
        self._thread("capture", capture.run, frames, self.source.close)
        self._thread("landmarks", StageLoop(frames, lambda frame: sketch(track(frame)), sketches, stop).run, sketches)
        hold = FaceHold(stages.neutral_bgr, stats, config.no_face_hold_s, stages.neutral_alpha)
        in_turn: InTurn[Sketched, Rendered] = InTurn(sketches, rendered, stop, then=hold, wait_s=GET_TIMEOUT_S)
        for number, session in enumerate(stages.sessions, start=1):
            render = stages.render_step(session, stats)
            body, on_exit = in_turn.worker(render.render)
            name = "generator" if number == 1 else f"generator-{number}"
            self.threads.append(start_stage_thread(name, body, on_exit, stop, self.failures))
        stats.watch_buffers(self.buffers)
        return rendered

    def _thread(self, stage: str, body: Any, outbox: RingBuffer[Any], release: Any = None) -> None:
        def on_exit() -> None:
            outbox.close()
            if release is not None:
                release()

        self.threads.append(start_stage_thread(stage, body, on_exit, self.stop, self.failures))

    def run(self) -> PipelineReport:
        describe_stages(self.stats, self.stages)
        if self.config.lossless:
            self.stats.add_note("lossless: buffers waited instead of dropping, every frame was rendered")
        try:
            with sigterm_stops(self.shutdown):
                rendered = self._start()
                self._main_loop(rendered)
        except KeyboardInterrupt:
            self.shutdown.request("Ctrl-C")
        finally:
            self._shut_down()
        self.stats.set_text(Status.END_REASON, self.shutdown.reason or "stopped")
        self.stats.set_text(Status.RETARGET, retarget_status(self.stages.retargeter))
        report = self.stats.snapshot()
        error = self.failures.error
        if error is not None:
            error.report = report
            raise error
        return report

    def _main_loop(self, rendered: RingBuffer[Rendered]) -> None:
        """Present frames as they come; keep virtual cameras fed; poll keys; update the dashboard."""
        timeout_s = 1.0 / self.config.keep_alive_fps
        while not self.stop.is_set() and self.shutdown.reason is None:
            try:
                item = rendered.get(timeout_s)
                if item is not None:
                    self.presenter.present(item)
                    self.stages.save_new_calibration()
                elif rendered.finished:  # all captured frames are out; capture may have ended by failing
                    failed = self.failures.error
                    self.shutdown.request(f"stage {failed.stage!r} failed" if failed else "end of input")
                else:
                    self.presenter.keep_alive(self.stages.neutral_bgr, self.stages.neutral_alpha)
                quit_reason = self.presenter.poll_keys()
                if quit_reason is not None:
                    self.shutdown.request(quit_reason)
            except Exception as error:  # a sink failed: same path as a worker failure
                self.failures.report("sinks", error)
                self.stop.set()
            if self.dashboard is not None:
                self.stats.set_text(Status.RETARGET, retarget_status(self.stages.retargeter))
                self.dashboard.update(self.stats)
        if self.failures.error is not None:
            self.shutdown.request(f"stage {self.failures.error.stage!r} failed")

    def _shut_down(self) -> None:
        """Stop every thread, release devices, finalise files, account for abandoned frames."""
        self.stop.set()
        for buffer in self.buffers:
            buffer.close()
        deadline_s = time.perf_counter() + SHUTDOWN_BUDGET_S
        for thread in self.threads:
            thread.join(max(0.0, deadline_s - time.perf_counter()))
        stuck = [thread.name for thread in self.threads if thread.is_alive()]
        if stuck:
            self.stats.add_note(f"threads still busy at exit: {', '.join(stuck)}")
        for buffer in self.buffers:
            buffer.discard_remaining()
        try:
            self.presenter.close()
        except Exception as error:  # a file could not be finalised
            self.failures.report("sinks", error)
        self.stats.finish()

    def _overlay_lines(self) -> list[str]:
        return summary_lines(self.stats.snapshot(recent=True))


__all__ = [
    "PipelineConfig",
    "Output",
    "Stages",
    "open_stages",
    "run_pipeline",
    "StageError",
    "PipelineReport",
]
