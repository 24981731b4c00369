"""The driver's calibration on disk (`live run --calibration FILE`): JSON, loaded before the run, written
by the main thread whenever the retargeter finishes a calibration (never by the tracking thread)."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import numpy as np

from live.errors import UsageError
from live.face.alignment import ALIGNMENT_INDICES, HEAD_TEMPLATE
from live.face.retarget import Retargeter
from live.formats.face_checks import face_geometry_problem, is_number
from live.formats.landmarks import LANDMARK_COUNT, LANDMARK_FORMAT_VERSION

CALIBRATION_FORMAT = "live.calibration"
CALIBRATION_VERSION = 1
MAX_CALIBRATION_BYTES = 1 << 20  # a calibration is about 20 KiB of JSON; /dev/zero must not be read to the end
MAX_FRAME_SIDE_PX = 16384


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
    """The saved neutral (478, 3) pixels and its frame's (height_px, width_px); UsageError (one line) if the file
    is not a regular file of at most MAX_CALIBRATION_BYTES, or its contents are malformed or no plausible face."""
    fix = "delete it or pass another --calibration file to calibrate afresh"
    text = _read_text(Path(path), fix)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise UsageError(f"calibration {path} is not valid JSON ({error}); {fix}") from error
    except RecursionError as error:
        raise UsageError(f"calibration {path} is JSON nested too deeply to be a calibration; {fix}") from error
    if not isinstance(data, dict) or data.get("format") != CALIBRATION_FORMAT:
        raise UsageError(f"{path} is not a live calibration file; {fix}")
    if data.get("version") != CALIBRATION_VERSION or data.get("landmark_format_version") != LANDMARK_FORMAT_VERSION:
        raise UsageError(f"calibration {path} was written by another version of live; {fix}")
    frame_size = (_frame_side(data, "frame_height_px", path, fix), _frame_side(data, "frame_width_px", path, fix))
    points = data.get("neutral_landmarks_px")
    if not (isinstance(points, list) and len(points) == LANDMARK_COUNT and all(map(_is_point, points))):
        raise UsageError(
            f"calibration {path}: neutral_landmarks_px must be {LANDMARK_COUNT} points of 3 numbers; {fix}"
        )
    neutral_px = np.asarray(points, dtype=np.float64)
    template = HEAD_TEMPLATE.points_unit
    problem = face_geometry_problem(neutral_px, frame_size[::-1], ALIGNMENT_INDICES.tolist(), template)
    if problem is not None:
        raise UsageError(f"calibration {path}: its neutral landmarks {problem}; {fix}")
    return neutral_px.astype(np.float32), frame_size


def _read_text(path: Path, fix: str) -> str:
    """The file's text, read only from a regular file and only up to MAX_CALIBRATION_BYTES (a device such as
    /dev/zero, a pipe or a huge file is refused, not read until memory runs out)."""
    try:
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))  # a pipe opens without a writer
    except OSError as error:
        raise UsageError(f"cannot read calibration {path}: {error.strerror}; {fix}") from error
    with os.fdopen(descriptor, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            raise UsageError(
                f"calibration {path} is not a regular file (a device, pipe or folder): give --calibration a JSON file"
            )
        try:
            data = handle.read(MAX_CALIBRATION_BYTES + 1)
        except OSError as error:
            raise UsageError(f"cannot read calibration {path}: {error.strerror}; {fix}") from error
    if len(data) > MAX_CALIBRATION_BYTES:
        raise UsageError(
            f"calibration {path} holds more than {MAX_CALIBRATION_BYTES >> 20} MiB, a calibration a few KiB: "
            "pass the JSON file `live run --calibration` wrote"
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise UsageError(f"calibration {path} is not valid JSON ({error}); {fix}") from error


def _frame_side(data: dict, key: str, path: str | Path, fix: str) -> int:
    """A frame side in pixels: a JSON whole number from 1 to MAX_FRAME_SIDE_PX."""
    value = data.get(key)
    if not (isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_FRAME_SIDE_PX):
        raise UsageError(
            f"calibration {path}: {key} must be a whole number of pixels from 1 to {MAX_FRAME_SIDE_PX}, "
            f"not {_shown(value)}; {fix}"
        )
    return value


def _shown(value: object) -> str:
    """A JSON value for an error message: a scalar as written, a list or object by its kind."""
    if isinstance(value, (list, dict)):
        return "a list" if isinstance(value, list) else "an object"
    return json.dumps(value)[:40]


def _is_point(value: object) -> bool:
    return isinstance(value, list) and len(value) == 3 and all(is_number(number) for number in value)


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
