"""The person's matte: where the avatar's frame shows the person, for a background other than the plate's own.

The plate's person is segmented once (live.engines.segmentation); `plate_matte` cleans that mask (openings of
OPEN_FRACTION of the frame's height cut the thin spikes where the segmentation ran into the background, parts
under MIN_PART_SHARE of the largest go) and feathers its edge (a Gaussian of FEATHER_FRACTION, centred on the
edge, so that no band of the old background stays around the hair: no halo).

Each frame, `PersonMatte.matte` moves that matte by exactly the warps that moved the person's pixels:

- the body's shift (live.face.body.BodyPlate moves the whole person by it);
- the head's move (live.face.head_plate.HeadPlate.follow): the plate's person P is split by the head's own
  alpha H into its head, P * H, and the rest, P * (1 - H) (they add up to P); the head part is moved by the
  head's warp, the rest stays with the body, and the two are added. Where the head moved away, the frame shows
  HeadPlate's fill (inpainted background): transparent, not a grey sliver beside the turned head; a head that
  did not move leaves the matte as it was. HeadPlate leaves the jaw's sides below the ears with the body: beside
  a head that moved away they float as a thin sliver (a doubled jaw line), which an opening of the part that
  stays cuts (REMNANT_OPEN_FRACTION; the neck, the collar and the shoulders are wider). The cut fades in as the
  face's outline moves from REMNANT_FADE_FACE_HEIGHTS[0] to [1] away from the plate's;
- the neck: where the head moved, the plate's neck moved with it and the body kept a hole where its neck was,
  but the generator paints the neck from the avatar's jaw down to the collar (a bite out of the neck showed the
  background beside the jaw, or a band across it when the head rose). Within `neck_px`, a polygon from the
  jaw's outline (corner to corner) narrowing to NECK_HALF_WIDTH_FACE_HEIGHTS either side of the body's neck
  where the body's matte is whole, the plate's person moved with the head or left with the body (whichever is
  more opaque) is kept: no more than the person the plate had there, so no halo beside a neck narrower than
  the jaw, and nothing changes while the head stays at the plate's pose;
- then the generated face: the face oval of the avatar's landmarks is filled (the generator paints the face
  there, wherever the plate's moved head was), joined with the plate's hair, ears and neck around it.
"""

from __future__ import annotations

import cv2
import numpy as np

from live.face.body import face_height_px
from live.face.expression import FACE_TOP_BOTTOM
from live.face.head_plate import (
    FACE_OUTLINE,
    MIN_MOVE_PX,
    NECK_FADE_FACE_HEIGHTS,
    NECK_HALF_WIDTH_FACE_HEIGHTS,
    HeadPlate,
)

OPEN_FRACTION = 0.012  # of the frame's height: spikes and specks thinner than this are cut (7 px at 480)
REMNANT_OPEN_FRACTION = 0.03  # of the frame's height: remnants of the old head thinner than this are cut
REMNANT_FADE_FACE_HEIGHTS = (0.015, 0.04)  # the remnants are whole while the face moved less, cut beyond
MIN_PART_SHARE = 0.05  # parts of the mask smaller than this share of the largest are dropped
FEATHER_FRACTION = 0.0025  # of the frame's height: the Gaussian's sigma on the matte's edge (1.2 px at 480)
OVAL_SHIFT_BITS = 4  # the face oval is drawn at 1/16 px
JAW = FACE_OUTLINE[list(FACE_OUTLINE).index(288) : list(FACE_OUTLINE).index(58) + 1]  # jaw corner, chin, jaw corner
NECK_BELOW_CHIN_FACE_HEIGHTS = 0.05  # the neck's polygon reaches at least this far below the avatar's chin


def _ellipse(size_px: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size_px, size_px))


def opening_px(height_px: int, fraction: float = OPEN_FRACTION) -> int:
    """The odd size of an opening of `fraction` of the frame's height."""
    return 2 * max(1, round(fraction * height_px / 2)) + 1


