"""Sinks: real video files, pyvirtualcam with a registered test backend, a real window under Xvfb.

CI needs the Debian packages xvfb (pytest-xvfb), twm (the window test's desktop), imagemagick (`import` for
screenshots) and xdotool (key presses).
"""

from __future__ import annotations

import ctypes
import dataclasses
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
import pyvirtualcam
from pyvirtualcam.util import encode_fourcc

from live.errors import UsageError
from live.io.compose import add_badge, compose_side_by_side, draw_stats_overlay
from live.io.sinks import (
    FileSink,
    SinkConfig,
    VirtualCameraSink,
    VirtualCameraUnavailable,
    WindowSink,
    open_sink,
    parse_output,
)

AVATAR_BGR = (40, 180, 220)


def avatar(size_px: int = 64) -> np.ndarray:
    image = np.zeros((size_px, size_px, 3), dtype=np.uint8)
    image[:] = AVATAR_BGR
    return image


def test_parse_output() -> None:
    assert parse_output("window").kind == "window"
    vcam = parse_output("vcam", fps=25.0, vcam_device="/dev/video9")
    assert (vcam.kind, vcam.fps, vcam.vcam_device, vcam.vcam_size_px) == ("vcam", 25.0, "/dev/video9", (1280, 720))
    assert parse_output("out/clip.MP4") == SinkConfig(kind="file", path=Path("out/clip.MP4"))
    assert parse_output("clip.avi").path == Path("clip.avi")
    expected = r"unknown output 'clip.mkv': use window, vcam, web, a .mp4/.avi/.webm path or a folder ending with /"
    with pytest.raises(UsageError, match=expected):
        parse_output("clip.mkv")


def test_badge_stays_in_the_bottom_right_corner() -> None:
    image = np.zeros((240, 320, 3), dtype=np.uint8)
    assert add_badge(image) is image
    changed = np.argwhere(image.any(axis=2))
    assert len(changed) > 100
    assert changed[:, 0].min() > 240 * 0.8 and changed[:, 1].min() > 320 * 0.8


def test_compose_side_by_side_and_stats_overlay() -> None:
    driver = np.full((480, 640, 3), 50, dtype=np.uint8)
    output = np.full((64, 64, 3), 200, dtype=np.uint8)
    composed = compose_side_by_side(driver, None, output, 120)
    assert composed.shape == (120, 160 + 120 + 120, 3)
    assert (composed[:, :160] == 50).all() and (composed[:, 160:280] == 0).all() and (composed[:, 280:] == 200).all()
    sketch = np.full((64, 64, 3), 100, dtype=np.uint8)
    again = compose_side_by_side(driver, sketch, output, 120, out_bgr=composed)
    assert again is composed and (again[:, 160:280] == 100).all()
    before = composed.copy()
    draw_stats_overlay(composed, ["fps 30.0", "latency 80 ms"])
    changed_rows = np.argwhere((composed != before).any(axis=(1, 2)))
    assert len(changed_rows) > 0 and changed_rows.max() < 120 * 0.8


@pytest.mark.parametrize("suffix", [".mp4", ".avi"])
def test_file_sink_writes_a_playable_video(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"avatar{suffix}"
    frame_count = 12
    frame = np.zeros((64, 96, 3), dtype=np.uint8)
    with open_sink(parse_output(str(path), fps=20.0), (96, 64)) as sink:
        assert isinstance(sink, FileSink)
        for index in range(frame_count):
            frame[:] = (index * 20, 100, 255 - index * 20)
            sink.write(frame)
        sink.write(np.zeros((32, 48, 3), dtype=np.uint8))  # other sizes are resized to the file's
    sink.close()
    assert frame[0, 0, 0] == (frame_count - 1) * 20  # the caller's frame is not drawn on
    capture = cv2.VideoCapture(str(path))
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == frame_count + 1
    decoded = []
    while True:
        ok, image = capture.read()
        if not ok:
            break
        decoded.append(image)
    capture.release()
    assert len(decoded) == frame_count + 1
    assert all(image.shape == (64, 96, 3) for image in decoded)
    assert abs(int(decoded[1][5, 5, 0]) - 20) < 12  # top-left shows the frame
    assert decoded[1][58, 90, 2] > decoded[1][58, 90, 0] + 40  # bottom-right shows the red badge


def test_file_sink_refuses_a_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"folder .*nowhere does not exist"):
        open_sink(parse_output(str(tmp_path / "nowhere" / "clip.mp4")), (64, 64))


