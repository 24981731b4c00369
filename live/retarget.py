"""Retarget stage: driver landmarks (camera pixels) -> target landmarks (model pixels).

Placeholder seam until the retargeting issue lands: `off` maps the centre
square of the driver's frame onto the model's square, which is what the
face2face-style seeds did (the target takes on the driver's face shape).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from live.card import ModelCard


@dataclass(frozen=True, slots=True)
class RetargetConfig:
    """mode: off (raw driver landmarks), pose, or full."""

    mode: str = "off"


def centre_square_to_model(landmarks_px: np.ndarray, frame_shape: tuple[int, ...], size_px: int) -> np.ndarray:
    """Map landmarks from a frame's centred square crop onto a size_px square."""
    height_px, width_px = frame_shape[:2]
    side_px = min(height_px, width_px)
    offset = np.array([(width_px - side_px) / 2, (height_px - side_px) / 2, 0.0], dtype=np.float32)
    return (landmarks_px - offset) * np.float32(size_px / side_px)


class Retargeter:
    """Turns each frame's driver landmarks into target landmarks in the model's pixels."""

    def __init__(self, config: RetargetConfig, card: ModelCard) -> None:
        self.config = config
        self.card = card

    def retarget(self, landmarks_px: np.ndarray, frame_shape: tuple[int, ...], t_capture_s: float) -> np.ndarray:
        """Target landmarks (478, 3) in pixels of the model's square for one tracked frame."""
        return centre_square_to_model(landmarks_px, frame_shape, self.card.size_px)

    def close(self) -> None:
        """Nothing to release; present so every stage has the same shape."""

    def __enter__(self) -> "Retargeter":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
