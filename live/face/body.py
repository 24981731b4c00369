"""The body follows: the driver's body shift, measured below the face, moves the person on the target's plate.

The avatar paints the head; everything else is the plate, the target's still frame. A body that never moves
looks pasted on, and when the target's own recording sat a pixel or two lower than its plate, the collar
and shoulders are where the avatar's frame differs most from it (docs/experiments.md, "Head and body follow").

- `body_band`: the rows below the chin (from 0.15 face heights under it to the frame's bottom), 1.5 face
  widths either side of the face's middle.
- `BodyRegistration`: a reference band (a calibration frame, or the target's plate) and its person mask;
  `measure` aligns a later frame's band to it (OpenCV's ECC, translation only, at half its size, over the
  person's pixels) and returns the body's shift in pixels, or None when it cannot be measured.
- `BodyPlate`: the plate with its person (segmented once) moved by a shift and laid back over it; the
  background stays where it is.
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

from live.face.expression import FACE_TOP_BOTTOM
from live.face.smoothing import OneEuroFilter, OneEuroParameters

BAND_BELOW_CHIN = 0.15  # face heights between the chin and the band's top
BAND_HALF_WIDTH = 1.5  # face widths either side of the face's middle
MIN_BAND_ROWS_PX = 24
PERSON_GROW_FRACTION = 0.004  # of the plate's height: how far the moved person reaches past its segmentation
ECC_ITERATIONS = 10
ECC_EPSILON = 1e-3


def body_band(frame_shape: tuple[int, ...], landmarks_px: np.ndarray) -> tuple[int, int, int, int] | None:
    """(y0, y1, x0, x1) of the band below the face, or None when the frame leaves too little of it."""
    height_px, width_px = frame_shape[:2]
    chin = landmarks_px[FACE_TOP_BOTTOM[1], :2]
    face_height = face_height_px(landmarks_px)
    face_width = float(np.ptp(landmarks_px[:, 0]))
    middle_x = float(landmarks_px[:, 0].mean())
    y0 = int(round(chin[1] + BAND_BELOW_CHIN * face_height))
    x0 = max(0, int(round(middle_x - BAND_HALF_WIDTH * face_width)))
    x1 = min(width_px, int(round(middle_x + BAND_HALF_WIDTH * face_width)))
    if height_px - y0 < MIN_BAND_ROWS_PX or x1 - x0 < MIN_BAND_ROWS_PX:
        return None
    return max(0, y0), height_px, x0, x1


def face_height_px(landmarks_px: np.ndarray) -> float:
    """Forehead-to-chin distance."""
    return float(np.linalg.norm(landmarks_px[FACE_TOP_BOTTOM[1], :2] - landmarks_px[FACE_TOP_BOTTOM[0], :2]))


REGISTRATION_SCALE = 2  # the band is registered at half its size (a quarter measured 10% short)
SHIFT_STEP_PX = 0.1  # plates are composed for shifts rounded to this; the last one is reused


def _reduced(image: np.ndarray) -> np.ndarray:
    size = (image.shape[1] // REGISTRATION_SCALE, image.shape[0] // REGISTRATION_SCALE)
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


class BodyRegistration:
    """A reference band of one frame; `measure(image_bgr)` gives the body's (dx, dy) pixels since then."""

    def __init__(self, image_bgr: np.ndarray, person_mask: np.ndarray, band: tuple[int, int, int, int]) -> None:
        self.band = band
        self.frame_shape = image_bgr.shape[:2]
        y0, y1, x0, x1 = band
        self._reference = _reduced(cv2.cvtColor(image_bgr[y0:y1, x0:x1], cv2.COLOR_BGR2GRAY))
        self._mask = (_reduced(person_mask[y0:y1, x0:x1] * 255) > 127).astype(np.uint8)
        self._warp = np.eye(2, 3, dtype=np.float32)  # the last measurement: the next one starts from it

    @property
    def usable(self) -> bool:
        """Whether the band shows enough of the person to register (a tenth of it at least)."""
        return bool(self._mask.mean() > 0.1)

    def measure(self, image_bgr: np.ndarray) -> tuple[float, float] | None:
        """The person's shift in the band since the reference, in pixels (+x right, +y down); None when
        ECC does not converge (too little texture, the body left the band). Starts from the last shift."""
        y0, y1, x0, x1 = self.band
        band = _reduced(cv2.cvtColor(image_bgr[y0:y1, x0:x1], cv2.COLOR_BGR2GRAY))
        criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, ECC_ITERATIONS, ECC_EPSILON)
        try:
            _, warp = cv2.findTransformECC(
                self._reference, band, self._warp.copy(), cv2.MOTION_TRANSLATION, criteria, self._mask, 3
            )
        except cv2.error:  # OpenCV reports non-convergence as an error: no measurement for this frame
            self._warp = np.eye(2, 3, dtype=np.float32)
            return None
        self._warp = warp
        return float(warp[0, 2]) * REGISTRATION_SCALE, float(warp[1, 2]) * REGISTRATION_SCALE