class RecordingBackend:
    """A pyvirtualcam backend (the device boundary) that keeps the frames it is sent."""

    sent: list[np.ndarray] = []

    def __init__(self, *, width: int, height: int, fps: float, fourcc: int, device: str | None, **kw: object) -> None:
        assert fourcc == encode_fourcc(pyvirtualcam.PixelFormat.BGR.value)
        self.shape = (height, width, 3)
        self._device = device or "/dev/test-camera"
        RecordingBackend.sent = []

    def send(self, frame: np.ndarray) -> None:
        RecordingBackend.sent.append(frame.reshape(self.shape).copy())

    def device(self) -> str:
        return self._device

    def native_fourcc(self) -> int | None:
        return None

    def close(self) -> None:
        pass


def failing_backend(reason: str) -> type:
    class FailingBackend(RecordingBackend):
        def __init__(self, **kw: object) -> None:
            raise RuntimeError(reason)

    return FailingBackend


@pytest.fixture
def vcam_backends(monkeypatch: pytest.MonkeyPatch) -> dict[str, type]:
    """pyvirtualcam's backend registry, emptied for the test (the real v4l2loopback backend is restored after)."""
    backends: dict[str, type] = {}
    monkeypatch.setattr(pyvirtualcam.camera, "BACKENDS", backends)
    return backends


def test_letterboxed_virtual_camera_gets_the_avatar_centred_on_black(vcam_backends: dict[str, type]) -> None:
    pyvirtualcam.register_backend("test", RecordingBackend)
    config = dataclasses.replace(parse_output("vcam", vcam_backend="test"), vcam_fit="letterbox")
    with open_sink(config, (64, 64)) as sink:
        assert isinstance(sink, VirtualCameraSink)
        assert sink.device == "/dev/test-camera" and sink.backend == "test"
        for _ in range(3):
            sink.write(avatar())
    assert len(RecordingBackend.sent) == 3
    frame = RecordingBackend.sent[-1]
    assert frame.shape == (720, 1280, 3) and frame.dtype == np.uint8
    assert not frame[:, :280].any() and not frame[:, 1000:].any()
    assert (frame[:600, 280:1000] == AVATAR_BGR).all()  # 720x720 avatar, badge at its bottom right
    assert (frame[650:710, 900:990] != AVATAR_BGR).any(axis=2).sum() > 500


def test_virtual_camera_device_is_passed_through(vcam_backends: dict[str, type]) -> None:
    pyvirtualcam.register_backend("test", RecordingBackend)
    config = parse_output("vcam", vcam_device="/dev/video7", vcam_size_px=(640, 480), badge=False)
    with VirtualCameraSink(dataclasses.replace(config, vcam_fit="letterbox"), (64, 64)) as sink:
        assert sink.device == "/dev/video7"
        sink.write(avatar())
    assert RecordingBackend.sent[0].shape == (480, 640, 3)
    assert (RecordingBackend.sent[0][:, 80:560] == AVATAR_BGR).all()


def gradient_frame(width_px: int, height_px: int) -> np.ndarray:
    """A frame whose every pixel is non-black and tells where it came from (blue: column, green: row)."""
    frame = np.full((height_px, width_px, 3), 200, dtype=np.uint8)
    frame[:, :, 0] = np.linspace(10, 250, width_px).astype(np.uint8)[None, :]
    frame[:, :, 1] = np.linspace(10, 250, height_px).astype(np.uint8)[:, None]
    return frame


def test_virtual_camera_is_filled_without_black_bars_around_the_head(vcam_backends: dict[str, type]) -> None:
    pyvirtualcam.register_backend("test", RecordingBackend)
    head_box_px = (150.0, 20.0, 450.0, 320.0)  # a 640x480 target's head crop, near the top of its frame
    config = dataclasses.replace(parse_output("vcam", vcam_backend="test"), focus_box_px=head_box_px)
    assert config.vcam_fit == "fill" and config.vcam_size_px == (1280, 720)
    frame = gradient_frame(640, 480)
    with open_sink(config, (640, 480)) as sink:
        sink.write(frame)
    sent = RecordingBackend.sent[-1]
    assert sent.shape == (720, 1280, 3)
    assert sent.any(axis=2).all(axis=0).all() and sent.any(axis=2).all(axis=1).all(), "a black row or column"
    # 640x480 -> 1280x960 (scale 2), 720 rows kept: source rows 0..360, so the head (rows 20..320) is in view
    assert abs(int(sent[0, 640, 1]) - int(frame[0, 320, 1])) <= 2
    assert abs(int(sent[-1, 640, 1]) - int(frame[359, 320, 1])) <= 3
    assert abs(int(sent[360, 0, 0]) - int(frame[180, 0, 0])) <= 2 and abs(int(sent[360, -2, 0]) - 250) <= 2


