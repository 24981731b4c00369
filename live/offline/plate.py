"""The background plate of a video: its still frame at native size, the median of its training frames.

The median keeps the still background and the shirt, and also the head, which is in every frame: where
a generated head moves well away from where the target usually held it, the plate's head can show at its
edge. Filling the head region in from the background (Telea inpainting inside the usual crop) removes
that, but cost 2.2 dB of whole-frame PSNR at 400 steps (28.9 against 31.2 dB, jwp_intro val): the
generator must then paint hair, neck and the background behind them itself (docs/experiments.md).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from live.errors import UsageError


def write_plate(path: Path, frames_bgr: list[np.ndarray]) -> None:
    """Write the median of `frames_bgr` as a video's plate; UsageError when the file cannot be written."""
    median = np.median(np.stack(frames_bgr), axis=0).round().astype(np.uint8)
    if not cv2.imwrite(str(path), median):
        raise UsageError(f"cannot write {path}: is the disk full?")