class BodyPlate:
    """`shifted((dx, dy))`: the plate with its person moved by (dx, dy) pixels, background unchanged."""

    def __init__(self, plate_bgr: np.ndarray, person_mask: np.ndarray) -> None:
        self.plate_bgr = plate_bgr
        # grown past the segmentation's edge (which falls a pixel or two inside the person's outline, whose
        # fringe would otherwise stay behind as a line) and feathered
        grow_px = 2 * max(1, round(PERSON_GROW_FRACTION * plate_bgr.shape[0])) + 1
        grown = cv2.dilate(
            person_mask.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (grow_px, grow_px))
        )
        self._person = cv2.GaussianBlur(grown.astype(np.float32), (grow_px, grow_px), 0)
        rows, columns = np.nonzero(grown)
        self.has_person = rows.size > 0
        self._box = (rows.min(), rows.max() + 1, columns.min(), columns.max() + 1) if self.has_person else None
        self._last: tuple[tuple[float, float], np.ndarray] | None = None

    @staticmethod
    def rounded(shift_px: tuple[float, float]) -> tuple[float, float]:
        """The shift as the plate is composed for it: each component rounded to SHIFT_STEP_PX."""
        dx, dy = (round(value / SHIFT_STEP_PX) * SHIFT_STEP_PX for value in shift_px)
        return float(dx), float(dy)

    def shifted(self, shift_px: tuple[float, float]) -> np.ndarray:
        """A plate-sized image (do not write to it): the shift rounded to SHIFT_STEP_PX, the last one's image
        when it rounds the same (the smoothed shift moves slowly), the plate itself for no shift."""
        dx, dy = self.rounded(shift_px)
        if not self.has_person or (dx, dy) == (0.0, 0.0):
            return self.plate_bgr
        last = self._last  # one attribute, read and replaced whole: safe from several generator workers
        if last is not None and last[0] == (dx, dy):
            return last[1]
        plate_bgr = self._compose(dx, dy)
        self._last = ((dx, dy), plate_bgr)
        return plate_bgr

    def _compose(self, dx: float, dy: float) -> np.ndarray:
        height_px, width_px = self.plate_bgr.shape[:2]
        reach = int(np.ceil(max(abs(dx), abs(dy)))) + 1
        top, bottom, left, right = self._box
        y0, y1 = max(0, top - reach), min(height_px, bottom + reach)
        x0, x1 = max(0, left - reach), min(width_px, right + reach)
        region = (slice(y0, y1), slice(x0, x1))
        move = np.float32([[1, 0, dx], [0, 1, dy]])
        moved_bgr = cv2.warpAffine(self.plate_bgr[region], move, (x1 - x0, y1 - y0), borderMode=cv2.BORDER_REPLICATE)
        moved_person = cv2.warpAffine(self._person[region], move, (x1 - x0, y1 - y0))
        alpha = np.maximum(moved_person, self._person[region])
        plate_bgr = self.plate_bgr.copy()
        plate_bgr[region] = cv2.blendLinear(moved_bgr, self.plate_bgr[region], alpha, 1.0 - alpha)
        return plate_bgr


BODY_SMOOTHING = OneEuroParameters(min_cutoff_hz=1.0, beta=0.5, derivative_cutoff_hz=1.0)  # pixels, pixels/s
MAX_SHIFT_FRACTION = 0.03  # of the target's frame height: a driver who leans far moves the body this much


def clamped_shift(shift_px: tuple[float, float], frame_height_px: int) -> tuple[float, float]:
    """The shift with each component within MAX_SHIFT_FRACTION of the frame's height."""
    limit_px = MAX_SHIFT_FRACTION * frame_height_px
    return float(np.clip(shift_px[0], -limit_px, limit_px)), float(np.clip(shift_px[1], -limit_px, limit_px))


class BodyFollower:
    """`follow(image_bgr, driver_px, target_px, t_s)`: the target's body shift in its own frame's pixels.

    The driver's reference band is taken on the first frame it is asked for after `reset()` (the retargeter
    resets it while calibrating, so the reference is the driver's neutral pose), with its person mask
    from `person_mask_of` (once). Shifts are scaled by the ratio of the two faces' heights, clamped to
    MAX_SHIFT_FRACTION of the target's frame height and smoothed (One Euro). None until a reference exists
    or when the driver's band shows too little of a person (then it is not tried again until `reset()`).
    A frame of another size than the reference's starts over (`reset()`): it becomes the new reference."""

    def __init__(self, person_mask_of: Callable[[np.ndarray], np.ndarray], target_height_px: int) -> None:
        self.person_mask_of = person_mask_of
        self.target_height_px = target_height_px
        self._filter = OneEuroFilter(BODY_SMOOTHING)
        self.reset()

    def reset(self) -> None:
        """Forget the reference (the next frame that follows becomes it) and the smoothing."""
        self._registration: BodyRegistration | None = None
        self._driver_face_px = 1.0
        self._gave_up = False
        self._shift_px: tuple[float, float] | None = None
        self._filter.reset()

    def follow(
        self, image_bgr: np.ndarray, driver_px: np.ndarray, target_px: np.ndarray, t_s: float
    ) -> tuple[float, float] | None:
        """The smoothed, clamped body shift for this frame (target pixels), or None (module docstring)."""
        if self._registration is not None and image_bgr.shape[:2] != self._registration.frame_shape:
            self.reset()  # the reference band is in another frame's pixels (and may lie outside this one)
        if self._gave_up:
            return None
        if self._registration is None:
            band = body_band(image_bgr.shape, driver_px)
            if band is None:
                return None
            registration = BodyRegistration(image_bgr, self.person_mask_of(image_bgr), band)
            self._gave_up = not registration.usable
            self._registration, self._driver_face_px = registration, max(1.0, face_height_px(driver_px))
            return None if self._gave_up else self._smooth((0.0, 0.0), t_s)
        measured = self._registration.measure(image_bgr)
        if measured is None:
            return self._shift_px
        scale = face_height_px(target_px) / self._driver_face_px
        return self._smooth(clamped_shift((measured[0] * scale, measured[1] * scale), self.target_height_px), t_s)

    def _smooth(self, shift_px: tuple[float, float], t_s: float) -> tuple[float, float]:
        smoothed = self._filter.filter(np.array(shift_px), t_s)
        self._shift_px = (float(smoothed[0]), float(smoothed[1]))
        return self._shift_px
