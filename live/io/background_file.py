"""`--background FILE`: the picture behind the person, read once (checked before any output opens)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from live.errors import UsageError

MAX_BACKGROUND_BYTES = 64 * 1024 * 1024


def read_background_image(path: Path) -> np.ndarray:
    """The (H, W, 3) uint8 BGR image of `path`; UsageError (one line) when it is no readable image."""
    if not path.is_file():
        raise UsageError(f"--background {path}: no such file; give plate, transparent, a colour or an image file")
    if path.stat().st_size > MAX_BACKGROUND_BYTES:
        raise UsageError(f"--background {path}: larger than {MAX_BACKGROUND_BYTES >> 20} MiB; give a smaller image")
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None or image.size == 0:
        raise UsageError(f"--background {path}: not an image OpenCV can read (use PNG or JPEG)")
    return image
