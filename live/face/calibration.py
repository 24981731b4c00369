"""The driver's neutral face: a robust mean over the first second of tracked frames.

Used by the retarget stage (live/face/retarget.py) as the reference the driver's
pose change and expression are measured against. `DriverNeutral` is the
calibration state machine (waiting -> calibrated, and back on a recalibration
request); files are live/io/calibration_file.py's job (`live run --calibration FILE`).
"""

from __future__ import annotations

import queue
import threading

import numpy as np

from live.face.pose import estimate_pose
from live.face.regions import FaceReference, face_reference

CALIBRATION_HINT = "calibrating: look at the camera with a relaxed face"


def robust_neutral(frames_px: list[np.ndarray]) -> np.ndarray:
    """Per-point median of the frames after aligning each one rigidly (similarity) onto the first.

    Aligning first removes head motion during calibration; the median ignores
    a blink or a word. A second pass aligns onto the first pass's median.
    """
    reference = frames_px[0]
    for _ in range(2):
        aligned = [estimate_pose(reference, frame).apply(frame.astype(np.float64)) for frame in frames_px]
        reference = np.median(np.stack(aligned), axis=0)
    return reference.astype(np.float32)


class NeutralCalibration:
    """Collects tracked frames until `duration_s` of continuous tracking, then yields the neutral."""

    def __init__(self, duration_s: float) -> None:
        self.duration_s = duration_s
        self._frames_px: list[np.ndarray] = []
        self._first_t_s = 0.0
        self._last_t_s = 0.0

    def reset(self) -> None:
        """Throw the collected frames away (tracking lost, or a new calibration)."""
        self._frames_px = []

    @property
    def collected_s(self) -> float:
        """Seconds of tracked frames collected so far."""
        return self._last_t_s - self._first_t_s if self._frames_px else 0.0

    def add(self, landmarks_px: np.ndarray, t_s: float) -> np.ndarray | None:
        """Add a tracked frame; the neutral (478, 3) once duration_s is covered, else None."""
        if not self._frames_px:
            self._first_t_s = t_s
        self._frames_px.append(landmarks_px.astype(np.float32, copy=True))
        self._last_t_s = t_s
        if self.collected_s < self.duration_s:
            return None
        neutral_px = robust_neutral(self._frames_px)
        self.reset()
        return neutral_px


def neutral_for_frame(
    neutral_px: np.ndarray, calibrated_shape: tuple[int, int], frame_shape: tuple[int, ...]
) -> np.ndarray:
    """The neutral moved to a frame of another size: scaled uniformly about the frame centres."""
    old_height_px, old_width_px = calibrated_shape
    height_px, width_px = frame_shape[:2]
    if (old_height_px, old_width_px) == (height_px, width_px):
        return neutral_px
    scale = min(height_px / old_height_px, width_px / old_width_px)
    old_centre = np.array([old_width_px / 2, old_height_px / 2, 0.0], dtype=np.float32)
    new_centre = np.array([width_px / 2, height_px / 2, 0.0], dtype=np.float32)
    return ((neutral_px - old_centre) * np.float32(scale) + new_centre).astype(np.float32)


class DriverNeutral:
    """The calibration state machine of one driver.

    Threads: `request_recalibration()` may be called from any thread (it sets an
    Event); `take_new()` from any thread (a thread-safe queue hands each finished
    calibration over, e.g. to the main thread that writes the file). Everything
    else belongs to the thread that retargets.
    """

    def __init__(self, duration_s: float, labels: np.ndarray) -> None:
        self.duration_s = duration_s
        self.source = ""
        self._labels = labels
        self._collector = NeutralCalibration(duration_s)
        self._requested = threading.Event()
        self._finished: queue.SimpleQueue[tuple[np.ndarray, tuple[int, int]]] = queue.SimpleQueue()
        self._neutral_px: np.ndarray | None = None
        self._frame_size = (0, 0)
        self._reference: FaceReference | None = None
        self._reference_shape: tuple[int, ...] = ()

    @property
    def calibrated(self) -> bool:
        """True once a neutral is known (calibrated or loaded)."""
        return self._neutral_px is not None

    @property
    def collected_s(self) -> float:
        """Seconds of tracked frames collected towards the next neutral."""
        return self._collector.collected_s

    def request_recalibration(self) -> None:
        """Forget the neutral at the next frame and calibrate again (any thread)."""
        self._requested.set()

    def restart_collection(self) -> None:
        """Tracking lost: an unfinished calibration starts over."""
        self._collector.reset()

    def use(self, neutral_px: np.ndarray, frame_shape: tuple[int, ...], source: str = "") -> None:
        """Take a known neutral ((478, 3) pixels of a frame of frame_shape) instead of calibrating."""
        self._neutral_px = np.asarray(neutral_px, dtype=np.float32)
        self._frame_size = (int(frame_shape[0]), int(frame_shape[1]))
        self._reference, self.source = None, source
        self._collector.reset()

    def take_new(self) -> tuple[np.ndarray, tuple[int, int]] | None:
        """The next calibration finished since the last call ((478, 3) neutral, frame (height, width)), or None."""
        try:
            return self._finished.get_nowait()
        except queue.Empty:
            return None

    def reference(self, landmarks_px: np.ndarray, frame_shape: tuple[int, ...], t_s: float) -> FaceReference | None:
        """The driver's neutral measured for this frame's size; None while calibrating (the frame is collected)."""
        if self._requested.is_set():
            self._requested.clear()
            self._neutral_px, self._reference, self.source = None, None, ""
            self._collector.reset()
        if self._neutral_px is None:
            neutral_px = self._collector.add(landmarks_px, t_s)
            if neutral_px is None:
                return None
            self.use(neutral_px, frame_shape)
            self._finished.put((neutral_px, self._frame_size))
        if self._reference is None or self._reference_shape != tuple(frame_shape[:2]):
            neutral_px = neutral_for_frame(self._neutral_px, self._frame_size, frame_shape)
            self._reference = face_reference(neutral_px, self._labels)
            self._reference_shape = tuple(frame_shape[:2])
        return self._reference
