"""No face: the last good frame for a moment, then the target's neutral face (never the camera image)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from live.pipeline.messages import Rendered
from live.pipeline.stats import Event, PipelineStats

NO_FACE_HOLD_S = 0.5


class FaceHold:
    """Rendered -> Rendered, called in capture order: a frame without a face shows the last good output for up
    to `hold_s` (capture time), then the target's neutral face. Each keeps its matte (`neutral_alpha`: the
    neutral face's, with `--background transparent`; None otherwise)."""

    def __init__(
        self,
        neutral_bgr: np.ndarray,
        stats: PipelineStats,
        hold_s: float = NO_FACE_HOLD_S,
        neutral_alpha: np.ndarray | None = None,
    ) -> None:
        self.neutral_bgr = neutral_bgr
        self.neutral_alpha = neutral_alpha
        self.stats = stats
        self.hold_s = hold_s
        self._last_good: tuple[np.ndarray, np.ndarray | None] | None = None  # (output_bgr, alpha)
        self._last_face_s = float("-inf")

    def __call__(self, rendered: Rendered) -> Rendered:
        t_stream_s = rendered.frame.t_stream_s
        if rendered.face_found:
            self._last_good = (rendered.output_bgr, rendered.alpha)
            self._last_face_s = t_stream_s
            return rendered
        last = self._last_good
        if last is not None and t_stream_s - self._last_face_s <= self.hold_s:
            self.stats.count(Event.HELD)
            return replace(rendered, output_bgr=last[0], alpha=last[1])
        self.stats.count(Event.NEUTRAL)
        return replace(rendered, output_bgr=self.neutral_bgr, alpha=self.neutral_alpha)
