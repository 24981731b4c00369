"""Expression relative to each face's own neutral and range (eyes, mouth), and the shape clamp's exception.

The retargeter moves the target's points by the driver's displacement from its
neutral, region by region. That keeps the mouth and smile (driver vs retargeted
correlation 0.98 on the other recording), but eyes differ in how open they are:
a driver whose neutral eye is wider than the target's would push the target's
lids through each other, a narrower one would never close them. So each eye's
opening is set explicitly:

    closure = (driver opening - CLOSED_EYE_OPENING) / (driver neutral - CLOSED_EYE_OPENING)
    target opening = target closed + closure * (target neutral - target closed)

clamped to the openings the target showed in training (ExpressionRange, from the
card; a driver's full blink reaches the target's most closed eye seen in training).

The mouth's opening is set the same way, from closed lips rather than from the
neutral: the target's neutral is the median of a recording in which it talks
(lips apart), and a driver may calibrate while talking, so displacements alone
left the avatar's mouth open whenever the driver's was closed. The driver's
inner-lip gap beyond closed lips (both in face heights) is added to the
target's most closed mouth seen in training:

    target opening = target closed + max(0, driver opening - min(driver neutral, CLOSED_MOUTH_OPENING))

The shape space (live/face/shape_space.py) keeps 0.999 of the training shapes'
variance; lid and lip motion is far below that share, so its projection erased
blinks and smiles the target did show. `keep_local_shape` puts back, for the eye
and lip contours, the shape the projection removed (their position still follows
the clamped face), and `clamp_openings` keeps their openings inside the training range.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from live.face.alignment import fit_similarity
from live.face.expression import (
    FACE_TOP_BOTTOM,
    INNER_LIPS,
    LEFT_EYE_CORNERS,
    RIGHT_EYE_CORNERS,
    eye_openings,
    mouth_opening,
)
from live.face.regions import PART_INDICES

# MediaPipe's lid gap / eye width on a closed eye (0.06-0.08 on the shipped clips, 0.03 on clm_cap13).
CLOSED_EYE_OPENING = 0.07
# MediaPipe's inner-lip gap / face height on closed lips (0.00-0.01 on every clip shipped or shared).
CLOSED_MOUTH_OPENING = 0.01
EYE_CONTOURS = (PART_INDICES["right_eye"], PART_INDICES["left_eye"])
EYE_CORNERS = (RIGHT_EYE_CORNERS, LEFT_EYE_CORNERS)
LIP_POINTS = np.union1d(PART_INDICES["outer_lips"], PART_INDICES["inner_lips"])
MOUTH_CORNERS_INNER = (78, 308)
# Every lip point but the corners, above and below the mouth's opening (outer and inner contour).
UPPER_LIP_POINTS = np.array([185, 40, 39, 37, 0, 267, 269, 270, 409, 191, 80, 81, 82, 13, 312, 311, 310, 415])
LOWER_LIP_POINTS = np.array([146, 91, 181, 84, 17, 314, 405, 321, 375, 95, 88, 178, 87, 14, 317, 402, 318, 324])
# Points whose local shape the shape clamp keeps: eye contours, irises, lips.
LOCAL_SHAPE_GROUPS = (
    np.union1d(PART_INDICES["right_eye"], PART_INDICES["right_iris"]),
    np.union1d(PART_INDICES["left_eye"], PART_INDICES["left_iris"]),
    LIP_POINTS,
)


@dataclass(frozen=True, slots=True)
class ExpressionRange:
    """The openings a target showed in training: eye (lid gap / width) and mouth (inner-lip gap / face height;
    mouth_low: its most closed lips, the 5th percentile)."""

    eye_low: float
    eye_high: float
    mouth_high: float
    mouth_low: float = 0.0

    @classmethod
    def from_card(cls, data: dict, neutral_px: np.ndarray) -> "ExpressionRange":
        """From a card's expression_range (live.face.coverage), or a guess around the neutral for older cards."""
        if data:
            mouth_low = float(data.get("percentiles", {}).get("mouth", {}).get("p5", 0.0))
            return cls(float(data["eye"]["low"]), float(data["eye"]["high"]), float(data["mouth"]["high"]), mouth_low)
        neutral_eye = float(eye_openings(neutral_px).mean())
        return cls(min(CLOSED_EYE_OPENING, neutral_eye), 1.3 * neutral_eye, float("inf"))


def wanted_eye_openings(
    driver_px: np.ndarray, driver_neutral: np.ndarray, target_neutral: np.ndarray, limits: ExpressionRange
) -> np.ndarray:
    """(2,) the target's eye openings for the driver's (module docstring), within the training range;
    driver_neutral and target_neutral: (2,) eye openings of the two neutral faces."""
    driver = eye_openings(driver_px)
    closure = (driver - CLOSED_EYE_OPENING) / np.maximum(driver_neutral - CLOSED_EYE_OPENING, 1e-3)
    wanted = limits.eye_low + closure * np.maximum(target_neutral - limits.eye_low, 0.0)
    return np.clip(wanted, limits.eye_low, limits.eye_high)


def wanted_mouth_opening(driver_px: np.ndarray, driver_neutral: float, limits: ExpressionRange) -> float:
    """The target's mouth opening for the driver's (module docstring), within the training range;
    driver_neutral: the mouth opening of the driver's neutral face."""
    driver_closed = min(driver_neutral, CLOSED_MOUTH_OPENING)
    wanted = limits.mouth_low + max(float(mouth_opening(driver_px)) - driver_closed, 0.0)
    return min(wanted, limits.mouth_high)


