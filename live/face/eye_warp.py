"""Eye-opening correction: the generated head crop's lids moved towards the opening its sketch asked for.

On faces it never saw, the generator compresses the eye openings its sketch asks for towards the target's
usual open eye (driven by another recording of the same man, an asked 0.25 of the eye's width comes out
near 0.21). That response is measured once per avatar by driving it with a clip (`live drive-eval MODEL
CLIP --fit-response`): the median drawn opening per bin of asked openings, a piecewise-linear curve
stored in the card (`EyeResponse`). At run time each eye of the generated crop is stretched, or squeezed,
across the line through its corners by

    factor = 1 + strength * (asked / drawn(asked) - 1)      (within FACTOR_LIMITS)

inside the drawn aperture (the asked lids scaled back by 1 / factor), the displacement fading linearly to
nothing over a band above the upper lid and one below the lower lid, and to nothing at the corners. It is a
small image warp (cv2.remap over each eye's box), no second network. The backward map takes the forward
displacement at the output pixel (first order: the lids move by a few pixels).

The strength is fitted too: MediaPipe reads a lid moved by a few pixels as moved by less (on this avatar's
crop, where an eye is about 20 px wide, a 1.2x stretch reads as 1.05x), so the fit drives the clip a second
time with the warp at strength 1 and sets strength = designed change / measured change (`calibrated_strength`).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from live.errors import UsageError
from live.face.expression import LEFT_EYE_CORNERS, RIGHT_EYE_CORNERS, eye_openings
from live.face.regions import PART_INDICES

EYE_CONTOURS = (PART_INDICES["right_eye"], PART_INDICES["left_eye"])
EYE_CORNERS = (RIGHT_EYE_CORNERS, LEFT_EYE_CORNERS)
LOWER_LID_MIDDLES = (145, 374)  # a lower-lid point of each eye: tells which side of the corner line is down
UPPER_BAND = 0.45  # eye widths above the upper lid over which the displacement fades out
LOWER_BAND = 0.3  # and below the lower lid
FACTOR_LIMITS = (0.6, 1.8)
STRENGTH_LIMITS = (1.0, 4.0)
OPEN_EYE = 0.15  # expected drawn opening above which an eye counts as open
FIT_BIN_WIDTH = 0.02  # of asked opening (lid gap / eye width)
# Eyes a bin needs to count. Within a bin the drawn openings spread by 0.01-0.03 (interquartile range), so
# the median of a handful moves by about as much as the correction it sets: on clm_cap12 the bin at an asked
# 0.147 held 7 eyes, drawn 0.136, and made the warp open every eye asked about 0.15 (half closed).
FIT_MIN_EYES = 20


@dataclass(frozen=True, slots=True)
class EyeResponse:
    """What the generator draws (lid gap / eye width) for each asked opening: a piecewise-linear curve."""

    asked: tuple[float, ...]
    drawn: tuple[float, ...]
    strength: float = 1.0

    def factors(self, asked: np.ndarray) -> np.ndarray:
        """1 + strength * (asked / expected drawn opening - 1), within FACTOR_LIMITS."""
        expected = np.interp(asked, self.asked, self.drawn)
        return np.clip(1.0 + self.strength * (asked / np.maximum(expected, 1e-3) - 1.0), *FACTOR_LIMITS)

    def to_dict(self) -> dict[str, list[float] | float]:
        """For the card."""
        asked, drawn = [round(v, 4) for v in self.asked], [round(v, 4) for v in self.drawn]
        return {"asked": asked, "drawn": drawn, "strength": round(self.strength, 3)}

    @classmethod
    def from_card(cls, data: dict) -> "EyeResponse | None":
        """From a card's eye_response (checked by live.formats.card_checks); None when it has none."""
        if not data:
            return None
        drawn = tuple(float(v) for v in data["drawn"])
        return cls(tuple(float(v) for v in data["asked"]), drawn, float(data.get("strength", 1.0)))


def binned_medians(
    asked: np.ndarray, drawn: np.ndarray, bin_width: float, min_members: int
) -> list[tuple[float, float]]:
    """(median asked, median drawn) of each bin of bin_width asked openings that holds min_members or more,
    in increasing order of asked (the fits of this module and live.face.mouth_response)."""
    asked, drawn = np.ravel(asked), np.ravel(drawn)
    bins = np.floor(asked / bin_width).astype(int)
    points = []
    for index in np.unique(bins):
        members = bins == index
        if members.sum() >= min_members:
            points.append((float(np.median(asked[members])), float(np.median(drawn[members]))))
    return points