def test_virtual_camera_fit_is_checked_before_a_camera_opens(vcam_backends: dict[str, type]) -> None:
    pyvirtualcam.register_backend("test", RecordingBackend)
    RecordingBackend.sent = []
    with pytest.raises(UsageError, match="--vcam-fit 'stretch': use one of fill, letterbox"):
        open_sink(dataclasses.replace(parse_output("vcam", vcam_backend="test"), vcam_fit="stretch"), (64, 64))


def test_no_virtual_camera_names_each_backend_failure_and_how_to_install(vcam_backends: dict[str, type]) -> None:
    pyvirtualcam.register_backend("v4l2loopback", failing_backend("device /dev/video0 does not exist"))
    pyvirtualcam.register_backend("obs", failing_backend("OBS Virtual Camera is not installed"))
    with pytest.raises(VirtualCameraUnavailable) as caught:
        open_sink(parse_output("vcam"), (64, 64))
    message = str(caught.value)
    assert isinstance(caught.value, UsageError) and "\n" not in message
    assert "'v4l2loopback' backend: device /dev/video0 does not exist" in message
    assert "'obs' backend: OBS Virtual Camera is not installed" in message
    assert "modprobe v4l2loopback devices=1 exclusive_caps=1" in message and "OBS" in message


@pytest.fixture
def desktop(tmp_path: Path) -> Iterator[str]:
    """A display of its own with a window manager, as a user's desktop has: a fresh Xvfb server (the session's
    display holds earlier tests' windows, and one of them once covered this test's window) and twm. Without a
    window manager Qt sometimes never paints a window it mapped (2 of 10 tries here: black forever)."""
    assert shutil.which("Xvfb") and shutil.which("twm"), "needs the Debian packages xvfb and twm"
    read_end, write_end = os.pipe()
    command = ["Xvfb", "-displayfd", str(write_end), "-screen", "0", "1024x768x24", "-nolisten", "tcp"]
    server = subprocess.Popen(command, pass_fds=(write_end,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write_end)
    with os.fdopen(read_end) as pipe:
        number = pipe.readline().strip()
    assert number.isdigit(), "Xvfb did not report its display number"
    (tmp_path / "twmrc").write_text("RandomPlacement\nNoTitle\n")  # place windows without asking the user
    environment = dict(os.environ, DISPLAY=f":{number}")
    manager = subprocess.Popen(["twm", "-f", str(tmp_path / "twmrc")], env=environment, stderr=subprocess.DEVNULL)
    try:
        yield f":{number}"
    finally:
        for process in (manager, server):
            process.terminate()
            process.wait(timeout=30)


def avatar_pixels_on(display: str) -> int:
    command = ["import", "-display", display, "-window", "root", "png:-"]
    png = subprocess.run(command, capture_output=True, check=True, timeout=30).stdout
    shot = cv2.imdecode(np.frombuffer(png, dtype=np.uint8), cv2.IMREAD_COLOR).astype(np.int16)
    return int((np.abs(shot - np.array(AVATAR_BGR, dtype=np.int16)).max(axis=2) <= 8).sum())


@pytest.mark.needs("Xvfb", "twm", "import", "xdotool")
def test_window_shows_frames_and_returns_keys(desktop: str) -> None:
    """A real window on a desktop of its own: the frame is painted on screen, a key press reaches poll_key()."""
    assert shutil.which("import") and shutil.which("xdotool"), "needs Debian packages imagemagick and xdotool"
    display = desktop
    environment = dict(os.environ, DISPLAY=display)
    child_command = [sys.executable, str(Path(__file__).with_name("window_child.py")), ",".join(map(str, AVATAR_BGR))]
    assert avatar_pixels_on(display) == 0
    child = subprocess.Popen([*child_command, "240"], env=environment, stdout=subprocess.PIPE, text=True)
    try:
        pixels = 0
        deadline_s = time.monotonic() + 60.0  # the window maps and paints after a few GUI loop turns
        while time.monotonic() < deadline_s and child.poll() is None:
            pixels = avatar_pixels_on(display)
            if pixels > 0.9 * 240 * 240:
                break
        assert pixels > 0.9 * 240 * 240, f"{pixels} avatar pixels on screen"
        search = ["xdotool", "search", "--name", "^live-keys$"]
        window_ids = subprocess.run(search, env=environment, capture_output=True, text=True, check=True).stdout.split()
        press = ["xdotool", "windowfocus", "--sync", window_ids[-1], "key", "q"]
        subprocess.run(press, env=environment, check=True, timeout=30)
        output, _ = child.communicate(timeout=60)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == 0
    assert output.split("\n")[:3] == [f"key {ord('q')}", "closed while open False", "closed after True"], output


class _ClientMessage(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int),
        ("serial", ctypes.c_ulong),
        ("send_event", ctypes.c_int),
        ("display", ctypes.c_void_p),
        ("window", ctypes.c_ulong),
        ("message_type", ctypes.c_ulong),
        ("format", ctypes.c_int),
        ("data", ctypes.c_long * 5),
    ]


