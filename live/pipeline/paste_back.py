"""Paste-back: the generated head crop, warped back into the target's own frame at its native size.

The generator paints the head over the plate (the target's still frame, native size) warped into the crop.
Paste-back first blends the generated crop with that same plate crop through a feathered alpha (1 inside, a
raised-cosine fall to 0 over FEATHER_FRACTION of the side at the border), made once per crop size; so the crop's
border is the plate itself, whatever the generator painted there. The blended crop then goes through the inverse of
its plate->crop transform (bicubic, as the frame went into the crop) into a copy of the native plate, inside the
crop's bounding box only, through a hard mask of the crop's own square (a filled polygon, as the border already
equals the plate). No erosion or blur per frame; no seam, halo or colour step at the crop's border. Blending happens
at the crop's size, not the frame's.
"""

from __future__ import annotations

import cv2
import numpy as np

from live.face.alignment import CROP_INTERPOLATION

FEATHER_FRACTION = 0.1


def feather_alpha(crop_px: int, feather_fraction: float = FEATHER_FRACTION) -> np.ndarray:
    """(crop_px, crop_px) float32 alpha: 1 inside, a raised-cosine ramp to 0 over the border band."""
    band_px = max(1.0, crop_px * feather_fraction)
    distance_px = np.minimum(np.arange(crop_px), np.arange(crop_px)[::-1]).astype(np.float32) + 0.5
    ramp = 0.5 - 0.5 * np.cos(np.pi * np.clip(distance_px / band_px, 0.0, 1.0))
    return np.outer(ramp, ramp).astype(np.float32)


def _band_strips(alpha: np.ndarray) -> list[tuple[tuple[slice, slice], np.ndarray, np.ndarray]]:
    """The four strips of the crop where alpha < 1 (top, bottom, left, right), each with its alpha and 1 - alpha."""
    side_px = alpha.shape[0]
    band_px = int(np.argmax(alpha[side_px // 2] >= 1.0)) or side_px // 2
    whole, middle = slice(0, side_px), slice(band_px, side_px - band_px)
    strips = [(slice(0, band_px), whole), (slice(side_px - band_px, side_px), whole)]
    strips += [(middle, slice(0, band_px)), (middle, slice(side_px - band_px, side_px))]
    return [(strip, np.ascontiguousarray(alpha[strip]), np.ascontiguousarray(1.0 - alpha[strip])) for strip in strips]


class PasteBack:
    """`paste(crop_bgr, plate_crop_bgr, transform) -> frame_bgr`: the crop placed into a copy of the plate."""

    def __init__(self, plate_bgr: np.ndarray, crop_px: int, feather_fraction: float = FEATHER_FRACTION) -> None:
        self.plate_bgr = np.ascontiguousarray(plate_bgr)
        self.crop_px = crop_px
        self.alpha = feather_alpha(crop_px, feather_fraction)
        self._band_strips = _band_strips(self.alpha)
        self._blended_bgr = np.empty((crop_px, crop_px, 3), dtype=np.uint8)
        # the crop's square, shrunk to where bilinear samples lie wholly inside it
        low, high = 0.5, crop_px - 1.5
        self._inside_corners = np.array([[low, low], [high, low], [high, high], [low, high]], dtype=np.float64)

    @property
    def size_px(self) -> tuple[int, int]:
        """(width, height) of the frames it makes."""
        return self.plate_bgr.shape[1], self.plate_bgr.shape[0]

    def plate_crop(
        self, transform: np.ndarray, out_bgr: np.ndarray | None = None, plate_bgr: np.ndarray | None = None
    ) -> np.ndarray:
        """The plate (or this frame's `plate_bgr`, same size) warped into the crop (what the generator paints over)."""
        return cv2.warpAffine(
            self.plate_bgr if plate_bgr is None else plate_bgr,
            np.asarray(transform, dtype=np.float64),
            (self.crop_px, self.crop_px),
            dst=out_bgr,
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_REPLICATE,
        )

    def region(self, transform: np.ndarray) -> tuple[int, int, int, int] | None:
        """(x0, y0, x1, y1) of the plate the crop covers, or None when it lies outside the plate."""
        return self._region_of_inverse(cv2.invertAffineTransform(np.asarray(transform, dtype=np.float64)))

    def _region_of_inverse(self, inverse: np.ndarray) -> tuple[int, int, int, int] | None:
        side = self.crop_px
        corners = np.array([[0, 0], [side, 0], [side, side], [0, side]], dtype=np.float64) @ inverse[:, :2].T
        corners += inverse[:, 2]
        height_px, width_px = self.plate_bgr.shape[:2]
        x0, y0 = np.floor(corners.min(axis=0)).astype(int)
        x1, y1 = np.ceil(corners.max(axis=0)).astype(int) + 1
        x0, y0, x1, y1 = max(0, x0), max(0, y0), min(width_px, x1), min(height_px, y1)
        return (x0, y0, x1, y1) if x1 > x0 and y1 > y0 else None

    def paste(
        self,
        crop_bgr: np.ndarray,
        plate_crop_bgr: np.ndarray,
        transform: np.ndarray,
        out_bgr: np.ndarray | None = None,
        plate_bgr: np.ndarray | None = None,
    ) -> np.ndarray:
        """The plate (or this frame's `plate_bgr`, same size) with `crop_bgr` (S, S, 3 uint8, painted over
        `plate_crop_bgr`) placed through the inverse of `transform` (2x3 plate->crop). Written into `out_bgr`
        (plate-sized uint8) when given, else a new array."""
        if out_bgr is None:
            out_bgr = np.empty_like(self.plate_bgr)
        np.copyto(out_bgr, self.plate_bgr if plate_bgr is None else plate_bgr)
        to_region = cv2.invertAffineTransform(np.asarray(transform, dtype=np.float64))
        box = self._region_of_inverse(to_region)
        if box is None:
            return out_bgr
        blended = self._blend(crop_bgr, plate_crop_bgr)
        x0, y0, x1, y1 = box
        to_region[:, 2] -= (x0, y0)
        size = (x1 - x0, y1 - y0)
        # (replicated border: bicubic reads two pixels past the crop's edge, which the inside mask keeps)
        warped = cv2.warpAffine(blended, to_region, size, flags=CROP_INTERPOLATION, borderMode=cv2.BORDER_REPLICATE)
        cv2.copyTo(warped, self._inside_mask(to_region, size), out_bgr[y0:y1, x0:x1])
        return out_bgr

    def _blend(self, crop_bgr: np.ndarray, plate_crop_bgr: np.ndarray) -> np.ndarray:
        """alpha * crop + (1 - alpha) * plate crop, blending only the border band (alpha is 1 inside it)."""
        blended = self._blended_bgr
        np.copyto(blended, crop_bgr)
        for strip, alpha, complement in self._band_strips:
            blended[strip] = cv2.blendLinear(crop_bgr[strip], plate_crop_bgr[strip], alpha, complement)
        return blended

    def _inside_mask(self, to_region: np.ndarray, size: tuple[int, int]) -> np.ndarray:
        """uint8 mask of the region's pixels that the crop's square covers (drawn, not warped: a tenth the cost)."""
        corners = self._inside_corners @ to_region[:, :2].T + to_region[:, 2]
        mask = np.zeros((size[1], size[0]), dtype=np.uint8)
        cv2.fillConvexPoly(mask, np.round(corners * 16).astype(np.int32), 255, lineType=cv2.LINE_8, shift=4)
        return mask
