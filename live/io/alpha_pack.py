"""The web output's alpha: WebRTC video has none, so with `--background transparent` each frame goes out as one
wider picture, the colour on the left and the person's matte on the right as grey, and the page
(live.io.web_page) composites them on a canvas.

    | colour (W px) | gutter | alpha as grey (W px) | pad |

The codecs (VP8, H.264) code 4:2:0 in 16 px macroblocks: the alpha half starts on a multiple of 16 px after a
gutter of at least GUTTER_PX, so no block or chroma sample holds both colour and alpha, and the page reads the
alpha from the luma only (grey has no chroma to lose). The whole width is even (4:2:0 wants it).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

GUTTER_PX = 16
MACROBLOCK_PX = 16


def _round_up(value: int, step: int) -> int:
    return -(-value // step) * step


@dataclass(frozen=True, slots=True)
class AlphaLayout:
    """Where the halves are in a packed frame: the colour at x 0..width_px, the alpha at alpha_x_px..+width_px."""

    width_px: int
    height_px: int
    alpha_x_px: int
    packed_width_px: int

    @classmethod
    def of(cls, frame_size_px: tuple[int, int]) -> AlphaLayout:
        """The layout for frames of (width, height) px."""
        width_px, height_px = frame_size_px
        alpha_x_px = _round_up(width_px + GUTTER_PX, MACROBLOCK_PX)
        return cls(width_px, height_px, alpha_x_px, _round_up(alpha_x_px + width_px, 2))

    def page_fields(self) -> dict[str, int]:
        """What the page needs to composite (sent with the offer's answer)."""
        return {"width": self.width_px, "height": self.height_px, "alpha_x": self.alpha_x_px}


def pack(image: np.ndarray, layout: AlphaLayout) -> np.ndarray:
    """A new (H, packed W, 3) BGR frame of an (H, W, 4) BGRA image: colour left, alpha right as grey, black
    between. An (H, W, 3) image (no matte for this frame) is packed as fully opaque."""
    height_px, width_px = image.shape[:2]
    if (width_px, height_px) != (layout.width_px, layout.height_px):
        raise ValueError(f"frame is {width_px}x{height_px} px, the layout is for {layout.width_px}x{layout.height_px}")
    packed = np.zeros((height_px, layout.packed_width_px, 3), dtype=np.uint8)  # OpenCV's copies: 5x numpy's
    alpha_half = packed[:, layout.alpha_x_px : layout.alpha_x_px + width_px]
    if image.shape[2] == 4:
        packed[:, :width_px] = cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
        alpha_half[...] = cv2.cvtColor(cv2.extractChannel(image, 3), cv2.COLOR_GRAY2BGR)
    else:
        packed[:, :width_px] = image
        alpha_half.fill(255)
    return packed


def unpack(packed_bgr: np.ndarray, layout: AlphaLayout) -> tuple[np.ndarray, np.ndarray]:
    """The colour (H, W, 3) and the alpha (H, W) of a packed frame (the alpha from the grey's luma, as the page
    reads it)."""
    colour_bgr = packed_bgr[:, : layout.width_px]
    grey_bgr = packed_bgr[:, layout.alpha_x_px : layout.alpha_x_px + layout.width_px].astype(np.uint16)
    luma = (grey_bgr[:, :, 2] * 77 + grey_bgr[:, :, 1] * 150 + grey_bgr[:, :, 0] * 29) >> 8
    return colour_bgr, luma.astype(np.uint8)