def increasing_curve(
    asked: np.ndarray, drawn: np.ndarray, bin_width: float, min_members: int, refusal: str
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """binned_medians' points as (asked, drawn) with drawn made non-decreasing (the fits of this module and
    live.face.corner_warp); UsageError(refusal, its {ranges} the count of bins found) when fewer than 2."""
    points = binned_medians(asked, drawn, bin_width, min_members)
    if len(points) < 2:
        raise UsageError(refusal.format(ranges=len(points)))
    asked_points, drawn_points = (np.array(values) for values in zip(*points))
    return tuple(asked_points.tolist()), tuple(np.maximum.accumulate(drawn_points).tolist())


def fit_eye_response(asked: np.ndarray, drawn: np.ndarray) -> EyeResponse:
    """The curve through each bin's medians (bins of FIT_BIN_WIDTH asked, with FIT_MIN_EYES eyes or more;
    drawn made non-decreasing); asked, drawn: per eye and frame, the openings asked and then measured."""
    refusal = (
        f"the clip shows {{ranges}} range(s) of eye opening with {FIT_MIN_EYES}+ measured eyes; fit the eye response "
        "on a longer clip with blinks"
    )
    return EyeResponse(*increasing_curve(asked, drawn, FIT_BIN_WIDTH, FIT_MIN_EYES, refusal))


def calibrated_strength(response: EyeResponse, asked: np.ndarray, unwarped: np.ndarray, warped: np.ndarray) -> float:
    """The strength at which the warp moves the measured openings as far as designed: 1 / (measured change /
    designed change) by least squares over open eyes (expected drawn >= OPEN_EYE; a closed eye measures closed
    whatever the warp does), within STRENGTH_LIMITS. asked, unwarped, warped: per eye and frame, the asked
    opening and those measured on the output without the warp and with it at `response`'s strength."""
    asked, unwarped, warped = np.ravel(asked), np.ravel(unwarped), np.ravel(warped)
    designed = unwarped * (response.factors(asked) - 1.0)
    open_eyes = np.interp(asked, response.asked, response.drawn) >= OPEN_EYE
    designed, measured = designed[open_eyes], (warped - unwarped)[open_eyes]
    if np.sum(designed**2) < 1e-8:
        return response.strength
    efficacy = float(np.sum(measured * designed) / np.sum(designed**2))
    return float(np.clip(response.strength / max(efficacy, 1e-3), *STRENGTH_LIMITS))


def _eye_frame(landmarks_px: np.ndarray, eye: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """The eye's first corner, its axis (towards the other corner), its normal (towards the lower lid) and width."""
    start = landmarks_px[EYE_CORNERS[eye][0], :2].astype(np.float64)
    end = landmarks_px[EYE_CORNERS[eye][1], :2].astype(np.float64)
    width_px = float(np.linalg.norm(end - start))
    axis = (end - start) / max(width_px, 1e-9)
    normal = np.array([-axis[1], axis[0]])
    if (landmarks_px[LOWER_LID_MIDDLES[eye], :2] - start) @ normal < 0:
        normal = -normal
    return start, axis, normal, width_px


def _lid_curve(contour_uv: np.ndarray, upper: bool, u: np.ndarray) -> np.ndarray:
    """The upper (v < 0) or lower lid's offset across the corner line at u (0 at and beyond the corners)."""
    points = contour_uv[(contour_uv[:, 1] < 0) == upper]
    lid_u = np.concatenate([[0.0, 1.0], np.clip(points[:, 0], 0.0, 1.0)])
    lid_v = np.concatenate([[0.0, 0.0], points[:, 1]])
    order = np.argsort(lid_u)
    return np.interp(u, lid_u[order], lid_v[order])


def displacement_px(u: np.ndarray, v: np.ndarray, contour_uv: np.ndarray, factor: float, width_px: float) -> np.ndarray:
    """Forward displacement across the corner line (pixels, +: towards the lower lid) at eye coordinates u
    (eye widths along the corner line) and v (pixels across it); contour_uv: the asked lids."""
    top = _lid_curve(contour_uv, True, u) / factor  # the drawn lids: the asked aperture scaled back
    bottom = _lid_curve(contour_uv, False, u) / factor
    fade_above = np.clip(1.0 - (top - v) / (UPPER_BAND * width_px), 0.0, 1.0)
    fade_below = np.clip(1.0 - (v - bottom) / (LOWER_BAND * width_px), 0.0, 1.0)
    shift = np.where(v < top, top * fade_above, np.where(v > bottom, bottom * fade_below, v)) * (factor - 1.0)
    return np.where((u > 0.0) & (u < 1.0), shift, 0.0)


def warp_eye(image_bgr: np.ndarray, landmarks_px: np.ndarray, eye: int, factor: float) -> None:
    """Stretch one eye's aperture across its corner line by factor, in place (landmarks: the asked ones)."""
    start, axis, normal, width_px = _eye_frame(landmarks_px, eye)
    if width_px < 4.0 or abs(factor - 1.0) < 1e-3:
        return
    contour_xy = landmarks_px[EYE_CONTOURS[eye], :2].astype(np.float64)
    contour_uv = np.stack([(contour_xy - start) @ axis / width_px, (contour_xy - start) @ normal], axis=1)
    margin_px = (UPPER_BAND + 0.1) * width_px * max(factor, 1.0)
    low = np.maximum(np.floor(contour_xy.min(axis=0) - margin_px), 0).astype(int)
    high = np.minimum(np.ceil(contour_xy.max(axis=0) + margin_px), image_bgr.shape[1::-1]).astype(int)
    if np.any(high - low < 2):
        return
    grid_x, grid_y = np.meshgrid(
        np.arange(low[0], high[0], dtype=np.float64), np.arange(low[1], high[1], dtype=np.float64)
    )
    offset_x, offset_y = grid_x - start[0], grid_y - start[1]
    u = (offset_x * axis[0] + offset_y * axis[1]) / width_px
    shift = displacement_px(u, offset_x * normal[0] + offset_y * normal[1], contour_uv, factor, width_px)
    map_x = (grid_x - shift * normal[0]).astype(np.float32)
    map_y = (grid_y - shift * normal[1]).astype(np.float32)
    warped = cv2.remap(image_bgr, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    image_bgr[low[1] : high[1], low[0] : high[0]] = warped


class EyeWarp:
    """`apply(crop_bgr, crop_landmarks_px) -> crop_bgr`: both eyes' drawn lids moved to the asked openings."""

    def __init__(self, response: EyeResponse) -> None:
        self.response = response

    def apply(self, crop_bgr: np.ndarray, crop_landmarks_px: np.ndarray) -> np.ndarray:
        """Stretch each eye of the crop by its factor, in place (the generator's output is a fresh array each
        frame: no copy); returns crop_bgr."""
        factors = self.response.factors(eye_openings(crop_landmarks_px))
        for eye in range(2):
            warp_eye(crop_bgr, crop_landmarks_px, eye, float(factors[eye]))
        return crop_bgr
