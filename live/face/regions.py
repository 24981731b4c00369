"""Facial regions (brows, eyes, nose, mouth, jaw) and per-face reference measures for retargeting."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from live.face.expression import eye_openings, mouth_opening
from live.face.pose import STABLE_POINT_INDICES, face_rotation
from live.formats.mesh_topology import PART_EDGES

REGION_PARTS: dict[str, tuple[str, ...]] = {
    "brows": ("left_brow", "right_brow"),
    "eyes": ("left_eye", "right_eye", "left_iris", "right_iris"),
    "nose": ("nose",),
    "mouth": ("outer_lips", "inner_lips"),
    "jaw": ("face_oval",),
}
REGION_NAMES: tuple[str, ...] = tuple(REGION_PARTS)
PART_INDICES: dict[str, np.ndarray] = {
    part: np.unique(np.array(edges, dtype=np.intp)) for part, edges in PART_EDGES.items()
}


@dataclass(frozen=True, slots=True)
class FaceReference:
    """A neutral face and the measures retargeting needs of it.

    neutral_px: (478, 3) float64 landmarks.
    centre_px: mean of the stable points; size_px: their RMS distance from it.
    rotation: the face's rotation (live.face.pose.face_rotation).
    region_size_px: (478,) the size of each point's region, measured in the
        face's frontal plane (RMS distance of each part's points from the part's centre).
    eye_openings: (2,) live.face.expression.eye_openings of the neutral (measured once, not per frame).
    mouth_opening: live.face.expression.mouth_opening of the neutral.
    """

    neutral_px: np.ndarray
    centre_px: np.ndarray
    size_px: float
    rotation: np.ndarray
    region_size_px: np.ndarray
    eye_openings: np.ndarray
    mouth_opening: float


def region_labels(neutral_px: np.ndarray) -> np.ndarray:
    """(478,) region index (into REGION_NAMES) of every landmark.

    Points drawn in the sketch get their part's region; every other point takes
    the region of the nearest drawn point of this face.
    """
    labels = np.full(len(neutral_px), -1, dtype=np.intp)
    for region_index, parts in enumerate(REGION_PARTS.values()):
        for part in parts:
            labels[PART_INDICES[part]] = region_index
    drawn = np.flatnonzero(labels >= 0)
    others = np.flatnonzero(labels < 0)
    distances = np.linalg.norm(neutral_px[others, None, :].astype(np.float64) - neutral_px[None, drawn, :], axis=2)
    labels[others] = labels[drawn[distances.argmin(axis=1)]]
    return labels


def region_sizes_px(frontal_px: np.ndarray) -> np.ndarray:
    """(len(REGION_NAMES),) size of each region from points already in the face's frame (x, y used)."""
    sizes = []
    for parts in REGION_PARTS.values():
        squared = [
            ((frontal_px[PART_INDICES[part], :2] - frontal_px[PART_INDICES[part], :2].mean(axis=0)) ** 2).sum(axis=1)
            for part in parts
        ]
        sizes.append(float(np.sqrt(np.concatenate(squared).mean())))
    return np.array(sizes)


def face_reference(neutral_px: np.ndarray, labels: np.ndarray) -> FaceReference:
    """Measure a neutral face once (at card load or calibration)."""
    neutral = neutral_px.astype(np.float64)
    centre_px = neutral[STABLE_POINT_INDICES].mean(axis=0)
    size_px = float(np.sqrt(((neutral[STABLE_POINT_INDICES] - centre_px) ** 2).sum(axis=1).mean()))
    rotation = face_rotation(neutral)
    frontal_px = (neutral - centre_px) @ rotation
    return FaceReference(
        neutral,
        centre_px,
        size_px,
        rotation,
        region_sizes_px(frontal_px)[labels],
        eye_openings(neutral),
        float(mouth_opening(neutral)),
    )
