"""A sink that writes every frame as a lossless PNG into a folder (for editing, and for exact comparisons); with
the person's matte (`--background transparent`), as BGRA PNGs."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from live.closing import Closing
from live.errors import UsageError
from live.io.compose import add_badge, resize_into


def check_frame_folder(folder: Path) -> None:
    """UsageError when frames cannot go to `folder` (checked before anything is opened)."""
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"cannot write frames to {folder}: it is a file; name a folder ending with /")
    if not folder.parent.is_dir():
        raise UsageError(f"cannot write frames to {folder}: folder {folder.parent} does not exist")
    if folder.is_dir() and any(folder.glob("*.png")):
        raise UsageError(f"cannot write frames to {folder}: it already holds .png files; name an empty folder")


class FrameFolderSink(Closing):
    """`--output DIR/`: frames written as DIR/000000.png, 000001.png, ... at the output size.

    The folder is created if missing; it must not already hold frames, so a run never mixes
    its frames with another's. Frames get the same resize and "AI" badge as a video file. With
    `config.alpha` it keeps the matte (`keeps_alpha`): BGRA frames are written as BGRA PNGs.
    """

    def __init__(self, config, frame_size_px: tuple[int, int]) -> None:
        folder = Path(config.path or "")
        check_frame_folder(folder)
        folder.mkdir(exist_ok=True)
        self.name = f"frames {folder}/"
        self.folder = folder
        self.badge = config.badge
        self.keeps_alpha = bool(getattr(config, "alpha", False))
        width_px, height_px = frame_size_px
        self._buffer_bgr = np.zeros((height_px, width_px, 4 if self.keeps_alpha else 3), dtype=np.uint8)
        self._index = 0
        self._closed = False

    def write(self, image_bgr: np.ndarray) -> None:
        """Write the next frame (BGR, or BGRA when it keeps alpha: a BGR one is then opaque); a failed write
        raises with the file's name."""
        if self._closed:
            raise RuntimeError(f"{self.name} is closed")
        if self.keeps_alpha and image_bgr.shape[2] == 3:
            image_bgr = cv2.cvtColor(image_bgr, cv2.COLOR_BGR2BGRA)
        resize_into(image_bgr, self._buffer_bgr)
        if self.badge:
            add_badge(self._buffer_bgr)
        path = self.folder / f"{self._index:06d}.png"
        if not cv2.imwrite(str(path), self._buffer_bgr):
            raise OSError(f"could not write {path}")
        self._index += 1

    def close(self) -> None:
        """Nothing is buffered; safe to call twice."""
        self._closed = True
