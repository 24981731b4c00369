"""The target's shape space: the face shapes its generator was trained on.

A generator only renders sketches like the ones it saw; a driver whose mouth
opens wider than the target's ever did, or whose retargeted eyes land where
the target's never were, gets smeared features. The shape space is a PCA of
the training frames' landmarks (x, y in the model's pixels); `project` maps a
retargeted shape onto it, with each coefficient clamped to the range seen in
training (plus a margin), so every sketch stays inside what was learned.
Stored in the model card (`shape_space`) by `live export`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from live.face.alignment import fit_similarity
from live.formats.card_checks import SHAPE_SPACE_VERSION  # the card's contract for this layout

DEFAULT_VARIANCE_KEPT = 0.98
DEFAULT_MAX_COMPONENTS = 24


@dataclass(frozen=True, slots=True)
class ShapeSpace:
    """mean_px: (478, 2); components: (K, 956) orthonormal rows; low/high: (K,) coefficient range."""

    mean_px: np.ndarray
    components: np.ndarray
    low: np.ndarray
    high: np.ndarray

    @classmethod
    def fit(
        cls,
        landmarks_px: np.ndarray,
        variance_kept: float = DEFAULT_VARIANCE_KEPT,
        max_components: int = DEFAULT_MAX_COMPONENTS,
    ) -> "ShapeSpace":
        """PCA of (N, 478, 2+) training landmarks; keeps the components that explain `variance_kept`."""
        shapes = landmarks_px[:, :, :2].reshape(len(landmarks_px), -1).astype(np.float64)
        mean = shapes.mean(axis=0)
        _, singular_values, basis = np.linalg.svd(shapes - mean, full_matrices=False)
        explained = np.cumsum(singular_values**2) / max(float((singular_values**2).sum()), 1e-12)
        count = int(min(max_components, np.searchsorted(explained, variance_kept) + 1, len(singular_values)))
        components = basis[:count]
        coefficients = (shapes - mean) @ components.T
        return cls(
            mean.reshape(-1, 2).astype(np.float32),
            components.astype(np.float32),
            coefficients.min(axis=0).astype(np.float32),
            coefficients.max(axis=0).astype(np.float32),
        )

    def to_dict(self) -> dict:
        """JSON-ready form for the model card."""
        return {
            "version": SHAPE_SPACE_VERSION,
            "mean_px": np.round(self.mean_px.astype(np.float64), 3).tolist(),
            "components": np.round(self.components.astype(np.float64), 6).tolist(),
            "low": np.round(self.low.astype(np.float64), 4).tolist(),
            "high": np.round(self.high.astype(np.float64), 4).tolist(),
        }

    @classmethod
    def from_dict(cls, data: dict) -> "ShapeSpace | None":
        """The shape space of a card, or None when the card has none (or another version)."""
        if not data or data.get("version") != SHAPE_SPACE_VERSION:
            return None
        return cls(*(np.asarray(data[key], dtype=np.float32) for key in ("mean_px", "components", "low", "high")))

    def project(self, landmarks_px: np.ndarray, margin: float = 0.1) -> tuple[np.ndarray, float]:
        """The nearest trained shape: landmarks with x, y projected and coefficients clamped.

        margin widens each coefficient's range by that fraction of its width.
        Returns (landmarks, distance_px): the mean per-landmark x, y change once the
        best similarity is removed (shape_change_px), a measure of how far the face's
        shape (not its pose) was outside the training shapes.
        """
        flat = landmarks_px[:, :2].reshape(-1) - self.mean_px.reshape(-1)
        coefficients = self.components @ flat
        width = (self.high - self.low) * margin
        coefficients = np.clip(coefficients, self.low - width, self.high + width)
        projected_xy = (coefficients @ self.components).reshape(-1, 2) + self.mean_px
        result = landmarks_px.astype(np.float32, copy=True)
        result[:, :2] = projected_xy
        return result, shape_change_px(landmarks_px[:, :2], projected_xy)


def shape_change_px(before_xy: np.ndarray, after_xy: np.ndarray) -> float:
    """Mean per-landmark distance between two (N, 2) shapes once the best similarity (shift, rotation,
    scale) of `after` onto `before` is removed: how much the face's shape changed, not its pose (in aligned
    head crops the training shapes hold little head motion, so the projection also undoes pose)."""
    before = np.asarray(before_xy, dtype=np.float64)
    after = np.asarray(after_xy, dtype=np.float64)
    transform = fit_similarity(after, before)
    return float(np.linalg.norm(after @ transform[:, :2].T + transform[:, 2] - before, axis=1).mean())
