"""Sink stage: where avatar frames go (a preview window, a virtual camera, a video file).

Every sink has `write(image_bgr)` and an idempotent `close()`. Sinks never draw
on the frame they are given (other sinks may show it too): file and virtual
camera copy it into their own preallocated buffer and add the "AI" badge there.
"""

from __future__ import annotations

import os
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from live.closing import Closing
from live.errors import UsageError
from live.io.compose import add_badge, resize_into
from live.io.file_sink import FileSink
from live.io.frame_folder import FrameFolderSink
from live.io.video_writer import VIDEO_FORMATS
from live.io.web_sink import WebConfig, WebSink

VCAM_INSTALL_HINT = (
    'install a virtual camera: on Linux `sudo modprobe v4l2loopback devices=1 exclusive_caps=1 card_label="live"` '
    "(package v4l2loopback-dkms); on Windows and macOS install OBS Studio and start its Virtual Camera once"
)


class Sink(Protocol):
    """An output for composed avatar frames."""

    name: str

    def write(self, image_bgr: np.ndarray) -> None:
        """Output one composed frame."""

    def close(self) -> None:
        """Finalise and release; safe to call twice."""


@dataclass(frozen=True, slots=True)
class SinkConfig:
    """kind: window, vcam or file; path: the video file (file only); fps: file and virtual camera rate;
    vcam_size_px: (width, height) of the virtual camera; vcam_device / vcam_backend: pyvirtualcam's
    device and backend (None = first that works); badge: draw the "AI" badge on file and vcam output;
    vcam_fit: "fill" (crop the frame to the camera's aspect, no black bars) or "letterbox" (whole frame,
    black bars); focus_box_px: (x0, y0, x1, y1) of the frame that "fill" keeps in view (the head), None:
    the centre; alpha: the run carries the person's matte (`--background transparent`): PNG folders and
    .webm files keep it, the others get the key colour behind the person."""

    kind: str
    path: Path | None = None
    fps: float = 30.0
    vcam_size_px: tuple[int, int] = (1280, 720)
    vcam_device: str | None = None
    badge: bool = True
    vcam_backend: str | None = None
    vcam_fit: str = "fill"
    focus_box_px: tuple[float, float, float, float] | None = None
    web: WebConfig = WebConfig()  # --output web: address, port, viewers
    alpha: bool = False


def parse_output(
    text: str,
    *,
    fps: float = 30.0,
    vcam_size_px: tuple[int, int] = (1280, 720),
    vcam_device: str | None = None,
    vcam_backend: str | None = None,
    badge: bool = True,
) -> SinkConfig:
    """A SinkConfig from `--output TEXT`: window, vcam, web, a video file (VIDEO_FORMATS) or a folder ending /."""
    options = dict(fps=fps, vcam_size_px=vcam_size_px, vcam_device=vcam_device, vcam_backend=vcam_backend, badge=badge)
    if text in ("window", "vcam", "web"):
        return SinkConfig(kind=text, **options)
    path = Path(text).expanduser()
    if path.suffix.lower() in VIDEO_FORMATS:
        return SinkConfig(kind="file", path=path, **options)
    if text.endswith(("/", "\\")):
        return SinkConfig(kind="frames", path=path, **options)
    files = "/".join(VIDEO_FORMATS)
    raise UsageError(f"unknown output {text!r}: use window, vcam, web, a {files} path or a folder ending with /")


VCAM_FITS = ("fill", "letterbox")


def letterbox_region(frame_size_px: tuple[int, int], canvas_size_px: tuple[int, int]) -> tuple[int, int, int, int]:
    """(x, y, width, height) of the canvas that a whole frame, scaled to fit and centred, covers."""
    scale = min(canvas_size_px[0] / frame_size_px[0], canvas_size_px[1] / frame_size_px[1])
    width_px, height_px = round(frame_size_px[0] * scale), round(frame_size_px[1] * scale)
    return (canvas_size_px[0] - width_px) // 2, (canvas_size_px[1] - height_px) // 2, width_px, height_px


