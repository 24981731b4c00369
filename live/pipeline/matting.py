"""The background of each rendered frame when it is not the plate's own (live.face.background).

`Matting.apply` gives a frame's person matte (live.face.person_matte) and, for a colour or a picture behind,
the frame composited over it (then no matte is carried on: every output gets the same picture). For
`transparent`, the frame keeps the plate's colours and carries its matte to the sinks (live.pipeline.messages
Rendered.alpha), which keep it (PNG, .webm) or put the key colour behind the person.
"""

from __future__ import annotations

import numpy as np

from live.face.background import Background, composite, cover, solid
from live.face.head_plate import HeadPlate
from live.face.person_matte import PersonMatte
from live.io.background_file import read_background_image


class Matting:
    """`apply(output_bgr, shift_px, landmarks_px) -> (image_bgr, alpha or None)` for one background."""

    def __init__(self, background: Background, person_matte: PersonMatte, behind_bgr: np.ndarray | None) -> None:
        self.background = background
        self.person_matte = person_matte
        self.behind_bgr = behind_bgr  # None: transparent

    def apply(
        self, output_bgr: np.ndarray, shift_px: tuple[float, float] | None, landmarks_px: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """The frame and its matte (transparent), or the frame over the background and None. `shift_px`: the
        body's shift as the plate was composed for it (None: still); `landmarks_px`: the avatar's face in plate
        pixels (None: no face drawn). The frame given is not written to."""
        alpha = self.person_matte.matte(shift_px, landmarks_px)
        if self.behind_bgr is None:
            return output_bgr, alpha
        return composite(output_bgr, alpha, self.behind_bgr), None


def open_matting(
    background: Background,
    plate_bgr: np.ndarray,
    person_mask: np.ndarray,
    head_plate: HeadPlate | None,
    plate_landmarks_px: np.ndarray,
) -> Matting:
    """The Matting of a matted background for frames of the plate's size (its picture read and fitted once);
    `plate_landmarks_px`: the plate's own head (where the head plate moves it from)."""
    size_px = (plate_bgr.shape[1], plate_bgr.shape[0])
    behind_bgr = None
    if background.kind == "color" and background.color_bgr is not None:
        behind_bgr = solid(background.color_bgr, size_px)
    elif background.kind == "image" and background.image_path is not None:
        behind_bgr = cover(read_background_image(background.image_path), size_px)
    elif background.kind != "transparent":
        raise ValueError(f"no matting for background {background.describe()!r}")
    return Matting(background, PersonMatte(person_mask, head_plate, plate_landmarks_px), behind_bgr)
