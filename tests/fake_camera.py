"""A fake webcam at the device boundary: stands in for cv2.VideoCapture(index)."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import cv2
import numpy as np


class Stall:
    """Put in a session's frames: read() blocks there (the device stays open, no frame comes)
    until `release` is set; `started` tells that a read is blocked."""

    def __init__(self) -> None:
        self.started = threading.Event()
        self.release = threading.Event()


class FakeCapture:
    """One opened (or unopenable) device: delivers `frames` (waiting at each Stall), then fails every read."""

    def __init__(self, frames_bgr: Sequence[np.ndarray | Stall] | None, fps: float = 30.0) -> None:
        self._frames = list(frames_bgr) if frames_bgr is not None else None
        self._settings: dict[int, float] = {cv2.CAP_PROP_FPS: fps}
        if self._frames and not isinstance(self._frames[0], Stall):
            height_px, width_px = self._frames[0].shape[:2]
            self._settings.update({cv2.CAP_PROP_FRAME_WIDTH: width_px, cv2.CAP_PROP_FRAME_HEIGHT: height_px})
        self.requested: dict[int, float] = {}
        self.released = False

    def isOpened(self) -> bool:
        return self._frames is not None and not self.released

    def read(self) -> tuple[bool, np.ndarray | None]:
        if not self.isOpened() or not self._frames:
            return False, None
        item = self._frames.pop(0)
        if isinstance(item, Stall):
            item.started.set()
            item.release.wait()
            return self.read()
        return True, item.copy()

    def set(self, property_id: int, value: float) -> bool:
        self.requested[property_id] = value
        return True

    def get(self, property_id: int) -> float:
        return float(self._settings.get(property_id, 0.0))

    def release(self) -> None:
        self.released = True


class FakeCameraDevice:
    """The camera opener: each open (cv2.VideoCapture(index)) gets the next scripted session.

    `sessions[i]` is the list of frames delivered by the i-th open (None: that open fails);
    opens after the last script entry fail. `indices` limits which indices exist.
    """

    def __init__(
        self,
        sessions: Sequence[Sequence[np.ndarray | Stall] | None],
        indices: Sequence[int] = (0,),
        fps: float = 30.0,
    ) -> None:
        self.sessions = list(sessions)
        self.indices = set(indices)
        self.fps = fps
        self.opened: list[FakeCapture] = []

    def __call__(self, index: int) -> FakeCapture:
        frames = self.sessions.pop(0) if index in self.indices and self.sessions else None
        capture = FakeCapture(frames, self.fps)
        self.opened.append(capture)
        return capture