def fill_source_box(
    frame_size_px: tuple[int, int],
    canvas_size_px: tuple[int, int],
    focus_box_px: tuple[float, float, float, float] | None,
) -> tuple[int, int, int, int]:
    """(x0, y0, x1, y1) of the frame that fills the canvas at the canvas's aspect: as large as the frame
    allows, centred on the focus box (the head) and moved only as far as needed to stay inside the frame."""
    (width_px, height_px), (canvas_width_px, canvas_height_px) = frame_size_px, canvas_size_px
    scale = max(canvas_width_px / width_px, canvas_height_px / height_px)
    box_width_px = min(width_px, round(canvas_width_px / scale))
    box_height_px = min(height_px, round(canvas_height_px / scale))
    if focus_box_px is None:
        centre_x, centre_y = width_px / 2, height_px / 2
    else:
        centre_x, centre_y = (focus_box_px[0] + focus_box_px[2]) / 2, (focus_box_px[1] + focus_box_px[3]) / 2
    x0 = int(np.clip(round(centre_x - box_width_px / 2), 0, width_px - box_width_px))
    y0 = int(np.clip(round(centre_y - box_height_px / 2), 0, height_px - box_height_px))
    return x0, y0, x0 + box_width_px, y0 + box_height_px


class VirtualCameraUnavailable(UsageError):
    """No pyvirtualcam backend could open a virtual camera."""


class VirtualCameraSink(Closing):
    """A pyvirtualcam camera of config.vcam_size_px: by default filled with the avatar's frame cropped to the
    camera's aspect around config.focus_box_px (no black bars); with vcam_fit "letterbox", the whole frame
    scaled to fit and centred on black."""

    def __init__(self, config: SinkConfig, frame_size_px: tuple[int, int]) -> None:
        import pyvirtualcam

        self.config = config
        canvas_width_px, canvas_height_px = config.vcam_size_px
        if config.vcam_fit not in VCAM_FITS:
            raise UsageError(f"--vcam-fit {config.vcam_fit!r}: use one of {', '.join(VCAM_FITS)}")
        if config.vcam_backend is not None and config.vcam_backend not in pyvirtualcam.camera.BACKENDS:
            backends = ", ".join(pyvirtualcam.camera.BACKENDS) or "none here"
            raise VirtualCameraUnavailable(
                f"unknown virtual camera backend {config.vcam_backend!r}: use one of {backends}"
            )
        try:
            self._camera = pyvirtualcam.Camera(
                canvas_width_px,
                canvas_height_px,
                config.fps,
                fmt=pyvirtualcam.PixelFormat.BGR,
                device=config.vcam_device,
                backend=config.vcam_backend,
            )
        except RuntimeError as error:
            reasons = (
                "; ".join(line.strip() for line in str(error).splitlines() if line.strip())
                or "no backend for this platform"
            )
            raise VirtualCameraUnavailable(f"no virtual camera ({reasons}): {VCAM_INSTALL_HINT}") from error
        self.device: str = self._camera.device
        self.backend: str = self._camera.backend
        self.name = f"virtual camera {self.device}"
        self._canvas_bgr = np.zeros((canvas_height_px, canvas_width_px, 3), dtype=np.uint8)
        if config.vcam_fit == "letterbox":
            self._source_box = (0, 0, frame_size_px[0], frame_size_px[1])
            x_px, y_px, width_px, height_px = letterbox_region(frame_size_px, config.vcam_size_px)
            self._avatar_view = self._canvas_bgr[y_px : y_px + height_px, x_px : x_px + width_px]
        else:
            self._source_box = fill_source_box(frame_size_px, config.vcam_size_px, config.focus_box_px)
            self._avatar_view = self._canvas_bgr

    def write(self, image_bgr: np.ndarray) -> None:
        """Send one frame (cropped or letterboxed as configured), with the badge in the avatar's corner."""
        if self._camera is None:
            raise RuntimeError(f"{self.name} is closed")
        x0, y0, x1, y1 = self._source_box
        resize_into(image_bgr[y0:y1, x0:x1], self._avatar_view)
        if self.config.badge:
            add_badge(self._avatar_view)
        self._camera.send(self._canvas_bgr)

    def close(self) -> None:
        """Release the virtual camera; safe to call twice."""
        if self._camera is not None:
            self._camera.close()
            self._camera = None


