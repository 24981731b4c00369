"""How much of the open mouth shows teeth, measured on a photo with its landmarks.

Landmarks say how far the lips are apart, not whether teeth show between them: the same opening
shows teeth on one frame and a dark mouth on the next. `teeth_share` reads it from the pixels: the
share of the inner mouth (inside the inner-lip contour) that is brighter and less red than the
lips around it, in CIELAB. Sketch v3 draws it as the inner mouth's colour (live.formats.sketch), so
the generator is told where its target showed teeth, and `live run` measures it on the driver.
"""

from __future__ import annotations

import cv2
import numpy as np

from live.formats.mesh_topology import closed_loop

LIGHTER_THAN_LIPS = 10.0  # CIELAB L* (0-100 scaled to 0-255 by OpenCV) above the lips' median
LESS_RED_THAN_LIPS = 0.0  # CIELAB a* at or below the lips' median (this target's teeth are pinkish)
MIN_INNER_PIXELS = 12  # fewer: the lips are closed, no teeth can show

_INNER_LIPS_LOOP = closed_loop("inner_lips")
_OUTER_LIPS_LOOP = closed_loop("outer_lips")


def teeth_share(image_bgr: np.ndarray, landmarks_px: np.ndarray) -> float:
    """Share (0-1) of the inner mouth's pixels that look like teeth; 0 when the lips are closed.

    `landmarks_px`: (478, 2+) MediaPipe landmarks in pixels of `image_bgr`.
    """
    outer = np.rint(landmarks_px[_OUTER_LIPS_LOOP, :2]).astype(np.int32)
    height_px, width_px = image_bgr.shape[:2]
    x0, y0 = np.clip(outer.min(axis=0) - 1, 0, [width_px, height_px])
    x1, y1 = np.clip(outer.max(axis=0) + 2, 0, [width_px, height_px])
    if x1 - x0 < 2 or y1 - y0 < 2:
        return 0.0
    offset = np.array([x0, y0], dtype=np.int32)
    inner_mask = np.zeros((y1 - y0, x1 - x0), dtype=np.uint8)
    cv2.fillPoly(inner_mask, [np.rint(landmarks_px[_INNER_LIPS_LOOP, :2]).astype(np.int32) - offset], 1)
    outer_mask = np.zeros_like(inner_mask)
    cv2.fillPoly(outer_mask, [outer - offset], 1)
    inner = inner_mask.astype(bool)
    lips = outer_mask.astype(bool) & ~inner
    if inner.sum() < MIN_INNER_PIXELS or not lips.any():
        return 0.0
    lab = cv2.cvtColor(np.ascontiguousarray(image_bgr[y0:y1, x0:x1]), cv2.COLOR_BGR2LAB).astype(np.float32)
    lightness, redness = lab[..., 0], lab[..., 1]
    teeth = (lightness[inner] > np.median(lightness[lips]) + LIGHTER_THAN_LIPS) & (
        redness[inner] < np.median(redness[lips]) - LESS_RED_THAN_LIPS
    )
    return float(teeth.mean())


def teeth_shares(images_bgr: np.ndarray, landmarks_px: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """(len(indices),) teeth_share of each indexed frame of (N, ...) images and their (N, 478, 3) landmarks."""
    return np.array([teeth_share(images_bgr[index], landmarks_px[index]) for index in indices])
