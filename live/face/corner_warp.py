"""Mouth-corner correction: the generated mouth corners moved up (or down) to where the sketch asked for them.

A grin lifts the mouth corners. Driven by other people, the generator draws the corner lifts its target showed
in training and no more: the target never grinned, so a driver's grin comes out as a wide, flat talking mouth.
Measured with MediaPipe on the output (`live drive-eval` of the shipped avatar, CREMA-D's happy clip), the
corners were asked to rise by up to 0.035 face heights and were drawn rising by 0.014; within the range the
fit clip asks for, drawn follows asked one to one.

A corner's lift is its displacement along the face's down axis from where the avatar's neutral face has that
corner, once the neutral is placed on the face by a similarity of the stable points (`corner_lifts`, in face
heights, negative: up). That response is measured once per avatar, with the eye's (`live drive-eval MODEL
CLIP --fit-response`): the median lift drawn per bin of asked lifts, a piecewise-linear curve stored in the
card (`CornerResponse`), held at its ends (beyond the fit clip's range nothing is known of what the generator
draws, and it draws no farther than it saw). At run time each corner of the generated crop is moved by

    missing = asked lift - (drawn(asked lift) - drawn(0))
    shift = sign(missing) * max(|missing| - DEAD_BAND, 0)      (within SHIFT_LIMIT face heights)

drawn(0), the lift MediaPipe finds on an output asked for none, is the measure's own offset, not the generator's.

along the face's down axis, with the lips between the corners following on a smooth ramp (nothing at the
mouth's middle), the cheek above the corner rising with it and the skin around it fading to no motion: the
lip line bends into a smile's curve. It is a small image warp (cv2.remap over the mouth's box), like the eye's
(live.face.eye_warp); the backward map takes the forward displacement at the output pixel.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from live.face.alignment import ALIGNMENT_INDICES, fit_similarity
from live.face.expression import FACE_TOP_BOTTOM, MOUTH_CORNERS
from live.face.eye_warp import increasing_curve

CHIN = FACE_TOP_BOTTOM[1]
SHIFT_LIMIT = 0.03  # face heights a corner may be moved
# Face heights of missing lift left alone. Within the range it follows, the generator's drawn lift scatters about
# asked by a few thousandths (clm_cap12's bins: -0.003 to +0.005 about MediaPipe's offset); correcting that
# scatter cost the shipped avatar 0.02 dB of face PSNR on its validation frames, with nothing gained to see.
DEAD_BAND = 0.004
FIT_BIN_WIDTH = 0.004  # of asked lift (face heights)
# Corners a bin needs to count: 10 lets a 2-second clip fit (CREMA-D's happy clip: 5 bins); on clm_cap12 every bin
# holds 22 or more, so the shipped curve is the same with 10 or 20.
FIT_MIN_CORNERS = 10
# The displacement's reach, in half mouth widths from the mouth's middle: along the lips it grows from the
# middle to the corner and fades OUTSIDE beyond it; across, it fades ABOVE the lip line (the cheek) and BELOW it.
OUTSIDE = 0.6
ABOVE = 1.0
BELOW = 0.7


@dataclass(frozen=True, slots=True)
class CornerResponse:
    """What lift the generator draws (face heights, negative: up) for each asked lift: a piecewise-linear curve."""

    asked: tuple[float, ...]
    drawn: tuple[float, ...]

    def shifts(self, asked: np.ndarray) -> np.ndarray:
        """asked - expected drawn lift, less MediaPipe's offset (the lift drawn for none asked) and shrunk by
        DEAD_BAND towards 0 (face heights), within SHIFT_LIMIT."""
        asked = np.asarray(asked, dtype=np.float64)
        missing = asked - (np.interp(asked, self.asked, self.drawn) - np.interp(0.0, self.asked, self.drawn))
        return np.clip(np.sign(missing) * np.maximum(np.abs(missing) - DEAD_BAND, 0.0), -SHIFT_LIMIT, SHIFT_LIMIT)

    def to_dict(self) -> dict[str, list[float]]:
        """For the card."""
        return {"asked": [round(v, 4) for v in self.asked], "drawn": [round(v, 4) for v in self.drawn]}

    @classmethod
    def from_card(cls, data: dict) -> "CornerResponse | None":
        """From a card's corner_response (checked by live.formats.card_checks); None when it has none."""
        if not data:
            return None
        return cls(tuple(float(v) for v in data["asked"]), tuple(float(v) for v in data["drawn"]))


def _down_axis(landmarks_px: np.ndarray) -> np.ndarray:
    """Unit vector across the line through the mouth corners, towards the chin."""
    corners = landmarks_px[list(MOUTH_CORNERS), :2].astype(np.float64)
    axis = corners[1] - corners[0]
    down = np.array([-axis[1], axis[0]]) / max(float(np.linalg.norm(axis)), 1e-9)
    return down if (landmarks_px[CHIN, :2] - corners.mean(axis=0)) @ down >= 0 else -down


