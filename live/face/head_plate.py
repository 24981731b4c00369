"""The plate's head follows: the head in the target's plate is moved to where the avatar's head is now.

The generator paints the head over the plate (the target's median frame, head included) and copies from it
what the sketch does not draw: hair, ears, the jaw's outline against the background. When the avatar's head
turned or tilted away from the plate's, the plate's own cheek and ear showed beside the painted ones, a
doubled jaw line (docs/experiments.md, "Head and body follow").

`HeadPlate.follow(landmarks_px, plate_bgr)` moves the plate's head by the similarity from its stable landmarks
(live.face.alignment.ALIGNMENT_INDICES) to the avatar's current ones and lays it over the plate's background:

- the head's alpha is the person mask grown by GROW_FACE_HEIGHTS (so its soft edge, EDGE_FACE_HEIGHTS wide,
  lies on background), within HALF_WIDTH_FACE_HEIGHTS of the face's axis and above its jaw line (by
  JAW_MARGIN_FACE_HEIGHTS; beside the face, EAR_FACE_HEIGHTS below the outline's widest points: the ears),
  and the neck below it (within NECK_HALF_WIDTH_FACE_HEIGHTS of the axis: not the collar or the shoulders),
  fading out between NECK_FADE_FACE_HEIGHTS below the chin (the neck bends, the body stays);
- the background is the plate, with the head's core (alpha 1) filled once by OpenCV's Telea inpainting: it
  shows only where the head moved away.

The background does not move, so the bookshelf behind a turning head stays straight; a head at the plate's
own pose leaves the plate exactly as it was. The head is composed within its box grown by
BOX_MARGIN_FACE_HEIGHTS: a head moved farther than that from the plate's would be cut at the box's edge (the
retargeter keeps head moves within the pose and shift ranges seen in training).
"""

from __future__ import annotations

import cv2
import numpy as np

from live.face import body
from live.face.alignment import ALIGNMENT_INDICES, apply_transform, fit_similarity, invert_transform
from live.face.expression import FACE_TOP_BOTTOM
from live.formats.dataset import Dataset
from live.formats.mesh_topology import closed_loop

GROW_FACE_HEIGHTS = 0.04  # the head's mask is grown by this much so that its soft edge lies on background
EDGE_FACE_HEIGHTS = 0.03  # the width of that soft edge
NECK_FADE_FACE_HEIGHTS = (-0.05, 0.1)  # below the chin: the head is whole above the first, gone below the second
HALF_WIDTH_FACE_HEIGHTS = 0.75  # the head reaches this far either side of the face's axis (not the shoulders)
JAW_MARGIN_FACE_HEIGHTS = 0.08  # the head reaches this far below the jaw's outline (its shadow, the beard)
EAR_FACE_HEIGHTS = 0.25  # beside the face, this far below the outline's widest points (the ear lobes)
NECK_HALF_WIDTH_FACE_HEIGHTS = 0.25  # below the jaw only the neck moves, this far either side (not the collar)
BOX_MARGIN_FACE_HEIGHTS = 0.25  # the composed box reaches this far past the head's, for a head that moved out
INPAINT_RADIUS_PX = 5
FACE_OUTLINE = closed_loop("face_oval")
MIN_MOVE_PX = 0.05  # a head this close to the plate's (at its farthest pixel) leaves the plate as it is


def in_plate(landmarks_px: np.ndarray, transform: np.ndarray) -> np.ndarray:
    """Landmarks in crop pixels, moved into the plate's pixels through the inverse of the crop's 2x3 transform
    (for the plate's own head: the neutral landmarks and the neutral transform, of the card or the dataset)."""
    return apply_transform(invert_transform(np.asarray(transform, dtype=np.float64)), landmarks_px)


def plate_head_landmarks(dataset: Dataset) -> list[np.ndarray]:
    """Where each video's plate has its own head (plate pixels): the dataset's neutral face in that video's
    neutral crop, as the card has it for `live run` (the plate is the median frame, the neutral the median face)."""
    neutral_px = np.asarray(dataset.manifest.neutral_landmarks_px, dtype=np.float32)
    return [in_plate(neutral_px, video.neutral_transform) for video in dataset.manifest.videos]


def _raised_cosine(values: np.ndarray) -> np.ndarray:
    """1 at 0, 0 at 1 and beyond, smooth at both ends."""
    return (0.5 + 0.5 * np.cos(np.pi * np.clip(values, 0.0, 1.0))).astype(np.float32)


