"""Where `--retarget off` puts the driver: its raw landmarks in the avatar's usual crop.

The retargeter's output, in every mode, is in the pixels of the avatar's usual head crop (the card's
`neutral_transform`, plate->crop); live.face.alignment.HeadFollower takes it back into the plate through that
transform. With retargeting off the driver's face goes where it sits in its own frame: the driver frame's centre
square onto the plate's centre square (the identity for a driver of the plate's size, such as the target's own
recording), then into the crop by the card's `neutral_transform`. Pure geometry: no IO, no state.
"""

from __future__ import annotations

import numpy as np

from live.errors import UsageError
from live.face.alignment import apply_transform
from live.formats.card import ModelCard


def frame_to_plate_transform(frame_shape: tuple[int, ...], plate_size_px: tuple[int, int]) -> np.ndarray:
    """2x3 similarity: a frame's centre square (frame_shape: (height, width, ...)) onto the centre square of a
    plate of plate_size_px (width, height); the identity when both are the same size."""
    height_px, width_px = frame_shape[:2]
    plate_width_px, plate_height_px = plate_size_px
    scale = min(plate_width_px, plate_height_px) / min(width_px, height_px)
    offset_x_px, offset_y_px = (plate_width_px - scale * width_px) / 2, (plate_height_px - scale * height_px) / 2
    return np.array([[scale, 0.0, offset_x_px], [0.0, scale, offset_y_px]])


def compose(second: np.ndarray, first: np.ndarray) -> np.ndarray:
    """The 2x3 transform applying `first`, then `second`."""
    return np.hstack([second[:, :2] @ first[:, :2], (second[:, :2] @ first[:, 2] + second[:, 2])[:, None]])


class DriverPlacement:
    """`to_crop(landmarks_px, frame_shape)`: a driver frame's landmarks in the avatar's usual crop (module
    docstring); UsageError at construction for a card that does not say where its crop lies in its plate."""

    def __init__(self, card: ModelCard) -> None:
        self.neutral_transform = np.asarray(card.neutral_transform, dtype=np.float64)
        plate_size_px = tuple(int(side_px) for side_px in card.plate_size_px)
        if self.neutral_transform.shape != (2, 3) or len(plate_size_px) != 2 or min(plate_size_px) <= 0:
            raise UsageError(
                f"model card {card.name!r} has no plate size or usual crop (neutral_transform) to place the driver "
                "by with --retarget off; re-export it with `live export`"
            )
        self.plate_size_px: tuple[int, int] = (plate_size_px[0], plate_size_px[1])

    def transform(self, frame_shape: tuple[int, ...]) -> np.ndarray:
        """2x3 similarity: pixels of a driver frame of frame_shape -> pixels of the avatar's usual crop."""
        return compose(self.neutral_transform, frame_to_plate_transform(frame_shape, self.plate_size_px))

    def to_crop(self, landmarks_px: np.ndarray, frame_shape: tuple[int, ...]) -> np.ndarray:
        """(478, 3) float32: the driver's landmarks (its frame's pixels) in the avatar's usual crop (z scaled too)."""
        return apply_transform(self.transform(frame_shape), landmarks_px)
