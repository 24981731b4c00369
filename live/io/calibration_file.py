"""The driver's calibration on disk (`live run --calibration FILE`): JSON, loaded before the run, written
by the main thread whenever the retargeter finishes a calibration (never by the tracking thread)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from live.errors import UsageError
from live.face.retarget import Retargeter
from live.formats.landmarks import LANDMARK_COUNT, LANDMARK_FORMAT_VERSION

CALIBRATION_FORMAT = "live.calibration"
CALIBRATION_VERSION = 1


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


class CalibrationFile:
    """`live run --calibration FILE`: load it into the retargeter if it exists (before the workers start);
    `write_new` (main thread) writes each calibration the retargeter finished since the last call."""

    def __init__(self, path: str | Path | None) -> None:
        self.path = Path(path) if path else None

    def load_into(self, retargeter: Retargeter) -> None:
        """Start calibrated from the file when it exists (pose/full modes); UsageError when it is unusable."""
        if self.path is not None and retargeter.config.mode != "off" and self.path.exists():
            neutral_px, frame_size = load_calibration(self.path)
            retargeter.use_neutral(neutral_px, frame_size, f" from {self.path}")

    def write_new(self, retargeter: Retargeter) -> None:
        """Write the newest calibration finished since the last call, if any (without a path: forget them)."""
        newest = None
        while (found := retargeter.take_new_calibration()) is not None:
            newest = found
        if newest is not None and self.path is not None:
            save_calibration(self.path, *newest)
