"""Is it a face? Plausibility checks of a neutral face and a plate->crop transform, for the model card
(live.formats.card_checks) and the driver's calibration file (live.io.calibration_file).

Landmarks that are all zero, random, a few pixels across or far outside their frame, and a transform that is
zero, sheared or astronomically scaled, would otherwise be accepted when the file opens and fail (or run with
garbage) frames later. Each check returns the problem in words, None when plausible.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

# After the best rotation, uniform scale and shift of the head template onto a face's stable points, what is
# left over, as a share of their spread: 0.03-0.11 on the faces of the shipped clips, about 0.47 for a face
# turned 50 degrees; 0.88-1.0 for random points.
FACE_MISFIT_LIMIT = 0.5
MIN_HEAD_SIDE_PX = 16.0  # the head crop's side: a face about 9 px from forehead to chin
MAX_HEAD_SIDE_OVER_AREA = 4.0  # the head crop's side at most this many times the frame's longer side
SIMILARITY_TOLERANCE = 1e-3  # of the scale: how far a 2x3 transform may be from rotation + uniform scale


def is_number(value: Any) -> bool:
    """A finite JSON number (not a boolean)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def face_geometry_problem(
    landmarks_px: np.ndarray, area_wh: tuple[int, int], indices: list[int], points_unit: np.ndarray
) -> str | None:
    """What makes finite (478, 3) landmarks no plausible face in an area of area_wh pixels (None: plausible).

    indices and points_unit: the head template (live.face.alignment.HeadTemplate): where the stable points
    `indices` sit in a unit head crop. The face must have the template's shape up to rotation, uniform scale and
    shift (FACE_MISFIT_LIMIT), a head crop of MIN_HEAD_SIDE_PX to MAX_HEAD_SIDE_OVER_AREA times the area's longer
    side, and its centre inside the area."""
    points = np.asarray(landmarks_px, dtype=np.float64)[list(indices), :2] @ np.array([1.0, 1j])
    template = np.asarray(points_unit, dtype=np.float64) @ np.array([1.0, 1j])
    centre = points.mean()
    extent_px = float(np.abs(points - centre).max())
    if extent_px < 1e-6:
        return "are all at one point: they are no face"
    face, template = (points - centre) / extent_px, template - template.mean()
    scale = np.vdot(template, face) / np.vdot(template, template)  # least squares: face ~ scale * template
    misfit = math.sqrt(np.mean(np.abs(face - scale * template) ** 2) / np.mean(np.abs(face) ** 2))
    if misfit > FACE_MISFIT_LIMIT:
        return (
            f"do not have a face's shape (a misfit of {misfit:.2f} of their spread after the best rotation, scale "
            f"and shift; a face's is under {FACE_MISFIT_LIMIT})"
        )
    head_side_px = abs(scale) * extent_px
    width_px, height_px = area_wh
    largest_px = MAX_HEAD_SIDE_OVER_AREA * max(width_px, height_px)
    if not MIN_HEAD_SIDE_PX <= head_side_px <= largest_px:
        return (
            f"make a head {head_side_px:.3g} px across; in a {width_px}x{height_px} frame a head is "
            f"{MIN_HEAD_SIDE_PX:g} to {largest_px:g} px"
        )
    if not (0 <= centre.real <= width_px and 0 <= centre.imag <= height_px):
        return (
            f"put the face's centre at ({centre.real:.4g}, {centre.imag:.4g}), outside the {width_px}x{height_px} frame"
        )
    return None


def transform_problem(transform: np.ndarray, plate_wh: tuple[int, int], size_px: int) -> str | None:
    """What makes a finite 2x3 plate->crop transform no usable head crop (None: usable): it must be a similarity
    (rotation, uniform scale and shift) taking a square of MIN_HEAD_SIDE_PX to MAX_HEAD_SIDE_OVER_AREA times the
    plate's longer side onto the size_px crop, centred inside the plate."""
    (a, b, shift_x), (c, d, shift_y) = np.asarray(transform, dtype=np.float64).tolist()
    scale = math.hypot(a, b)
    if not scale > 0:
        return "has scale 0: it takes the whole plate to one point"
    if abs(a - d) + abs(b + c) > SIMILARITY_TOLERANCE * max(scale, math.hypot(c, d)):
        return "is not a similarity (a rotation, a uniform scale and a shift)"
    width_px, height_px = plate_wh
    side_px = size_px / scale
    largest_px = MAX_HEAD_SIDE_OVER_AREA * max(width_px, height_px)
    if not MIN_HEAD_SIDE_PX <= side_px <= largest_px:
        return (
            f"maps a square of {side_px:.3g} px of the {width_px}x{height_px} plate onto the crop; a head is "
            f"{MIN_HEAD_SIDE_PX:g} to {largest_px:g} px"
        )
    # The crop's centre back in the plate: solve [[a, b], [c, d]] @ p + shift = (size / 2, size / 2).
    centre = np.linalg.solve(np.array([[a, b], [c, d]]), np.array([size_px / 2 - shift_x, size_px / 2 - shift_y]))
    if not (0 <= centre[0] <= width_px and 0 <= centre[1] <= height_px):
        return f"puts the crop's centre at ({centre[0]:.4g}, {centre[1]:.4g}), outside the {width_px}x{height_px} plate"
    return None