def _mouth_frame(frontal: np.ndarray) -> tuple[np.ndarray, np.ndarray, float, np.ndarray, float, float]:
    """In the face's plane: the first inner mouth corner, the corner line's axis, the mouth's width, the normal
    (from the upper lip to the lower), the face's height and the inner-lip gap across the corner line (pixels)."""
    start, end = frontal[MOUTH_CORNERS_INNER[0], :2], frontal[MOUTH_CORNERS_INNER[1], :2]
    width = max(float(np.linalg.norm(end - start)), 1e-9)
    axis = (end - start) / width
    normal = np.array([-axis[1], axis[0]])
    top, bottom = frontal[FACE_TOP_BOTTOM[0]], frontal[FACE_TOP_BOTTOM[1]]
    if (bottom[:2] - top[:2]) @ normal < 0:
        normal = -normal  # pointing from the upper lip to the lower
    gap_px = float((frontal[INNER_LIPS[1], :2] - frontal[INNER_LIPS[0], :2]) @ normal)
    return start, axis, width, normal, float(np.linalg.norm(bottom - top)), gap_px


def mouth_gap_in_plane(shape_px: np.ndarray, rotation: np.ndarray) -> float:
    """The inner-lip gap across the corner line in the face's plane, in face heights (what set_mouth_opening sets)."""
    *_, face_height_px, gap_px = _mouth_frame(np.asarray(shape_px, dtype=np.float64) @ rotation)
    return gap_px / max(face_height_px, 1e-9)


def set_mouth_opening(shape_px: np.ndarray, rotation: np.ndarray, wanted: float) -> np.ndarray:
    """The shape with the lips moved apart or together (in the face's plane, across the line through the
    inner mouth corners) until the inner-lip gap is `wanted` face heights. The upper and lower lip each move
    half the change, most at the middle and not at all at the corners."""
    shape_px = np.array(shape_px, dtype=np.float64)
    frontal = shape_px @ rotation
    start, axis, width, normal, face_height_px, gap_px = _mouth_frame(frontal)
    change_px = wanted * face_height_px - gap_px
    for points, share in ((UPPER_LIP_POINTS, -0.5), (LOWER_LIP_POINTS, 0.5)):
        along = np.clip((frontal[points, :2] - start) @ axis / width, 0.0, 1.0)
        frontal[points, :2] += np.outer(share * change_px * np.sin(np.pi * along), normal)
        shape_px[points] = frontal[points] @ rotation.T
    return shape_px


def _scale_aperture(
    shape_px: np.ndarray, points: np.ndarray, corners: tuple[int, int], rotation: np.ndarray, factor: float
) -> None:
    """Scale the points' distance from the line through two corners (in the face's plane) by factor, in place."""
    frontal = shape_px @ rotation
    start, end = frontal[corners[0], :2], frontal[corners[1], :2]
    axis = (end - start) / max(float(np.linalg.norm(end - start)), 1e-9)
    normal = np.array([-axis[1], axis[0]])
    offsets = (frontal[points, :2] - start) @ normal
    frontal[points, :2] -= np.outer(offsets * (1.0 - factor), normal)
    shape_px[points] = frontal[points] @ rotation.T


def set_eye_openings(shape_px: np.ndarray, rotation: np.ndarray, wanted: np.ndarray) -> np.ndarray:
    """The shape with each eye's lids moved (about the corner line) to the wanted openings."""
    shape_px = np.array(shape_px, dtype=np.float64)
    current = eye_openings(shape_px)
    for eye, (points, corners) in enumerate(zip(EYE_CONTOURS, EYE_CORNERS)):
        if current[eye] > 1e-3:
            _scale_aperture(shape_px, points, corners, rotation, float(np.clip(wanted[eye] / current[eye], 0.0, 10.0)))
    return shape_px


def keep_local_shape(projected_px: np.ndarray, original_px: np.ndarray) -> np.ndarray:
    """The projected shape with the eye and lip contours' own shape from the original: the original is first
    brought onto the projected face by the best similarity (the projection may also have changed the head's
    scale or roll, which the contours must follow), then each contour's shape (not its mean) is restored."""
    result = np.array(projected_px, dtype=np.float32)
    original_xy = original_px[:, :2].astype(np.float64)
    transform = fit_similarity(original_xy, projected_px[:, :2])
    aligned_xy = original_xy @ transform[:, :2].T + transform[:, 2]
    for points in LOCAL_SHAPE_GROUPS:
        residual = aligned_xy[points] - projected_px[points, :2]
        result[points, :2] += residual - residual.mean(axis=0)
    return result


def clamp_openings(shape_px: np.ndarray, rotation: np.ndarray, limits: ExpressionRange) -> np.ndarray:
    """Eye and mouth openings pulled back inside the training range (only the parts outside it move)."""
    shape_px = np.array(shape_px, dtype=np.float64)
    openings = eye_openings(shape_px)
    clamped = np.clip(openings, limits.eye_low, limits.eye_high)
    if np.any(np.abs(clamped - openings) > 1e-6):
        shape_px = set_eye_openings(shape_px, rotation, clamped)
    mouth = float(mouth_opening(shape_px))
    if np.isfinite(limits.mouth_high) and mouth > limits.mouth_high > 0:
        face_height = float(np.linalg.norm(shape_px[FACE_TOP_BOTTOM[0]] - shape_px[FACE_TOP_BOTTOM[1]]))
        factor = limits.mouth_high / mouth if face_height > 0 else 1.0
        _scale_aperture(shape_px, LIP_POINTS, MOUTH_CORNERS_INNER, rotation, factor)
    return shape_px
