"""The retargeter's clamps: keep the target inside what its generator was trained on.

Head angles within the card's pose_range_deg (widened by a margin), shift and scale
within the config's limits, the shape projected onto the card's shape space with
the eye and lip contours' own shape kept, and the eye/mouth openings within the
card's expression range (live/face/expression_transfer.py). `clamp` reports whether
the frame was outside the training range (for the dashboard's statistics).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from live.errors import UsageError
from live.face.expression_transfer import ExpressionRange, clamp_openings, keep_local_shape
from live.face.pose import ANGLE_NAMES, angles_from_rotation_deg, rotation_from_angles_deg
from live.face.shape_space import ShapeSpace
from live.formats.card import ModelCard

# A frame counts as "outside the avatar's training range" (shown on the dashboard) when the
# pose clamp cut more than this many degrees, or the shape space changed the sketch's shape
# (pose removed, live.face.shape_space.shape_change_px) by more than this share of the target's
# face size on average. Format-2 default avatar (aligned crop, face size 50 px): driven by its own
# clip 1.9 / 2.5 px (median / 99th percentile), by the other recording 1.8 / 2.4 px, by CREMA-D
# happy 1.3 / 1.8 px; the 24-component shape space itself misses about 2 px of these face shapes.
OUTSIDE_POSE_DEG = 5.0
OUTSIDE_SHAPE_FRACTION = 0.06


def pose_limits_deg(card: ModelCard, margin_deg: float) -> np.ndarray:
    """(3, 2) [lo, hi] for yaw, pitch, roll from the card, widened by margin_deg."""
    try:
        limits = np.array(
            [[float(card.pose_range_deg[name][0]), float(card.pose_range_deg[name][1])] for name in ANGLE_NAMES]
        )
    except (KeyError, IndexError, TypeError, ValueError) as error:
        raise UsageError(
            f"model card {card.name!r}: pose_range_deg must map yaw, pitch and roll to [lo, hi] ({error!r}); re-export"
        ) from error
    return limits + np.array([-margin_deg, margin_deg])


@dataclass(frozen=True, slots=True)
class RangeLimits:
    """pose_margin_deg, max_shift_fraction (of the model's side), max_scale_change, shape_clamp, shape_margin:
    as in RetargetConfig."""

    pose_margin_deg: float
    max_shift_fraction: float
    max_scale_change: float
    shape_clamp: bool
    shape_margin: float


class TrainingRange:
    """The clamps of one target (its card). Pure: no state between frames."""

    def __init__(self, card: ModelCard, limits: RangeLimits, target_rotation: np.ndarray, face_size_px: float) -> None:
        self.limits = limits
        self.outside_shape_px = OUTSIDE_SHAPE_FRACTION * face_size_px
        self.expression = ExpressionRange.from_card(card.expression_range, card.neutral_landmarks_px)
        self._angles_deg = pose_limits_deg(card, limits.pose_margin_deg)
        self._shape_space = ShapeSpace.from_dict(card.shape_space) if limits.shape_clamp else None
        self._target_rotation = target_rotation
        self._max_shift_px = limits.max_shift_fraction * card.size_px

    def rotation(self, driver_rotation: np.ndarray) -> tuple[np.ndarray, bool]:
        """The driver's rotation change applied to the target, its result clamped to the pose limits;
        and whether the clamp cut more than OUTSIDE_POSE_DEG off any angle."""
        target_angles_deg = angles_from_rotation_deg(driver_rotation @ self._target_rotation)
        clamped_deg = np.clip(target_angles_deg, self._angles_deg[:, 0], self._angles_deg[:, 1])
        clamped = bool(np.abs(clamped_deg - target_angles_deg).max() > OUTSIDE_POSE_DEG)
        return rotation_from_angles_deg(*clamped_deg) @ self._target_rotation.T, clamped

    def shift_and_scale(self, shift_px: np.ndarray, log_scale: float) -> tuple[np.ndarray, float]:
        """The target's shift (pixels) and scale within the limits."""
        largest = self.limits.max_scale_change
        scale = float(np.clip(np.exp(log_scale), 1.0 / largest, largest))
        return np.clip(shift_px, -self._max_shift_px, self._max_shift_px), scale

    def shape(self, posed_px: np.ndarray, face_rotation: np.ndarray, expression: bool) -> tuple[np.ndarray, float]:
        """The posed shape inside the shape space (eye and lip contours keep their own shape) and, with
        `expression`, the eye/mouth openings within the training range; and how far (px) the shape moved."""
        distance_px = 0.0
        if self._shape_space is not None:
            projected_px, distance_px = self._shape_space.project(posed_px, self.limits.shape_margin)
            posed_px = keep_local_shape(projected_px, posed_px)
        if expression:
            posed_px = clamp_openings(posed_px, face_rotation, self.expression)
        return posed_px.astype(np.float32), distance_px

    def outside(self, pose_clamped: bool, shape_distance_px: float) -> bool:
        """Whether a frame counts as outside the training range."""
        return pose_clamped or shape_distance_px > self.outside_shape_px
