"""The driver's neutral face: a robust mean over the first second of tracked frames.

Used by the retarget stage (live/face/retarget.py) as the reference the driver's
pose change and expression are measured against. `DriverNeutral` is the
calibration state machine (waiting -> calibrated, and back on a recalibration
request); files are live/io/calibration_file.py's job (`live run --calibration FILE`).
While it calibrates, the driver is followed against a provisional neutral, the median of
the frames collected so far: the avatar moves from the first tracked frame instead of
holding still for a second, and a short clip is followed from its start.
"""

from __future__ import annotations

import dataclasses
import queue
import threading

import numpy as np

from live.face.expression import eye_openings
from live.face.expression_transfer import CLOSED_EYE_OPENING
from live.face.pose import estimate_pose
from live.face.regions import FaceReference, face_reference

CALIBRATION_HINT = "calibrating: look at the camera with a relaxed face"


def aligned_onto(reference_px: np.ndarray, frame_px: np.ndarray) -> np.ndarray:
    """The frame moved rigidly (similarity) onto the reference, float64."""
    return estimate_pose(reference_px, frame_px).apply(frame_px.astype(np.float64))


def robust_neutral(frames_px: list[np.ndarray], first_pass_px: list[np.ndarray] | None = None) -> np.ndarray:
    """Per-point median of the frames after aligning each one rigidly (similarity) onto the first.

    Aligning first removes head motion during calibration; the median ignores
    a blink or a word. A second pass aligns onto the first pass's median.
    first_pass_px: the frames already aligned onto the first, when the caller has them (NeutralCalibration).
    """
    if first_pass_px is None:
        first_pass_px = [aligned_onto(frames_px[0], frame) for frame in frames_px]
    reference = np.median(np.stack(first_pass_px), axis=0)
    second_pass_px = [aligned_onto(reference, frame) for frame in frames_px]
    return np.median(np.stack(second_pass_px), axis=0).astype(np.float32)


def open_eye_openings(openings: np.ndarray) -> np.ndarray:
    """(2,) each eye's median opening over the frames where it is at least half as open as its widest
    (measured from a closed eye's opening; the widest frame always counts, even if every frame is closed);
    openings: (frames, 2) live.face.expression.eye_openings of each frame."""
    widest = openings.max(axis=0)
    open_enough = openings >= np.minimum(CLOSED_EYE_OPENING + 0.5 * (widest - CLOSED_EYE_OPENING), widest)
    return np.array([np.median(openings[open_enough[:, eye], eye]) for eye in range(2)])


class NeutralCalibration:
    """Collects tracked frames until `duration_s` of continuous tracking, then yields the neutral."""

    def __init__(self, duration_s: float) -> None:
        self.duration_s = duration_s
        self._frames_px: list[np.ndarray] = []
        self._aligned_px: list[np.ndarray] = []  # each frame aligned onto the first (robust_neutral's first pass)
        self._eye_openings: list[np.ndarray] = []  # each frame's (2,) eye openings
        self._first_t_s = 0.0
        self._last_t_s = 0.0

    def reset(self) -> None:
        """Throw the collected frames away (tracking lost, or a new calibration)."""
        self._frames_px, self._aligned_px, self._eye_openings = [], [], []

    @property
    def collected_s(self) -> float:
        """Seconds of tracked frames collected so far."""
        return self._last_t_s - self._first_t_s if self._frames_px else 0.0

    def provisional(self, labels: np.ndarray) -> FaceReference:
        """The neutral of the frames collected so far, measured (call after `add`): what the driver is
        followed against until duration_s is covered. Each frame was aligned onto the first as it came (the
        first pass of robust_neutral: a median per frame, not a fit per frame and collected frame). Each
        eye's neutral opening is that of the frames where it is open (open_eye_openings): a blink among
        the first few frames must not make the open eye read as wide."""
        reference = face_reference(np.median(np.stack(self._aligned_px), axis=0), labels)
        return dataclasses.replace(reference, eye_openings=open_eye_openings(np.array(self._eye_openings)))

    def add(self, landmarks_px: np.ndarray, t_s: float) -> np.ndarray | None:
        """Add a tracked frame; the neutral (478, 3) once duration_s is covered, else None."""
        if not self._frames_px:
            self._first_t_s = t_s
        frame_px = landmarks_px.astype(np.float32, copy=True)
        self._frames_px.append(frame_px)
        self._aligned_px.append(aligned_onto(self._frames_px[0], frame_px))
        self._eye_openings.append(eye_openings(frame_px))
        self._last_t_s = t_s
        if self.collected_s < self.duration_s:
            return None
        neutral_px = robust_neutral(self._frames_px, self._aligned_px)
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

    def reference(self, landmarks_px: np.ndarray, frame_shape: tuple[int, ...], t_s: float) -> FaceReference:
        """The driver's neutral measured for this frame's size; while calibrating (the frame is collected),
        the provisional one of the frames collected so far."""
        if self._requested.is_set():
            self._requested.clear()
            self._neutral_px, self._reference, self.source = None, None, ""
            self._collector.reset()
        if self._neutral_px is None:
            neutral_px = self._collector.add(landmarks_px, t_s)
            if neutral_px is None:
                return self._collector.provisional(self._labels)
            self.use(neutral_px, frame_shape)
            self._finished.put((neutral_px, self._frame_size))
        if self._reference is None or self._reference_shape != tuple(frame_shape[:2]):
            neutral_px = neutral_for_frame(self._neutral_px, self._frame_size, frame_shape)
            self._reference = face_reference(neutral_px, self._labels)
            self._reference_shape = tuple(frame_shape[:2])
        return self._reference