def corner_lifts(landmarks_px: np.ndarray, neutral_px: np.ndarray) -> np.ndarray:
    """(2,) each mouth corner's displacement along the neutral's down axis from the neutral's corner, the face
    placed on the neutral by a similarity of the stable points; in the neutral's face heights (negative: up)."""
    neutral = np.asarray(neutral_px, dtype=np.float64)
    transform = fit_similarity(np.asarray(landmarks_px)[ALIGNMENT_INDICES, :2], neutral[ALIGNMENT_INDICES, :2])
    corners = np.asarray(landmarks_px, dtype=np.float64)[list(MOUTH_CORNERS), :2] @ transform[:, :2].T
    moved = corners + transform[:, 2] - neutral[list(MOUTH_CORNERS), :2]
    height_px = float(np.linalg.norm(neutral[FACE_TOP_BOTTOM[0], :2] - neutral[CHIN, :2]))
    return moved @ _down_axis(neutral) / max(height_px, 1e-9)


def fit_corner_response(asked: np.ndarray, drawn: np.ndarray) -> CornerResponse:
    """The curve through each bin's medians (bins of FIT_BIN_WIDTH asked, FIT_MIN_CORNERS corners or more; drawn
    made non-decreasing); asked, drawn: per corner and frame, the lifts asked and then measured on the output."""
    refusal = (
        f"the clip shows {{ranges}} range(s) of mouth-corner lift with {FIT_MIN_CORNERS}+ measured corners; fit the "
        "response on a longer clip in which the driver talks and smiles"
    )
    return CornerResponse(*increasing_curve(asked, drawn, FIT_BIN_WIDTH, FIT_MIN_CORNERS, refusal))


def _raised_cosine(distance: np.ndarray, reach: float) -> np.ndarray:
    """1 at distance 0, falling smoothly to 0 at reach and beyond."""
    return np.where(distance < reach, 0.5 * (1.0 + np.cos(np.pi * np.clip(distance / reach, 0.0, 1.0))), 0.0)


def displacement_weights(along: np.ndarray, across: np.ndarray) -> np.ndarray:
    """(2, ...) how much of each corner's shift moves the point at `along` (half mouth widths from the middle
    towards the second corner) and `across` (half widths towards the chin)."""
    fade_across = _raised_cosine(np.abs(across), np.where(across < 0, ABOVE, BELOW))
    weights = []
    for side in (-1.0, 1.0):
        reach = side * along  # 0 at the middle, 1 at this corner
        ramp = np.clip(reach, 0.0, 1.0) ** 2 * (3.0 - 2.0 * np.clip(reach, 0.0, 1.0))
        weights.append(np.where(reach <= 1.0, ramp, _raised_cosine(reach - 1.0, OUTSIDE)) * fade_across)
    return np.stack(weights)


def warp_corners(image_bgr: np.ndarray, landmarks_px: np.ndarray, shifts_px: np.ndarray) -> None:
    """Move each mouth corner (and the lips and cheek around it) along the face's down axis by its shift in
    pixels, in place (landmarks: the asked ones)."""
    corners = landmarks_px[list(MOUTH_CORNERS), :2].astype(np.float64)
    middle, half_width_px = corners.mean(axis=0), float(np.linalg.norm(corners[1] - corners[0])) / 2
    if half_width_px < 3.0 or np.all(np.abs(shifts_px) < 0.05):
        return
    down = _down_axis(landmarks_px)
    axis = np.array([down[1], -down[0]])
    axis = axis if (corners[1] - corners[0]) @ axis >= 0 else -axis
    reach_px = half_width_px * (1.0 + OUTSIDE) + np.abs(shifts_px).max()
    low = np.maximum(np.floor(middle - reach_px), 0).astype(int)
    high = np.minimum(np.ceil(middle + reach_px), image_bgr.shape[1::-1]).astype(int)
    if np.any(high - low < 2):
        return
    grid_x, grid_y = np.meshgrid(np.arange(low[0], high[0], dtype=float), np.arange(low[1], high[1], dtype=float))
    offset_x, offset_y = grid_x - middle[0], grid_y - middle[1]
    along = (offset_x * axis[0] + offset_y * axis[1]) / half_width_px
    across = (offset_x * down[0] + offset_y * down[1]) / half_width_px
    shift = np.tensordot(np.asarray(shifts_px, dtype=np.float64), displacement_weights(along, across), axes=1)
    map_x = (grid_x - shift * down[0]).astype(np.float32)
    map_y = (grid_y - shift * down[1]).astype(np.float32)
    warped = cv2.remap(image_bgr, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    image_bgr[low[1] : high[1], low[0] : high[0]] = warped


class CornerWarp:
    """`apply(crop_bgr, crop_landmarks_px) -> crop_bgr`: the drawn mouth corners moved to the asked lifts."""

    def __init__(self, response: CornerResponse, neutral_px: np.ndarray) -> None:
        self.response = response
        self.neutral_px = np.asarray(neutral_px, dtype=np.float64)

    def apply(self, crop_bgr: np.ndarray, crop_landmarks_px: np.ndarray) -> np.ndarray:
        """Move both corners of the crop by their shifts, in place; returns crop_bgr."""
        shifts = self.response.shifts(corner_lifts(crop_landmarks_px, self.neutral_px))
        top, chin = crop_landmarks_px[FACE_TOP_BOTTOM[0], :2], crop_landmarks_px[CHIN, :2]
        warp_corners(crop_bgr, crop_landmarks_px, shifts * float(np.linalg.norm(top - chin)))
        return crop_bgr
