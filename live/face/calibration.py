"""The driver's neutral face: a robust mean over the first second of tracked frames.

Used by the retarget stage (live/retarget.py) as the reference the driver's
pose change and expression are measured against. Saved as JSON so that a
session can start already calibrated (`live run --calibration FILE`).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from live.errors import UsageError
from live.face.pose import estimate_pose
from live.formats.landmarks import LANDMARK_COUNT, LANDMARK_FORMAT_VERSION

CALIBRATION_FORMAT = "live.calibration"
CALIBRATION_VERSION = 1
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


def save_calibration(path: str | Path, neutral_px: np.ndarray, frame_shape: tuple[int, ...]) -> None:
    """Write the driver's neutral (pixels of a frame of `frame_shape`) as JSON."""
    height_px, width_px = frame_shape[:2]
    data = {
        "format": CALIBRATION_FORMAT,
        "version": CALIBRATION_VERSION,
        "landmark_format_version": LANDMARK_FORMAT_VERSION,
        "frame_width_px": int(width_px),
        "frame_height_px": int(height_px),
        "neutral_landmarks_px": np.round(neutral_px.astype(np.float64), 3).tolist(),
    }
    try:
        Path(path).write_text(json.dumps(data) + "\n", encoding="utf-8")
    except OSError as error:
        raise UsageError(
            f"cannot write calibration {path}: {error.strerror}; pass a writable --calibration path"
        ) from error


def load_calibration(path: str | Path) -> tuple[np.ndarray, tuple[int, int]]:
    """The saved neutral (478, 3) pixels and its frame's (height_px, width_px); UsageError if unusable."""
    fix = "delete it or pass another --calibration file to calibrate afresh"
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as error:
        raise UsageError(f"cannot read calibration {path}: {error.strerror}; {fix}") from error
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise UsageError(f"calibration {path} is not valid JSON ({error}); {fix}") from error
    if not isinstance(data, dict) or data.get("format") != CALIBRATION_FORMAT:
        raise UsageError(f"{path} is not a live calibration file; {fix}")
    if data.get("version") != CALIBRATION_VERSION or data.get("landmark_format_version") != LANDMARK_FORMAT_VERSION:
        raise UsageError(f"calibration {path} was written by another version of live; {fix}")
    try:
        neutral_px = np.asarray(data["neutral_landmarks_px"], dtype=np.float32)
        frame_size = (int(data["frame_height_px"]), int(data["frame_width_px"]))
    except (KeyError, TypeError, ValueError) as error:
        raise UsageError(f"calibration {path} is incomplete or malformed ({error}); {fix}") from error
    if neutral_px.shape != (LANDMARK_COUNT, 3) or not np.isfinite(neutral_px).all() or min(frame_size) <= 0:
        raise UsageError(f"calibration {path} does not hold {LANDMARK_COUNT} finite landmarks of a real frame; {fix}")
    return neutral_px, frame_size


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