class _XEvent(ctypes.Union):
    _fields_ = [("xclient", _ClientMessage), ("padding", ctypes.c_long * 24)]


def close_like_a_window_manager(window_id: int) -> None:
    """Send WM_DELETE_WINDOW, what a window manager sends when the user clicks the close button."""
    x11 = ctypes.CDLL("libX11.so.6")
    x11.XOpenDisplay.restype = ctypes.c_void_p
    x11.XOpenDisplay.argtypes = [ctypes.c_char_p]
    x11.XInternAtom.restype = ctypes.c_ulong
    x11.XInternAtom.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
    x11.XSendEvent.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_int, ctypes.c_long, ctypes.POINTER(_XEvent)]
    x11.XFlush.argtypes = x11.XCloseDisplay.argtypes = [ctypes.c_void_p]
    display = x11.XOpenDisplay(None)
    event = _XEvent()
    event.xclient.type = 33  # ClientMessage
    event.xclient.window = window_id
    event.xclient.message_type = x11.XInternAtom(display, b"WM_PROTOCOLS", 0)
    event.xclient.format = 32
    event.xclient.data[0] = x11.XInternAtom(display, b"WM_DELETE_WINDOW", 0)
    assert x11.XSendEvent(display, window_id, 0, 0, ctypes.byref(event))
    x11.XFlush(display)
    x11.XCloseDisplay(display)


@pytest.mark.needs("Xvfb", "xdotool")
def test_window_reports_when_the_user_closes_it(xvfb: object) -> None:
    assert xvfb is not None, "needs Xvfb (Debian package xvfb) for pytest-xvfb"
    with WindowSink(parse_output("window"), (160, 120), title="live-close") as sink:
        for _ in range(20):
            sink.write(avatar(120))
            sink.poll_key()
        assert not sink.closed
        window_ids = subprocess.run(
            ["xdotool", "search", "--name", "^live-close$"], capture_output=True, text=True, check=True
        ).stdout.split()
        close_like_a_window_manager(int(window_ids[-1]))
        for _ in range(50):
            sink.poll_key()
            if sink.closed:
                break
        assert sink.closed
        sink.write(avatar(120))  # no error, no new window
        assert sink.poll_key() is None


def test_window_without_display_is_a_usage_error_not_an_abort(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    with pytest.raises(UsageError, match=r"^no display: use --output FILE or --output vcam$"):
        open_sink(parse_output("window"), (64, 64))
    monkeypatch.setenv("DISPLAY", ":4321")
    with pytest.raises(UsageError, match=r"cannot connect to display ':4321'"):
        open_sink(parse_output("window"), (64, 64))


def test_window_refuses_worker_threads() -> None:
    errors: list[Exception] = []

    def open_window() -> None:
        try:
            WindowSink(parse_output("window"), (64, 64))
        except RuntimeError as error:
            errors.append(error)

    thread = threading.Thread(target=open_window)
    thread.start()
    thread.join(timeout=10)
    assert len(errors) == 1 and "main thread" in str(errors[0])


def window_size_px(name: str) -> tuple[int, int]:
    window_id = subprocess.run(
        ["xdotool", "search", "--name", f"^{name}$"], capture_output=True, text=True, check=True
    ).stdout.split()[-1]
    shell = subprocess.run(
        ["xdotool", "getwindowgeometry", "--shell", window_id], capture_output=True, text=True, check=True
    ).stdout
    values = dict(line.split("=", 1) for line in shell.split())
    return int(values["WIDTH"]), int(values["HEIGHT"])


@pytest.mark.needs("Xvfb", "xdotool")
def test_window_follows_the_view_size(xvfb: object) -> None:
    """Switching to the wider side-by-side view resizes the window instead of squeezing the view."""
    assert xvfb is not None, "needs Xvfb (Debian package xvfb) for pytest-xvfb"
    with WindowSink(parse_output("window"), (256, 256), title="live-size") as sink:
        for _ in range(20):
            sink.write(avatar(256))
            sink.poll_key()
        square = window_size_px("live-size")
        wide_bgr = np.zeros((360, 1080, 3), np.uint8)
        for _ in range(20):
            sink.write(wide_bgr)
            sink.poll_key()
        wide = window_size_px("live-size")
    assert square[1] >= 512 and abs(square[0] - square[1]) <= 2
    assert abs(wide[0] / wide[1] - 3.0) < 0.05 and wide[1] >= 512
