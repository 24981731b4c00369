"""The main-thread end of the pipeline: write frames to the sinks, keep virtual cameras fed,
and handle the preview window's keys.

Window keys: q / Esc quit, v cycles the view (output only / driver | sketch |
output), f toggles the stats overlay, c recalibrates the retargeter (when it
can). Only the window's side-by-side debug view ever shows the driver's image.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

import numpy as np

from live.face.background import KEY_COLOR_BGR
from live.io.compose import KeyColor, with_alpha
from live.io.sinks import Sink
from live.pipeline.messages import Rendered
from live.pipeline.stats import Event, PipelineStats
from live.pipeline.steps import BufferPool, elapsed_ms

VIEWS = ("output", "side-by-side")
SIDE_BY_SIDE_HEIGHT_PX = 360
QUIT_KEYS = (ord("q"), ord("Q"), 27)


class PreviewSink(Sink, Protocol):
    """A sink with keys (live.io.sinks.WindowSink)."""

    def poll_key(self) -> int | None: ...

    @property
    def closed(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class Output:
    """One sink and how the main loop treats it.

    keep_alive: re-send the last frame whenever no new one arrives in time (virtual cameras).
    preview: gets the selected view and the stats overlay, and is polled for keys (the window).
    side_by_side_height_px: when non-zero, this output always gets driver | sketch | output at
        that height (the demo's file); otherwise the avatar alone.
    capture_times: new frames go to `sink.write_captured(image_bgr, t_capture_s)` (the web output
        measures the latency from capture to each viewer's display).
    alpha: keeps the person's matte: gets BGRA frames when the run carries one (PNG folders, .webm, web); the
        other outputs then get the key colour behind the person.
    """

    sink: Sink
    keep_alive: bool = False
    preview: bool = False
    side_by_side_height_px: int = 0
    capture_times: bool = False
    alpha: bool = False


@dataclass(frozen=True, slots=True)
class PresenterHooks:
    """Callbacks from the window's keys into the run (None: the key does nothing)."""

    overlay_lines: Callable[[], list[str]] | None = None
    recalibrate: Callable[[], None] | None = None


class Presenter:
    """Writes each new frame to every output; re-sends the last frame to keep-alive outputs."""

    def __init__(
        self,
        outputs: Sequence[Output],
        stats: PipelineStats,
        pool: BufferPool | None = None,
        hooks: PresenterHooks = PresenterHooks(),
        key_color_bgr: tuple[int, int, int] = KEY_COLOR_BGR,
    ) -> None:
        self.outputs = list(outputs)
        self.key_color = KeyColor(key_color_bgr)
        self.stats = stats
        self.pool = pool
        self.hooks = hooks
        self.view = VIEWS[0]
        self.overlay = False
        self.last_output_bgr: np.ndarray | None = None
        self._side_by_side_bgr: dict[int, np.ndarray] = {}

    @property
    def has_keep_alive(self) -> bool:
        """True when some output must never stall."""
        return any(output.keep_alive for output in self.outputs)

    def present(self, rendered: Rendered) -> None:
        """Write a new frame everywhere; record sink time and capture-to-output latency."""
        start_s = time.perf_counter()
        matted, rendered = rendered, self._keyed(rendered)
        bgra = None  # merged once, for every output that keeps the matte
        for output in self.outputs:
            if output.alpha and matted.alpha is not None:
                bgra = with_alpha(matted.output_bgr, matted.alpha) if bgra is None else bgra
                image_bgr = bgra
            else:
                image_bgr = self.output_image(output, rendered)
            if output.capture_times:
                output.sink.write_captured(image_bgr, rendered.frame.t_capture_s)  # type: ignore[attr-defined]
            else:
                output.sink.write(image_bgr)
        done_s = time.perf_counter()
        self.stats.record_stage("sinks", elapsed_ms(start_s))
        self.stats.record_output(rendered.frame.index, rendered.frame.t_capture_s, done_s)
        self.last_output_bgr = rendered.output_bgr
        if self.pool is not None and rendered.face_found:
            self.pool.release(rendered.sketch_bgr)

    def _keyed(self, rendered: Rendered) -> Rendered:
        """The frame with the key colour behind the person (and no matte) when it carries a matte and some
        output has no alpha; else the frame as it is."""
        if rendered.alpha is None or all(output.alpha for output in self.outputs):
            return rendered
        return replace(rendered, output_bgr=self.key_color.keyed(rendered.output_bgr, rendered.alpha), alpha=None)

    def output_image(self, output: Output, rendered: Rendered) -> np.ndarray:
        """The image one output gets for a rendered frame."""
        if output.preview:
            return self.preview_image(rendered)
        if output.side_by_side_height_px:
            from live.io.compose import compose_side_by_side

            previous = self._side_by_side_bgr.get(id(output))
            composed = compose_side_by_side(
                rendered.frame.image_bgr,
                rendered.sketch_bgr,
                rendered.output_bgr,
                output.side_by_side_height_px,
                previous,
            )
            self._side_by_side_bgr[id(output)] = composed
            return composed
        return rendered.output_bgr

    def preview_image(self, rendered: Rendered) -> np.ndarray:
        """What the window shows: the output, or driver | sketch | output; with the stats overlay if on."""
        from live.io.compose import compose_side_by_side, draw_stats_overlay

        image_bgr = rendered.output_bgr
        if self.view == "side-by-side":
            sketch_bgr = rendered.sketch_bgr if rendered.sketch_bgr is not None else np.zeros_like(rendered.output_bgr)
            image_bgr = compose_side_by_side(
                rendered.frame.image_bgr, sketch_bgr, rendered.output_bgr, SIDE_BY_SIDE_HEIGHT_PX
            )
        if self.overlay and self.hooks.overlay_lines is not None:
            image_bgr = image_bgr.copy() if image_bgr is rendered.output_bgr else image_bgr
            draw_stats_overlay(image_bgr, self.hooks.overlay_lines())
        return image_bgr

    def keep_alive(self, image_bgr: np.ndarray | None = None, alpha: np.ndarray | None = None) -> None:
        """Re-send the last frame (or `image_bgr`, keyed when it has a matte, before the first one) to keep-alive
        outputs."""
        if self.last_output_bgr is not None:
            image_bgr = self.last_output_bgr
        elif image_bgr is not None and alpha is not None:
            image_bgr = self.last_output_bgr = self.key_color.keyed(image_bgr, alpha)
        if image_bgr is None or not self.has_keep_alive:
            return
        for output in self.outputs:
            if output.keep_alive:
                output.sink.write(image_bgr)
        self.stats.count(Event.RESENT)

    def poll_keys(self) -> str | None:
        """Handle pending window keys; why to quit ("quit key", "window closed"), or None."""
        reason = None
        for output in self.outputs:
            if not output.preview:
                continue
            sink: PreviewSink = output.sink  # type: ignore[assignment]
            key = sink.poll_key()
            if key is not None and self.handle_key(key):
                reason = "quit key"
            elif sink.closed:
                reason = "window closed"
        return reason

    def handle_key(self, key: int) -> bool:
        """Apply one key; True for quit."""
        if key in QUIT_KEYS:
            return True
        if key in (ord("v"), ord("V")):
            self.view = VIEWS[(VIEWS.index(self.view) + 1) % len(VIEWS)]
        elif key in (ord("f"), ord("F")):
            self.overlay = not self.overlay
        elif key in (ord("c"), ord("C")) and self.hooks.recalibrate is not None:
            self.hooks.recalibrate()
        return False

    def close(self) -> None:
        """Close every sink (files are finalised); idempotent as the sinks are."""
        errors: list[BaseException] = []
        for output in self.outputs:
            try:
                output.sink.close()
            except Exception as error:  # keep closing the others, then report the first
                errors.append(error)
        if errors:
            raise errors[0]
