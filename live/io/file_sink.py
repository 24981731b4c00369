"""`--output NAME.mp4|.avi|.webm`: the file sink around live.io.video_writer.VideoWriter."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from live.closing import Closing
from live.errors import UsageError
from live.io.compose import add_badge, resize_into
from live.io.video_writer import MAX_FPS, VIDEO_FORMATS, VideoWriteError, VideoWriter, check_video_path, even_size_px


def has_alpha(path: Path) -> bool:
    """Whether a video file of this name can keep the person's matte (.webm)."""
    video_format = VIDEO_FORMATS.get(path.suffix.lower())
    return video_format is not None and video_format.alpha_pixel_format is not None


class FileSink(Closing):
    """`--output NAME.mp4|.avi|.webm`: the sink around a VideoWriter (config: a live.io.sinks.SinkConfig).

    Frames are resized to the file's size (rounded up to even) in a buffer of its own and get
    the "AI" badge there; the caller's frame is never drawn on. With `config.alpha` (the run carries
    the person's matte), a .webm keeps it (`keeps_alpha`: it takes BGRA frames).
    """

    def __init__(self, config, frame_size_px: tuple[int, int]) -> None:
        path = Path(config.path or "")
        check_video_path(path)
        if not 0.0 < config.fps <= MAX_FPS:
            raise UsageError(f"cannot write video {path}: {config.fps} fps; a frame rate above 0 and up to {MAX_FPS:g}")
        self.name = f"file {path}"
        self.path = path
        self.config = config
        width_px, height_px = even_size_px(frame_size_px)
        self.keeps_alpha = bool(getattr(config, "alpha", False)) and has_alpha(path)
        try:
            self.writer = VideoWriter(path, (width_px, height_px), config.fps, alpha=self.keeps_alpha)
        except VideoWriteError as error:
            raise UsageError(str(error)) from error
        self._buffer_bgr = np.zeros((height_px, width_px, 4 if self.keeps_alpha else 3), dtype=np.uint8)
        self._closed = False

    @property
    def frames_saved(self) -> int:
        """Frames that are in the file now (every one written, once closed)."""
        return self.writer.frames_saved

    @property
    def failure(self) -> str | None:
        """Why the file could not be written (e.g. "No space left on device"), or None."""
        return self.writer.failure

    def status_lines(self) -> list[str]:
        """The recording's line in the dashboard and the final summary (none after a failed write: the
        run's error and its note say what the file holds)."""
        if self.failure:
            return []
        if self._closed and not self.frames_saved:
            return [f"{self.path}: not written, no frame was saved (an existing file is left as it was)"]
        return [f"{self.path}: {self.frames_saved} frames saved"]

    def write(self, image_bgr: np.ndarray) -> None:
        """Append one BGR frame (BGRA when it keeps alpha; a BGR one is then opaque); VideoWriteError (file and
        cause) when it cannot be written."""
        if self._closed:
            raise RuntimeError(f"{self.name} is closed")
        if self.keeps_alpha and image_bgr.shape[2] == 3:
            image_bgr = cv2.cvtColor(image_bgr, cv2.COLOR_BGR2BGRA)
        resize_into(image_bgr, self._buffer_bgr)
        if self.config.badge:
            add_badge(self._buffer_bgr)
        self.writer.write(self._buffer_bgr)

    def close(self) -> None:
        """Finish the file so it plays to the end; safe to call twice. (What must happen to a recording once
        it is complete belongs after this call.)"""
        self._closed = True
        self.writer.close()
