"""Sources: webcam, video file, folder of images (no threads; live/pipeline/capture.py runs them).

`open_source(config)` picks the source kind from `--source` text through the
explicit SOURCE_KINDS table. Cameras are opened through `camera_opener`
(cv2.VideoCapture by default; tests inject a fake device there). The capture
thread paces files/folders at their frame rate, stamps each frame with
`time.perf_counter()`, and reopens a failing camera with backoff.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from live.closing import Closing
from live.errors import UsageError
from live.io.pipe_source import open_video_capture

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")
DEFAULT_FPS = 30.0
REOPEN_FIRST_DELAY_S = 0.5
REOPEN_MAX_DELAY_S = 4.0


@dataclass(frozen=True, slots=True)
class SourceConfig:
    """What `--source` names and what is requested of it.

    text: a webcam index ("0"), a video file or a folder of images.
    width_px, height_px, fps: requested from a camera (0: its default); fps
        is also the frame rate of an image folder (0: 30 fps).
    """

    text: str
    width_px: int = 0
    height_px: int = 0
    fps: float = 0.0


class VideoCaptureLike(Protocol):
    """The part of cv2.VideoCapture a camera source uses (the device boundary)."""

    def isOpened(self) -> bool: ...
    def read(self) -> tuple[bool, np.ndarray | None]: ...
    def set(self, property_id: int, value: float) -> bool: ...
    def get(self, property_id: int) -> float: ...
    def release(self) -> None: ...


CameraOpener = Callable[[int], VideoCaptureLike]


class Source(Protocol):
    """A stream of BGR images. `read()` returns None at the end (file) or on a failure (camera).

    skipped: the frames passed over because they could not be decoded (names), oldest first.
    """

    name: str
    live: bool
    fps: float
    size_px: tuple[int, int]
    skipped: list[str]

    def read(self) -> np.ndarray | None: ...
    def reopen(self) -> bool: ...
    def close(self) -> None: ...
    def __enter__(self) -> "Source": ...
    def __exit__(self, *exc_info: object) -> None: ...


@contextmanager
def quiet_opencv() -> Iterator[None]:
    """Silence OpenCV's own log (each backend it tries prints its failure) while opening a camera;
    whether it opened is reported by our one-line messages instead."""
    previous_level = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    try:
        yield
    finally:
        cv2.utils.logging.setLogLevel(previous_level)


class CameraSource(Closing):
    """A webcam by index; reports the size and fps the camera actually gives."""

    live = True

    def __init__(self, config: SourceConfig, opener: CameraOpener = cv2.VideoCapture) -> None:
        self.index = int(config.text)
        self.name = f"camera {self.index}"
        self.skipped: list[str] = []
        self._config = config
        self._opener = opener
        self._capture: VideoCaptureLike | None = None
        if not self.reopen():
            raise UsageError(
                f"--source {config.text}: camera {self.index} does not open; `live cameras` lists the ones that do"
            )

    def reopen(self) -> bool:
        """Open (again) the device with the requested settings; False when it does not open."""
        self._release()
        with quiet_opencv():
            capture = self._opener(self.index)
        if not capture.isOpened():
            capture.release()
            return False
        for property_id, value in (
            (cv2.CAP_PROP_FRAME_WIDTH, self._config.width_px),
            (cv2.CAP_PROP_FRAME_HEIGHT, self._config.height_px),
            (cv2.CAP_PROP_FPS, self._config.fps),
        ):
            if value:
                capture.set(property_id, float(value))
        capture.set(cv2.CAP_PROP_BUFFERSIZE, 1.0)  # no stale frames queued in the driver (where supported)
        self.size_px = (int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)))
        self.fps = float(capture.get(cv2.CAP_PROP_FPS) or 0.0)
        self._capture = capture
        return True

    def read(self) -> np.ndarray | None:
        """The next image, or None when the camera fails to deliver."""
        if self._capture is None:
            return None
        ok, image_bgr = self._capture.read()
        return image_bgr if ok and image_bgr is not None else None

    def _release(self) -> None:
        if self._capture is not None:
            self._capture.release()
            self._capture = None

    def close(self) -> None:
        """Release the device; idempotent."""
        self._release()


class VideoFileSource(Closing):
    """A video file, or a named pipe carrying a stream FFmpeg can read (y4m, MJPEG, ...), delivered at its
    own frame rate unless pacing is off. The wait for a pipe's writer is announced; Ctrl-C ends it.

    ended_early: "NAME ended early at frame N of M ..." once a file whose container gives its frame count
    (M) ends after N < M frames (cut short); None otherwise."""

    live = False

    def __init__(self, config: SourceConfig) -> None:
        self.path = Path(config.text)
        self.name = self.path.name
        self.skipped: list[str] = []
        self.ended_early: str | None = None
        self._capture: cv2.VideoCapture | None
        self._capture, self._pipe_fd = open_video_capture(self.path)
        ok, first_bgr = self._capture.read() if self._capture.isOpened() else (False, None)
        if not ok or first_bgr is None:
            self.close()
            hint = "a y4m or MJPEG stream" if self.path.is_fifo() else "a video OpenCV can decode (mp4, avi, ...)"
            raise UsageError(f"--source {config.text}: cannot read video frames from this file; give {hint}")
        self._pending: np.ndarray | None = first_bgr
        self._read_count = 1
        fps = float(self._capture.get(cv2.CAP_PROP_FPS) or 0.0)
        self.fps = fps if 0.0 < fps < 1000.0 else DEFAULT_FPS
        self.size_px = (first_bgr.shape[1], first_bgr.shape[0])
        self.frame_count = max(0, int(self._capture.get(cv2.CAP_PROP_FRAME_COUNT)))  # 0: unknown (a pipe)

    def read(self) -> np.ndarray | None:
        """The next frame, or None at the end of the file."""
        if self._pending is not None:
            image_bgr, self._pending = self._pending, None
            return image_bgr
        if self._capture is None:
            return None
        ok, image_bgr = self._capture.read()
        if not ok or image_bgr is None:
            self._end()
            return None
        self._read_count += 1
        return image_bgr

    def _end(self) -> None:
        """The decoder gave no more frames: note it when the container promised more."""
        if self.ended_early is None and 0 < self._read_count < self.frame_count:
            count_text = f"frame {self._read_count} of {self.frame_count}"
            self.ended_early = f"{self.name} ended early at {count_text} (the file is probably cut short)"

    def reopen(self) -> bool:
        """A file is not reopened: its end is the end of input."""
        return False

    def close(self) -> None:
        """Release the decoder and the pipe; idempotent."""
        if self._capture is not None:
            self._capture.release()
            self._capture = None
        if self._pipe_fd is not None:
            os.close(self._pipe_fd)
            self._pipe_fd = None


class ImageFolderSource(Closing):
    """The images of a folder in name order, delivered at `fps` (30 by default).

    An image that cannot be decoded is skipped (its name kept in `skipped`); when most of the
    folder cannot be decoded, read() raises instead: it is probably not a folder of frames.
    """

    live = False

    def __init__(self, config: SourceConfig) -> None:
        folder = Path(config.text)
        self.name = folder.name or str(folder)
        self.paths = sorted(path for path in folder.iterdir() if path.suffix.lower() in IMAGE_SUFFIXES)
        if not self.paths:
            raise UsageError(f"--source {config.text}: the folder has no images ({', '.join(IMAGE_SUFFIXES)})")
        self.fps = config.fps or DEFAULT_FPS
        first_bgr = cv2.imread(str(self.paths[0]))
        if first_bgr is None:
            raise UsageError(f"--source {config.text}: cannot read {self.paths[0].name} as an image")
        self.size_px = (first_bgr.shape[1], first_bgr.shape[0])
        self.skipped: list[str] = []
        self._next = 0

    def read(self) -> np.ndarray | None:
        """The next decodable image, or None after the last; RuntimeError once most images are unreadable."""
        while self._next < len(self.paths):
            path = self.paths[self._next]
            self._next += 1
            image_bgr = cv2.imread(str(path))
            if image_bgr is not None:
                return image_bgr
            self.skipped.append(path.name)
            if len(self.skipped) * 2 > len(self.paths):
                raise RuntimeError(
                    f"{len(self.skipped)} of the {len(self.paths)} images in {self.name} cannot be decoded"
                    f" ({', '.join(self.skipped[:3])}, ...): give a folder of readable images"
                )
        return None

    def reopen(self) -> bool:
        """A folder is not reopened: its end is the end of input."""
        return False

    def close(self) -> None:
        """Nothing held open between reads."""
        self._next = len(self.paths)


SOURCE_KINDS: dict[str, str] = {
    "camera": "a webcam index (0, 1, ...)",
    "video": "a video file",
    "pipe": "a named pipe carrying a video stream",
    "folder": "a folder of images",
}


def source_kind(text: str) -> str:
    """Which SOURCE_KINDS entry `--source` text names; UsageError when none."""
    if text.isdigit():
        return "camera"
    path = Path(text)
    if path.is_dir():
        return "folder"
    if path.is_file():
        return "video"
    if path.is_fifo():
        return "pipe"
    kinds = "; ".join(SOURCE_KINDS.values())
    problem = "not a file, folder or named pipe" if path.exists() else "no such camera index, file or folder"
    raise UsageError(f"--source {text}: {problem} (give {kinds})")


def open_source(config: SourceConfig, camera_opener: CameraOpener = cv2.VideoCapture) -> Source:
    """Open what `config.text` names; UsageError when it cannot be opened."""
    kind = source_kind(config.text)
    if kind == "camera":
        return CameraSource(config, camera_opener)
    if kind == "folder":
        return ImageFolderSource(config)
    return VideoFileSource(config)


def media_time_s(source: Source, index: int) -> float | None:
    """A recording's frame time (index / fps); None for a live camera."""
    return None if source.live else index / (source.fps or DEFAULT_FPS)


def describe_source(source: Source) -> str:
    """One line: name, size and frame rate actually delivered."""
    width_px, height_px = source.size_px
    fps_text = f"{source.fps:.1f} fps" if source.fps else "fps unknown"
    return f"{source.name} {width_px}x{height_px} @ {fps_text}"
