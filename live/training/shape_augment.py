"""Part-shape augmentation: training sketches whose lips and lids have another person's shape.

A driver's lips and lids differ from the target's in shape (lip thickness, lid curve),
not only in how open they are. The generator learns the target's own shapes
from a few hundred frames and draws another person's mouth smaller (issue 10).
This draws each training frame's sketch again with:

    lip thickness: each outer-lip point's distance from the nearest inner-lip point
        scaled by a random factor, one for the upper and one for the lower lip
        (the inner lips and the mouth corners do not move: mouth opening and smile stay);
    lid curve: each lid point's distance from the eye's corner line scaled by
        1 + c * t^2 (t: position along the eye, -1..1; c random), then the eye's
        opening set back (within 0.5%: one pass, exact for a flat eye) (live.face.expression_transfer.set_eye_openings);

so the photo still shows what the sketch's openings say. Variant 0 is the original sketch.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from live.face.expression import MOUTH_CORNERS, eye_openings
from live.face.expression_transfer import EYE_CONTOURS, EYE_CORNERS, set_eye_openings
from live.face.regions import PART_INDICES
from live.formats.sketch import draw_sketch

OUTER_LIPS = np.setdiff1d(PART_INDICES["outer_lips"], MOUTH_CORNERS)
INNER_LIPS = PART_INDICES["inner_lips"]
_UPRIGHT = np.eye(3)


def _thicken_lips(landmarks_px: np.ndarray, upper_factor: float, lower_factor: float) -> None:
    """Scale each outer-lip point's offset from its nearest inner-lip point, in place."""
    corners = landmarks_px[list(MOUTH_CORNERS), :2]
    axis = corners[1] - corners[0]
    normal = np.array([-axis[1], axis[0]]) / max(float(np.linalg.norm(axis)), 1e-9)
    inner = landmarks_px[INNER_LIPS, :2]
    for index in OUTER_LIPS:
        point = landmarks_px[index, :2]
        nearest = inner[np.argmin(((inner - point) ** 2).sum(axis=1))]
        upper = float((point - corners[0]) @ normal) < 0  # image y grows downwards: the upper lip is on the minus side
        landmarks_px[index, :2] = nearest + (point - nearest) * (upper_factor if upper else lower_factor)


def _bend_lids(landmarks_px: np.ndarray, curvatures: np.ndarray) -> np.ndarray:
    """Each eye's lid offsets from its corner line scaled by 1 + c t^2, then its opening set back."""
    openings = eye_openings(landmarks_px)
    for points, corners, curvature in zip(EYE_CONTOURS, EYE_CORNERS, curvatures):
        start, end = landmarks_px[corners[0], :2], landmarks_px[corners[1], :2]
        half = (end - start) / 2
        length = max(float(np.linalg.norm(half)), 1e-9)
        axis = half / length
        normal = np.array([-axis[1], axis[0]])
        offsets = landmarks_px[points, :2] - (start + half)
        along = np.clip(offsets @ axis / length, -1.0, 1.0)
        across = offsets @ normal
        landmarks_px[points, :2] += np.outer(across * curvature * along**2, normal)
    return set_eye_openings(landmarks_px, _UPRIGHT, openings)


def perturb_part_shapes(
    landmarks_px: np.ndarray, random: np.random.Generator, strength: float, lids: bool = True
) -> np.ndarray:
    """(478, 3) landmarks of an upright crop with random lip thickness and (lids) lid curves (module docstring)."""
    shape_px = np.array(landmarks_px, dtype=np.float64)
    upper, lower = np.exp(random.uniform(-strength, strength, size=2))
    _thicken_lips(shape_px, float(upper), float(lower))
    curvatures = random.uniform(-strength, strength, size=2)
    return _bend_lids(shape_px, curvatures) if lids else shape_px


def shape_variant_sketches(
    landmarks_px: np.ndarray,
    teeth_shares: Sequence[float],
    size_px: int,
    variants: int,
    strength: float,
    seed: int,
    lids: bool = True,
) -> np.ndarray:
    """(N * variants, S, S, 3) uint8 sketches, frame-major (row n * variants + v); v = 0 is the unperturbed sketch.
    `teeth_shares`: each frame's (live.face.teeth), drawn into all its variants."""
    random = np.random.default_rng(seed)
    sketches = np.empty((len(landmarks_px) * variants, size_px, size_px, 3), dtype=np.uint8)
    for frame, landmarks in enumerate(landmarks_px):
        for variant in range(variants):
            shape_px = landmarks if variant == 0 else perturb_part_shapes(landmarks, random, strength, lids)
            out_bgr = sketches[frame * variants + variant]
            draw_sketch(shape_px.astype(np.float32), size_px, out_bgr=out_bgr, teeth_share=teeth_shares[frame])
    return sketches