def display_problem() -> str | None:
    """Why OpenCV cannot open a window here (its Qt aborts the process instead of raising), or None."""
    if not sys.platform.startswith("linux"):
        return None
    display = os.environ.get("DISPLAY")
    if not display:
        wayland = " (Wayland without XWayland: OpenCV's window needs X11)" if os.environ.get("WAYLAND_DISPLAY") else ""
        return f"no display{wayland}: use --output FILE or --output vcam"
    import ctypes

    try:
        xcb = ctypes.CDLL("libxcb.so.1")
    except OSError:
        return None  # cannot probe; OpenCV's Qt needs libxcb and will report it
    xcb.xcb_connect.restype = ctypes.c_void_p
    xcb.xcb_connection_has_error.argtypes = [ctypes.c_void_p]
    xcb.xcb_disconnect.argtypes = [ctypes.c_void_p]
    connection = xcb.xcb_connect(display.encode(), None)
    failed = xcb.xcb_connection_has_error(connection)
    xcb.xcb_disconnect(connection)
    return f"cannot connect to display {display!r}: use --output FILE or --output vcam" if failed else None


WINDOW_MIN_HEIGHT_PX = 512  # frames are shown at least at their own size, and at least this tall


class WindowSink(Closing):
    """A preview window (main thread only). `poll_key()` runs the GUI loop; `closed` tells if the user closed it."""

    def __init__(self, config: SinkConfig, frame_size_px: tuple[int, int], title: str = "live") -> None:
        if threading.current_thread() is not threading.main_thread():
            raise RuntimeError("WindowSink must be created and used on the main thread")
        problem = display_problem()
        if problem:
            raise UsageError(problem)
        self.config = config
        self.name = f"window {title!r}"
        self.title = title
        cv2.namedWindow(title, cv2.WINDOW_NORMAL | cv2.WINDOW_KEEPRATIO | cv2.WINDOW_GUI_NORMAL)
        self._image_size_px: tuple[int, int] = (0, 0)
        self._fit_window(frame_size_px)
        self._open = True
        self._shown = False
        self._user_closed = False

    def _fit_window(self, image_size_px: tuple[int, int]) -> None:
        """Size the window for images of this size (scaled up to WINDOW_MIN_HEIGHT_PX, aspect kept)."""
        width_px, height_px = image_size_px
        scale = max(1.0, WINDOW_MIN_HEIGHT_PX / height_px)
        cv2.resizeWindow(self.title, round(width_px * scale), round(height_px * scale))
        self._image_size_px = image_size_px

    def write(self, image_bgr: np.ndarray) -> None:
        """Show one frame (it appears on the next poll_key()); nothing once the window was closed.
        The window is resized when the view's size changes (output only <-> side by side)."""
        if self._open and not self._user_closed:
            size_px = (image_bgr.shape[1], image_bgr.shape[0])
            if size_px != self._image_size_px:
                self._fit_window(size_px)
            cv2.imshow(self.title, image_bgr)
            self._shown = True

    def poll_key(self) -> int | None:
        """Let the window draw for ~1 ms; the key pressed (e.g. ord("q"), 27 for Esc) or None."""
        if not self._open or self._user_closed:
            return None
        key = cv2.waitKey(1)
        if self._shown and not self._visible():
            self._user_closed = True
        return None if key == -1 else key & 0xFF

    def _visible(self) -> bool:
        try:
            return cv2.getWindowProperty(self.title, cv2.WND_PROP_VISIBLE) >= 1
        except cv2.error:  # Qt raises once the user has closed the last window
            return False

    @property
    def closed(self) -> bool:
        """True once the user closed the window (seen by poll_key()) or close() was called."""
        return not self._open or self._user_closed

    def close(self) -> None:
        """Destroy the window; safe to call twice."""
        if self._open:
            self._open = False
            if not self._user_closed:
                cv2.destroyWindow(self.title)
                cv2.waitKey(1)


SINK_KINDS: dict[str, type] = {
    "window": WindowSink,
    "vcam": VirtualCameraSink,
    "file": FileSink,
    "frames": FrameFolderSink,
    "web": WebSink,
}


def open_sink(config: SinkConfig, frame_size_px: tuple[int, int]) -> Sink:
    """Open the sink of config.kind for frames of frame_size_px (width, height)."""
    if config.kind not in SINK_KINDS:
        raise UsageError(f"unknown output kind {config.kind!r}: use {', '.join(SINK_KINDS)}")
    return SINK_KINDS[config.kind](config, frame_size_px)
