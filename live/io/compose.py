"""Drawing on frames: the "AI" badge, resizing into a buffer, side-by-side view, stats overlay; the key colour
behind the person and BGRA frames, with `--background transparent`."""

from __future__ import annotations

import cv2
import numpy as np

from live.face.background import composite

FONT = cv2.FONT_HERSHEY_SIMPLEX


def add_badge(image_bgr: np.ndarray) -> np.ndarray:
    """Draw a small "AI" badge in the bottom-right corner, in place; returns the image. On a BGRA image the
    badge is opaque."""
    height_px, width_px = image_bgr.shape[:2]
    badge_height_px = max(12, round(min(height_px, width_px) * 0.07))
    scale = badge_height_px / 40
    thickness = max(1, round(scale * 2))
    (text_width_px, text_height_px), _ = cv2.getTextSize("AI", FONT, scale, thickness)
    margin_px = max(2, badge_height_px // 4)
    x1, y1 = width_px - margin_px, height_px - margin_px
    x0, y0 = x1 - text_width_px - 2 * margin_px, y1 - badge_height_px
    cv2.rectangle(image_bgr, (x0, y0), (x1, y1), (40, 40, 200, 255), cv2.FILLED)
    origin = (x0 + margin_px, y0 + (badge_height_px + text_height_px) // 2)
    cv2.putText(image_bgr, "AI", origin, FONT, scale, (255, 255, 255, 255), thickness, cv2.LINE_AA)
    return image_bgr


def resize_into(image_bgr: np.ndarray, out_bgr: np.ndarray) -> None:
    """Resize (or copy) `image_bgr` into the preallocated `out_bgr`, which may be a view."""
    if image_bgr.shape == out_bgr.shape:
        np.copyto(out_bgr, image_bgr)
        return
    result = cv2.resize(image_bgr, (out_bgr.shape[1], out_bgr.shape[0]), dst=out_bgr, interpolation=cv2.INTER_LINEAR)
    if result is not out_bgr:  # older OpenCV may not write into a strided view
        out_bgr[...] = result


def compose_side_by_side(
    driver_bgr: np.ndarray,
    sketch_bgr: np.ndarray | None,
    output_bgr: np.ndarray,
    height_px: int,
    out_bgr: np.ndarray | None = None,
) -> np.ndarray:
    """driver | sketch | output, each resized to height_px (aspect kept; no sketch = black square).

    Pass the previous result as `out_bgr` to reuse its buffer when the layout did not change.
    """
    panels = [driver_bgr, sketch_bgr, output_bgr]
    widths_px = [
        round(height_px * image.shape[1] / image.shape[0]) if image is not None else height_px for image in panels
    ]
    shape = (height_px, sum(widths_px), 3)
    if out_bgr is None or out_bgr.shape != shape or out_bgr.dtype != np.uint8:
        out_bgr = np.empty(shape, dtype=np.uint8)
    x_px = 0
    for image, width_px in zip(panels, widths_px):
        view = out_bgr[:, x_px : x_px + width_px]
        if image is None:
            view[...] = 0
        else:
            resize_into(image, view)
        x_px += width_px
    return out_bgr


def draw_stats_overlay(image_bgr: np.ndarray, lines: list[str]) -> np.ndarray:
    """Draw text lines top-left on a darkened box, in place; returns the image."""
    if not lines:
        return image_bgr
    scale = max(0.35, image_bgr.shape[0] / 900)
    line_height_px = round(28 * scale) + 4
    width_px = max(cv2.getTextSize(line, FONT, scale, 1)[0][0] for line in lines) + 12
    box = image_bgr[: line_height_px * len(lines) + 8, :width_px]
    np.right_shift(box, 2, out=box)
    for row, line in enumerate(lines):
        cv2.putText(
            image_bgr, line, (6, 4 + line_height_px * (row + 1) - 6), FONT, scale, (255, 255, 255), 1, cv2.LINE_AA
        )
    return image_bgr


class KeyColor:
    """`keyed(image_bgr, alpha)`: the person over a solid key colour, for outputs without alpha (the solid
    image is made once per frame size)."""

    def __init__(self, color_bgr: tuple[int, int, int]) -> None:
        self.color_bgr = color_bgr
        self._solid_bgr: np.ndarray | None = None

    def keyed(self, image_bgr: np.ndarray, alpha: np.ndarray) -> np.ndarray:
        """A new (H, W, 3) image: `image_bgr` where alpha is 255, the key colour where 0, blended between."""
        if self._solid_bgr is None or self._solid_bgr.shape != image_bgr.shape:
            self._solid_bgr = np.full(image_bgr.shape, self.color_bgr, dtype=np.uint8)
        return composite(image_bgr, alpha, self._solid_bgr)


def with_alpha(image_bgr: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """A new (H, W, 4) uint8 BGRA image of a BGR image and its (H, W) uint8 alpha."""
    return cv2.merge((*cv2.split(image_bgr), alpha))
