"""Messages passed between pipeline stages.

Every message carries the capture index and the monotonic capture time
(`time.perf_counter()` at capture), so latency at any sink is
`t_sink_s - t_capture_s`.

Landmarks follow live/formats/landmarks.py.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class Frame:
    """One captured image.

    t_capture_s: monotonic clock at capture (latency is measured from it).
    t_media_s: the frame's time in a recording (index / fps), None for live cameras.
        Stages whose behaviour depends on time (smoothing, calibration, the
        no-face hold) use `t_stream_s`, so an unpaced render of a file does not
        depend on how fast the machine is.
    """

    index: int
    t_capture_s: float
    image_bgr: np.ndarray
    t_media_s: float | None = None

    @property
    def t_stream_s(self) -> float:
        """The media time for recordings, the capture time for cameras."""
        return self.t_capture_s if self.t_media_s is None else self.t_media_s


@dataclass(frozen=True, slots=True)
class Tracked:
    """A frame with the driver's landmarks (pixels of `frame.image_bgr`), or None for no face."""

    frame: Frame
    landmarks_px: np.ndarray | None
    landmarks_ms: float


@dataclass(frozen=True, slots=True)
class Sketched:
    """The generator's conditioning image for a frame (None: no face).

    target_landmarks_px: the sketch's landmarks, in pixels of the head crop; crop_transform: that crop's
    2x3 transform from the target's own frame (the plate) into the crop (live.face.alignment);
    body_shift_px: how far the plate's person moves (live.face.body), None: it stays."""

    frame: Frame
    landmarks_px: np.ndarray | None
    target_landmarks_px: np.ndarray | None
    sketch_bgr: np.ndarray | None
    stage_ms: dict[str, float]
    crop_transform: np.ndarray | None = None
    body_shift_px: tuple[float, float] | None = None


@dataclass(frozen=True, slots=True)
class Rendered:
    """The avatar frame ready for the sinks.

    alpha: the person's matte, (H, W) uint8 (255: the person), only with `--background transparent`
    (live.face.background): outputs with alpha keep it, the others put the key colour behind the person.
    None otherwise (the plate's own background, or one composited in already)."""

    frame: Frame
    sketch_bgr: np.ndarray | None
    output_bgr: np.ndarray
    face_found: bool
    stage_ms: dict[str, float]
    alpha: np.ndarray | None = None
