"""What is behind the person in the avatar's frames (`--background plate|transparent|COLOR|FILE`).

- plate: the target's own background, as recorded (the default; nothing else is computed).
- transparent: the person's matte (live.face.person_matte) goes to the outputs that keep alpha (PNG frame
  folders, .webm); the others, which have no alpha, get the person over a key colour (`--key-color`).
- a colour (`#00ff00`, `#0f0`, `0,255,0` as red,green,blue, or a name such as `green`), or an image file
  (scaled to cover the frame, centred): the person over it, in every output.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from live.errors import UsageError

BACKGROUND_KINDS = ("plate", "transparent", "color", "image")
COLOR_NAMES_BGR: dict[str, tuple[int, int, int]] = {
    "green": (0, 255, 0),
    "blue": (255, 0, 0),
    "magenta": (255, 0, 255),
    "black": (0, 0, 0),
    "white": (255, 255, 255),
    "gray": (128, 128, 128),
    "grey": (128, 128, 128),
    "red": (0, 0, 255),
    "cyan": (255, 255, 0),
    "yellow": (0, 255, 255),
}
KEY_COLOR_BGR = (0, 255, 0)  # pure green: what chroma keys (OBS's among them) expect by default
COLOR_FORMS = f"#RRGGBB, #RGB, R,G,B (0-255) or one of {', '.join(COLOR_NAMES_BGR)}"


def format_color(color_bgr: tuple[int, int, int]) -> str:
    """'#rrggbb' of a BGR colour."""
    blue, green, red = color_bgr
    return f"#{red:02x}{green:02x}{blue:02x}"


def parse_color(text: str) -> tuple[int, int, int] | None:
    """The BGR colour of `#RRGGBB`, `#RGB`, `R,G,B` or a colour name; None when `text` is none of them."""
    text = text.strip().lower()
    if text in COLOR_NAMES_BGR:
        return COLOR_NAMES_BGR[text]
    digits = text[1:]
    if text.startswith("#") and len(digits) in (3, 6) and all(c in "0123456789abcdef" for c in digits):
        if len(digits) == 3:
            digits = "".join(c * 2 for c in digits)
        red, green, blue = (int(digits[i : i + 2], 16) for i in (0, 2, 4))
        return blue, green, red
    parts = [part.strip() for part in text.split(",")]
    if len(parts) == 3 and all(part.isdigit() and int(part) <= 255 for part in parts):
        red, green, blue = (int(part) for part in parts)
        return blue, green, red
    return None


@dataclass(frozen=True, slots=True)
class Background:
    """What is behind the person (module docstring).

    kind: one of BACKGROUND_KINDS; color_bgr: the colour behind the person (kind "color"); image_path: the
    picture behind the person (kind "image"); key_color_bgr: behind the person in the outputs without alpha
    when kind is "transparent"."""

    kind: str = "plate"
    color_bgr: tuple[int, int, int] | None = None
    image_path: Path | None = None
    key_color_bgr: tuple[int, int, int] = KEY_COLOR_BGR

    @property
    def matted(self) -> bool:
        """Whether the frames need the person's matte (any background but the plate's own)."""
        return self.kind != "plate"

    def describe(self) -> str:
        """The background in words, as the option gives it."""
        if self.kind == "color" and self.color_bgr is not None:
            return format_color(self.color_bgr)
        return str(self.image_path) if self.kind == "image" else self.kind


def parse_background(text: str, key_color: str | None = None) -> Background:
    """The Background of `--background TEXT` (and `--key-color`); UsageError, one line, for a value that is
    none of plate, transparent, a colour or an existing file, or a key colour without `transparent`."""
    key_color_bgr = KEY_COLOR_BGR
    if key_color is not None:
        parsed = parse_color(key_color)
        if parsed is None:
            raise UsageError(f"--key-color {key_color!r}: give a colour as {COLOR_FORMS}")
        key_color_bgr = parsed
    if text in ("plate", "transparent"):
        background = Background(text, key_color_bgr=key_color_bgr)
    elif (color_bgr := parse_color(text)) is not None:
        background = Background("color", color_bgr=color_bgr, key_color_bgr=key_color_bgr)
    elif Path(text).expanduser().is_file():
        background = Background("image", image_path=Path(text).expanduser(), key_color_bgr=key_color_bgr)
    else:
        raise UsageError(
            f"--background {text!r}: not plate, transparent, a colour ({COLOR_FORMS}) or an existing image file"
        )
    if key_color is not None and background.kind != "transparent":
        raise UsageError(f"--key-color is for --background transparent (outputs without alpha), not {text!r}")
    return background


def cover(image_bgr: np.ndarray, size_px: tuple[int, int]) -> np.ndarray:
    """`image_bgr` scaled to cover (width, height) with its aspect kept, centred and cropped to it."""
    width_px, height_px = size_px
    scale = max(width_px / image_bgr.shape[1], height_px / image_bgr.shape[0])
    scaled_size = (max(width_px, round(image_bgr.shape[1] * scale)), max(height_px, round(image_bgr.shape[0] * scale)))
    interpolation = cv2.INTER_AREA if scale < 1.0 else cv2.INTER_LINEAR
    scaled = cv2.resize(image_bgr, scaled_size, interpolation=interpolation)
    x0, y0 = (scaled_size[0] - width_px) // 2, (scaled_size[1] - height_px) // 2
    return np.ascontiguousarray(scaled[y0 : y0 + height_px, x0 : x0 + width_px])


def solid(color_bgr: tuple[int, int, int], size_px: tuple[int, int]) -> np.ndarray:
    """A (height, width, 3) uint8 image of one colour."""
    return np.full((size_px[1], size_px[0], 3), color_bgr, dtype=np.uint8)


def composite(image_bgr: np.ndarray, alpha: np.ndarray, behind_bgr: np.ndarray) -> np.ndarray:
    """A new image: `image_bgr` over `behind_bgr` (same size) through `alpha` ((H, W) uint8, 255: the image). Where
    alpha is 255 the image's pixels are kept exactly, where 0 the background's; between, within 1 of the blend.
    (8-bit products: about half the time of a float blend at 640x480.)"""
    alpha_bgr = cv2.merge((alpha, alpha, alpha))
    image_part = cv2.multiply(image_bgr, alpha_bgr, scale=1 / 255)
    return cv2.add(image_part, cv2.multiply(behind_bgr, cv2.bitwise_not(alpha_bgr), scale=1 / 255))
