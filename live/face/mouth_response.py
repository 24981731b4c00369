"""Mouth-opening correction: the sketch's lips set so that the generator draws the opening that was wanted.

Driven by other people, the generator does not draw a mouth as open as its sketch asks: it snaps from
closed lips to a mouth about 0.05 face heights open and draws a middle opening wider than asked (`live
drive-eval MODEL --response` on the neutral, and per frame of a driven clip).
That response is measured once per avatar by driving it with a clip (`live drive-eval MODEL CLIP
--fit-response`): the median opening drawn per bin of asked openings (inner-lip gap / face height,
MediaPipe's measure on both), a piecewise-linear, increasing curve stored in the card (`MouthResponse`).
The retargeter then asks, for each frame, for the opening the curve says is drawn as the one it wanted
(`correct_mouth_opening`). `live drive-eval --fit-response` keeps the curve only if it raises the fit
clip's mouth r without lowering its smile r by more: an avatar that draws mouths in proportion to its
sketch gains nothing from it. Unlike the eye (live.face.eye_warp,
which moves the lids after the generator), the mouth is corrected before it, in the sketch: the
generator draws the lips and the inside of the mouth, which an image warp would stretch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from live.errors import UsageError
from live.face.expression import mouth_opening
from live.face.expression_transfer import mouth_gap_in_plane, set_mouth_opening
from live.face.eye_warp import binned_medians

FIT_BIN_WIDTH = 0.01  # of asked opening (inner-lip gap / face height)
FIT_MIN_FRAMES = 5  # frames a bin needs to count


@dataclass(frozen=True, slots=True)
class MouthResponse:
    """What the generator draws (inner-lip gap / face height) for each asked opening: asked and drawn both
    increasing."""

    asked: tuple[float, ...]
    drawn: tuple[float, ...]

    def asked_for(self, wanted: float) -> float:
        """The opening to ask for so that the generator draws `wanted`: the curve inverted, held at its ends
        (beyond the fit clip's widest mouth nothing is known of what the generator draws)."""
        return float(np.interp(wanted, self.drawn, self.asked))

    def to_dict(self) -> dict[str, list[float]]:
        """For the card."""
        return {"asked": [round(v, 4) for v in self.asked], "drawn": [round(v, 4) for v in self.drawn]}

    @classmethod
    def from_card(cls, data: dict) -> "MouthResponse | None":
        """From a card's mouth_response (checked by live.formats.card_checks); None when it has none."""
        if not data:
            return None
        return cls(tuple(float(v) for v in data["asked"]), tuple(float(v) for v in data["drawn"]))


def fit_mouth_response(asked: np.ndarray, drawn: np.ndarray) -> MouthResponse:
    """The curve through each bin's medians (bins of FIT_BIN_WIDTH asked with FIT_MIN_FRAMES frames or more),
    keeping only points that draw wider than every point before them (so the curve can be inverted);
    asked, drawn: per frame, the opening asked and then measured on the output."""
    points: list[tuple[float, float]] = []
    for point in binned_medians(asked, drawn, FIT_BIN_WIDTH, FIT_MIN_FRAMES):
        if not points or point[1] > points[-1][1]:
            points.append(point)
    if len(points) < 2:
        raise UsageError(
            f"the clip shows {len(points)} range(s) of mouth opening with {FIT_MIN_FRAMES}+ measured frames; fit the "
            "mouth response on a longer clip in which the driver talks"
        )
    asked_points, drawn_points = zip(*points)
    return MouthResponse(tuple(asked_points), tuple(drawn_points))


def correct_mouth_opening(shape_px: np.ndarray, rotation: np.ndarray, response: MouthResponse) -> np.ndarray:
    """The shape with the lips moved so that its opening is the one the generator draws as the shape's own.
    The opening is measured as MediaPipe measures the output (the 3D distance between the inner lips, in face
    heights); the lips move in the face's plane (live.face.expression_transfer.set_mouth_opening), so the
    part of that distance out of the plane's gap (depth) is kept and the gap set to make up the rest."""
    measured = float(mouth_opening(shape_px))
    gap = mouth_gap_in_plane(shape_px, rotation)
    out_of_gap_squared = max(measured**2 - gap**2, 0.0)
    wanted = response.asked_for(measured)
    return set_mouth_opening(shape_px, rotation, float(np.sqrt(max(wanted**2 - out_of_gap_squared, 0.0))))