def plate_matte(person_mask: np.ndarray) -> np.ndarray:
    """(H, W) float32 in [0, 1] of a (H, W) person mask (non-zero: the person): cleaned and feathered (module
    docstring)."""
    height_px = person_mask.shape[0]
    mask = cv2.morphologyEx((person_mask > 0).astype(np.uint8), cv2.MORPH_OPEN, _ellipse(opening_px(height_px)))
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    if count > 2:
        areas = stats[1:, cv2.CC_STAT_AREA]
        kept = np.flatnonzero(areas >= MIN_PART_SHARE * areas.max()) + 1
        mask = np.isin(labels, kept).astype(np.uint8)
    sigma_px = max(0.5, FEATHER_FRACTION * height_px)
    return cv2.GaussianBlur(mask.astype(np.float32), (0, 0), sigma_px)


def _fill(alpha: np.ndarray, outline_px: np.ndarray) -> None:
    """The polygon `outline_px` (x, y) filled opaque into `alpha`, in place, its edge antialiased at 1/16 px."""
    points = np.round(outline_px * (1 << OVAL_SHIFT_BITS)).astype(np.int32)
    cv2.fillPoly(alpha, [points], 255, lineType=cv2.LINE_AA, shift=OVAL_SHIFT_BITS)


class PersonMatte:
    """`matte(shift_px, landmarks_px)`: the (H, W) uint8 alpha of a frame (255: the person), the plate's person
    moved as the frame's body and head were moved (module docstring). One per run; safe from several generator
    workers (its cache is one attribute, read and replaced whole)."""

    def __init__(
        self,
        person_mask: np.ndarray,
        head_plate: HeadPlate | None = None,
        plate_landmarks_px: np.ndarray | None = None,
    ) -> None:
        self.person_u8 = np.round(plate_matte(person_mask) * 255.0).astype(np.uint8)
        remnant_px = opening_px(person_mask.shape[0], REMNANT_OPEN_FRACTION)
        self._opening = cv2.getStructuringElement(cv2.MORPH_RECT, (remnant_px, remnant_px))
        self.head_plate = head_plate if head_plate is not None and head_plate.has_head else None
        if self.head_plate is not None and plate_landmarks_px is None:
            raise ValueError("a head plate needs the plate's own landmarks")
        if self.head_plate is not None:
            y0, y1, x0, x1 = self.head_plate.box
            self._head_alpha = np.round(self.head_plate.alpha[y0:y1, x0:x1] * 255.0).astype(np.uint8)
            plate_px = np.asarray(plate_landmarks_px, dtype=np.float64)
            self._outline_px = plate_px[FACE_OUTLINE, :2]
            self._face_height_px = max(1.0, face_height_px(plate_px))
            top, chin = (plate_px[index, :2] for index in FACE_TOP_BOTTOM)
            self._down = (chin - top) / max(1e-6, float(np.linalg.norm(chin - top)))
            self._body_top_px = chin + self._down * NECK_FADE_FACE_HEIGHTS[1] * self._face_height_px
        self._last: tuple[tuple[float, float], np.ndarray] | None = None

    def shifted(self, shift_px: tuple[float, float] | None) -> np.ndarray:
        """The plate's matte moved by the body's shift (uint8; do not write to it)."""
        if shift_px is None or tuple(shift_px) == (0.0, 0.0):
            return self.person_u8
        last = self._last
        if last is not None and last[0] == tuple(shift_px):
            return last[1]
        move = np.float32([[1, 0, shift_px[0]], [0, 1, shift_px[1]]])
        size = (self.person_u8.shape[1], self.person_u8.shape[0])
        moved = cv2.warpAffine(self.person_u8, move, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        self._last = (tuple(shift_px), moved)
        return moved

    def matte(self, shift_px: tuple[float, float] | None, landmarks_px: np.ndarray | None) -> np.ndarray:
        """The frame's alpha: the body shifted by `shift_px` (as live.face.body.BodyPlate was, rounded), the head
        moved onto the avatar's face at `landmarks_px` (plate pixels), the neck joined and that face's oval filled.
        A new array."""
        alpha = self.shifted(shift_px).copy()
        if landmarks_px is None:
            return alpha
        if self.head_plate is not None:
            self._move_head(alpha, shift_px or (0.0, 0.0), landmarks_px)
        _fill(alpha, np.asarray(landmarks_px)[FACE_OUTLINE, :2])
        return alpha

    def neck_px(self, face_px: np.ndarray, shift_px: tuple[float, float]) -> np.ndarray:
        """(N, 2) x, y: the polygon of the neck between the avatar's jaw (`face_px`, its landmarks) and the top of
        the body's matte moved by `shift_px`: the jaw's outline from corner to corner (JAW), then two points
        NECK_HALF_WIDTH_FACE_HEIGHTS either side of the plate's face axis where the body's matte is whole
        (NECK_FADE_FACE_HEIGHTS[1] below the plate's chin, moved with the body), at least
        NECK_BELOW_CHIN_FACE_HEIGHTS below the avatar's chin. Needs the head plate."""
        chin = face_px[FACE_TOP_BOTTOM[1], :2]
        centre = self._body_top_px + shift_px
        reach_px = NECK_BELOW_CHIN_FACE_HEIGHTS * self._face_height_px
        centre = centre + self._down * max(0.0, float((chin - centre) @ self._down) + reach_px)
        across = np.array([-self._down[1], self._down[0]]) * NECK_HALF_WIDTH_FACE_HEIGHTS * self._face_height_px
        return np.vstack([face_px[JAW, :2], centre + across, centre - across])

    def _move_head(self, alpha: np.ndarray, shift_px: tuple[float, float], landmarks_px: np.ndarray) -> None:
        """Inside the head's box, in place: the head's matte moved as HeadPlate.follow moves the head's pixels,
        the neck between it and the body joined (module docstring)."""
        assert self.head_plate is not None
        shift_x, shift_y = shift_px
        move = self.head_plate.head_transform(landmarks_px)
        y0, y1, x0, x1 = self.head_plate.box
        corners = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=np.float64)
        moved_corners = corners @ move[:, :2].T + move[:, 2]
        if float(np.abs(moved_corners - corners - (shift_x, shift_y)).max()) < MIN_MOVE_PX:
            return  # the plate's head was left where the body put it
        size = (x1 - x0, y1 - y0)
        to_box = move.copy()
        to_box[:, 2] += move[:, 0] * x0 + move[:, 1] * y0 - (x0, y0)
        from_source = to_box.copy()
        from_source[:, 2] -= move[:, 0] * shift_x + move[:, 1] * shift_y
        source = alpha[y0:y1, x0:x1]  # 8 bits throughout: a third of the time of float32
        head = cv2.warpAffine(source, from_source, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        still_alpha = self._head_alpha
        if shift_x != 0.0 or shift_y != 0.0:
            body_move = np.float32([[1, 0, shift_x], [0, 1, shift_y]])
            still_alpha = cv2.warpAffine(still_alpha, body_move, size, flags=cv2.INTER_LINEAR)
        person = cv2.max(head, source)  # the plate's whole person, moved with the head or with the body
        head = cv2.multiply(head, cv2.warpAffine(self._head_alpha, to_box, size, flags=cv2.INTER_LINEAR), scale=1 / 255)
        body = cv2.multiply(source, cv2.bitwise_not(still_alpha), scale=1 / 255)
        cut = self._remnant_cut(move, shift_px)
        if cut > 0.0:
            body = cv2.addWeighted(cv2.morphologyEx(body, cv2.MORPH_OPEN, self._opening), cut, body, 1.0 - cut, 0.0)
        neck = np.zeros_like(person)
        _fill(neck, self.neck_px(np.asarray(landmarks_px, dtype=np.float64), shift_px) - (x0, y0))
        alpha[y0:y1, x0:x1] = cv2.max(cv2.add(head, body), cv2.multiply(person, neck, scale=1 / 255))

    def _remnant_cut(self, move: np.ndarray, shift_px: tuple[float, float]) -> float:
        """0 to 1: how much of the old head's slivers to cut, by how far the face's outline moved from the plate's
        (on top of the body's shift), in face heights (REMNANT_FADE_FACE_HEIGHTS)."""
        moved = self._outline_px @ move[:, :2].T + move[:, 2]
        distance = float(np.linalg.norm(moved - self._outline_px - shift_px, axis=1).max()) / self._face_height_px
        start, end = REMNANT_FADE_FACE_HEIGHTS
        return float(np.clip((distance - start) / (end - start), 0.0, 1.0))