def head_alpha(person_mask: np.ndarray, plate_landmarks_px: np.ndarray) -> np.ndarray:
    """(H, W) float32: how much of each plate pixel is the head that moves (module docstring)."""
    top, chin = (plate_landmarks_px[index, :2].astype(np.float64) for index in FACE_TOP_BOTTOM)
    face_height_px = max(body.face_height_px(plate_landmarks_px.astype(np.float64)), 1.0)
    down = (chin - top) / face_height_px
    height_px, width_px = person_mask.shape[:2]
    rows, columns = np.mgrid[0:height_px, 0:width_px].astype(np.float32)
    below_chin_px = (columns - chin[0]) * down[0] + (rows - chin[1]) * down[1]
    beside_px = (columns - chin[0]) * down[1] - (rows - chin[1]) * down[0]  # signed, across the face's axis
    start_px, end_px = (fraction * face_height_px for fraction in NECK_FADE_FACE_HEIGHTS)
    neck = _raised_cosine((below_chin_px - start_px) / (end_px - start_px))
    grow_px = 2 * max(1, round(GROW_FACE_HEIGHTS * face_height_px)) + 1
    head = cv2.dilate(
        (person_mask > 0).astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (grow_px, grow_px))
    )
    jaw_px = _jaw_below_chin_px(plate_landmarks_px, chin, down, beside_px, face_height_px)
    above_jaw = below_chin_px < jaw_px + JAW_MARGIN_FACE_HEIGHTS * face_height_px
    in_neck = (np.abs(beside_px) < NECK_HALF_WIDTH_FACE_HEIGHTS * face_height_px) & (below_chin_px < end_px)
    head &= ((above_jaw | in_neck) & (np.abs(beside_px) < HALF_WIDTH_FACE_HEIGHTS * face_height_px)).astype(np.uint8)
    inside_px = cv2.distanceTransform(head, cv2.DIST_L2, 5)  # 0 outside, growing inwards
    edge = 1.0 - _raised_cosine(inside_px / max(1.0, EDGE_FACE_HEIGHTS * face_height_px))
    return (edge * neck).astype(np.float32)


def _jaw_below_chin_px(
    landmarks_px: np.ndarray, chin: np.ndarray, down: np.ndarray, beside_px: np.ndarray, face_height_px: float
) -> np.ndarray:
    """Per pixel, how far below the chin the face's outline runs at that pixel's place across the face (its
    lower half: the jaw; towards and beyond its sides, down to EAR_FACE_HEIGHTS below its widest points)."""
    outline = landmarks_px[FACE_OUTLINE, :2].astype(np.float64) - chin
    along, across = outline @ down, outline @ np.array([down[1], -down[0]])
    sides = (int(np.argmin(across)), int(np.argmax(across)))
    lower = along >= min(along[sides[0]], along[sides[1]])
    order = np.argsort(across[lower])
    jaw = np.interp(beside_px, across[lower][order], along[lower][order])
    # by the ears (the outer 30% of the face's half width and beyond), down to EAR_FACE_HEIGHTS below the
    # outline's level at its widest, reached smoothly
    left, right = sides
    side = beside_px < 0
    width_px = np.where(side, -across[left], across[right])
    ramp = np.clip((np.abs(beside_px) - 0.7 * width_px) / (0.3 * width_px), 0.0, 1.0)
    ears = np.where(side, along[left], along[right]) + ramp * EAR_FACE_HEIGHTS * face_height_px
    return np.maximum(jaw, np.where(ramp > 0, ears, -np.inf)).astype(np.float32)


def _grown_box(alpha: np.ndarray, face_height_px: float) -> tuple[int, int, int, int]:
    """(y0, y1, x0, x1): the box of the alpha's non-zero pixels grown by BOX_MARGIN_FACE_HEIGHTS, within it."""
    rows, columns = np.nonzero(alpha > 0)
    if rows.size == 0:
        return 0, 0, 0, 0
    margin_px = int(np.ceil(BOX_MARGIN_FACE_HEIGHTS * face_height_px))
    height_px, width_px = alpha.shape
    y0, x0 = max(0, rows.min() - margin_px), max(0, columns.min() - margin_px)
    return y0, min(height_px, rows.max() + 1 + margin_px), x0, min(width_px, columns.max() + 1 + margin_px)


class HeadPlate:
    """`follow(landmarks_px, plate_bgr, shift_px)`: the plate with its head moved onto the face at `landmarks_px`."""

    def __init__(self, plate_bgr: np.ndarray, person_mask: np.ndarray, plate_landmarks_px: np.ndarray) -> None:
        self.plate_bgr = plate_bgr
        self.anchors_px = np.asarray(plate_landmarks_px, dtype=np.float64)[ALIGNMENT_INDICES, :2]
        self.alpha = head_alpha(person_mask, plate_landmarks_px)
        self._box = _grown_box(self.alpha, body.face_height_px(np.asarray(plate_landmarks_px, dtype=np.float64)))
        self.has_head = self._box[1] > self._box[0]
        y0, y1, x0, x1 = self._box
        core = (self.alpha[y0:y1, x0:x1] >= 1.0).astype(np.uint8)
        self.background_bgr = plate_bgr.copy()  # the plate with its head's core filled
        if self.has_head:
            box_bgr = np.ascontiguousarray(plate_bgr[y0:y1, x0:x1])
            self.background_bgr[y0:y1, x0:x1] = cv2.inpaint(box_bgr, core, INPAINT_RADIUS_PX, cv2.INPAINT_TELEA)
        self._background_bgr = self.background_bgr[y0:y1, x0:x1]
        self._core = core
        self._last_background: tuple[tuple[int, float, float], np.ndarray] | None = None

    @property
    def box(self) -> tuple[int, int, int, int]:
        """(y0, y1, x0, x1): the part of the plate that `follow` composes."""
        return self._box

    def head_transform(self, landmarks_px: np.ndarray) -> np.ndarray:
        """2x3 similarity from the plate's head to the face at `landmarks_px` (plate pixels)."""
        return fit_similarity(self.anchors_px, np.asarray(landmarks_px, dtype=np.float64)[ALIGNMENT_INDICES, :2])

    def follow(
        self, landmarks_px: np.ndarray, plate_bgr: np.ndarray | None = None, shift_px: tuple[float, float] | None = None
    ) -> np.ndarray:
        """The plate (or `plate_bgr`, the same size, with its person moved by `shift_px`: live.face.body) with its
        head moved onto the face at `landmarks_px` (plate pixels). A new array, or the plate given when the head
        is where it already was."""
        source_bgr = self.plate_bgr if plate_bgr is None else plate_bgr
        if not self.has_head:
            return source_bgr
        shift_x, shift_y = shift_px or (0.0, 0.0)
        move = self.head_transform(landmarks_px)  # plate head -> current head
        y0, y1, x0, x1 = self._box
        corners = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=np.float64)
        moved_corners = corners @ move[:, :2].T + move[:, 2]
        farthest_px = float(np.abs(moved_corners - corners - (shift_x, shift_y)).max())
        if farthest_px < MIN_MOVE_PX:
            return source_bgr
        size = (x1 - x0, y1 - y0)
        # into box pixels: the source's head (shifted with the body) -> current head, from and to the box
        to_box = move.copy()
        to_box[:, 2] += move[:, 0] * x0 + move[:, 1] * y0 - (x0, y0)
        from_source = to_box.copy()
        from_source[:, 2] -= move[:, 0] * shift_x + move[:, 1] * shift_y
        head_bgr = cv2.warpAffine(
            source_bgr[y0:y1, x0:x1], from_source, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
        )
        alpha = cv2.warpAffine(self.alpha[y0:y1, x0:x1], to_box, size, flags=cv2.INTER_LINEAR)
        background_bgr = self._background(source_bgr, shift_x, shift_y)
        moved_bgr = source_bgr.copy()
        moved_bgr[y0:y1, x0:x1] = cv2.blendLinear(head_bgr, background_bgr, alpha, 1.0 - alpha)
        return moved_bgr

    def _background(self, source_bgr: np.ndarray, shift_x: float, shift_y: float) -> np.ndarray:
        """The box of `source_bgr` with the head's core filled (moved with the body's shift)."""
        y0, y1, x0, x1 = self._box
        if shift_x == 0.0 and shift_y == 0.0 and source_bgr is self.plate_bgr:
            return self._background_bgr
        key = (id(source_bgr), shift_x, shift_y)  # the body's plate is the same array while its shift holds
        last = self._last_background  # one attribute, read and replaced whole: safe from several workers
        if last is not None and last[0] == key:
            return last[1]
        move = np.float32([[1, 0, shift_x], [0, 1, shift_y]])
        size = (x1 - x0, y1 - y0)
        filled = cv2.warpAffine(self._background_bgr, move, size, borderMode=cv2.BORDER_REPLICATE)
        core = cv2.warpAffine(self._core, move, size, flags=cv2.INTER_NEAREST)
        background_bgr = source_bgr[y0:y1, x0:x1].copy()
        np.copyto(background_bgr, filled, where=core[..., None] > 0)
        self._last_background = (key, background_bgr)
        return background_bgr
