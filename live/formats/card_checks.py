"""Whole-card validation, run when a model opens (ModelCard.from_json).

Every field the run uses is checked against its contract, so a damaged or hand-edited card fails
at once with one line naming the field, instead of a stage failing a second into the run or a
feature (the shape clamp) silently turning itself off. Data-driven: FIELD_CHECKS maps each card
field to whether it is required and a check returning the problem in words (None when fine); a
new card field adds one entry.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import numpy as np

from live.errors import UsageError
from live.formats.face_checks import face_geometry_problem, is_number, transform_problem
from live.formats.landmarks import LANDMARK_COUNT

SHAPE_SPACE_VERSION = 1  # the layout of a card's shape_space (written by live.face.shape_space)
ANGLE_NAMES: tuple[str, str, str] = ("yaw", "pitch", "roll")  # pose_range_deg's keys (live.face.pose)

Check = Callable[[Any], "str | None"]


def _finite_array(value: Any, shape: tuple[int | None, ...]) -> np.ndarray | str:
    """`value` as a float array of `shape` (None: any length), or what is wrong with it."""
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        return "is not an array of numbers"
    if array.ndim != len(shape) or any(want is not None and have != want for have, want in zip(array.shape, shape)):
        wanted = "x".join("K" if want is None else str(want) for want in shape)
        return f"has shape {'x'.join(map(str, array.shape)) or 'scalar'}, expected {wanted}"
    if not np.isfinite(array).all():
        return "holds NaN or infinite numbers"
    return array


def check_text(value: Any) -> str | None:
    return None if isinstance(value, str) and value else "must be a non-empty text"


def check_positive_integer(value: Any) -> str | None:
    return (
        None if isinstance(value, int) and not isinstance(value, bool) and value > 0 else "must be a whole number > 0"
    )


def check_mapping(value: Any) -> str | None:
    return None if isinstance(value, dict) else "must be a JSON object"


def check_list_of_mappings(value: Any) -> str | None:
    ok = isinstance(value, list) and all(isinstance(item, dict) for item in value)
    return None if ok else "must be a list of JSON objects"


def check_sha256(value: Any) -> str | None:
    return None if isinstance(value, str) and re.fullmatch(r"[0-9a-f]{64}", value) else "must be a sha256 in hex"


def _array_check(shape: tuple[int | None, ...]) -> Check:
    """A check that `value` is a finite array of `shape`."""

    def check(value: Any) -> str | None:
        array = _finite_array(value, shape)
        return array if isinstance(array, str) else None

    return check


check_landmarks = _array_check((LANDMARK_COUNT, 3))
check_transform = _array_check((2, 3))


def check_pose_range(value: Any) -> str | None:
    if not isinstance(value, dict) or set(ANGLE_NAMES) - set(value):
        return f"must map {', '.join(ANGLE_NAMES)} to [low, high] degrees"
    for name in ANGLE_NAMES:
        limits = _finite_array(value[name], (2,))
        if isinstance(limits, str) or limits[0] > limits[1]:
            return f"{name} must be [low, high] degrees with low <= high"
    return None


def check_plate_size(value: Any) -> str | None:
    ok = isinstance(value, list) and len(value) == 2 and all(check_positive_integer(side) is None for side in value)
    return None if ok else "must be [width, height] in pixels"


def check_shape_space(value: Any) -> str | None:
    """{} (none), or the PCA of live.face.shape_space: mean (478, 2), K components of 956, K lows <= highs."""
    if value == {}:
        return None
    if not isinstance(value, dict):
        return "must be a JSON object"
    if value.get("version") != SHAPE_SPACE_VERSION:
        return f"has version {value.get('version')!r}, this live reads version {SHAPE_SPACE_VERSION}"
    parts = {
        "mean_px": _finite_array(value.get("mean_px"), (LANDMARK_COUNT, 2)),
        "components": _finite_array(value.get("components"), (None, LANDMARK_COUNT * 2)),
        "low": _finite_array(value.get("low"), (None,)),
        "high": _finite_array(value.get("high"), (None,)),
    }
    for name, part in parts.items():
        if isinstance(part, str):
            return f"{name} {part}"
    count = len(parts["components"])
    if count == 0 or len(parts["low"]) != count or len(parts["high"]) != count:
        return f"needs as many low and high values as components ({count})"
    if (parts["low"] > parts["high"]).any():
        return "has a low value above its high value"
    return None


def check_template(value: Any) -> str | None:
    """The head template the crop is aligned to (live.face.alignment.HeadTemplate.to_dict()): a point per index."""
    if not isinstance(value, dict):
        return "must be a JSON object"
    indices = value.get("landmark_indices")
    if not isinstance(indices, list) or not indices or not all(_is_landmark_index(index) for index in indices):
        return f"needs landmark_indices, whole numbers from 0 to {LANDMARK_COUNT - 1}"
    if not all(is_number(value.get(name)) for name in ("side_over_face_height", "centre_above_face_middle")):
        return "needs numbers side_over_face_height and centre_above_face_middle"
    points = _finite_array(value.get("points_unit"), (len(indices), 2))
    return f"points_unit {points}" if isinstance(points, str) else None


def _is_landmark_index(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < LANDMARK_COUNT


def check_expression_range(value: Any) -> str | None:
    """{} (older cards), or live.face.coverage's report with eye {low, high} and mouth {high}."""
    if value == {}:
        return None
    try:
        eye_low, eye_high, mouth_high = value["eye"]["low"], value["eye"]["high"], value["mouth"]["high"]
    except (KeyError, TypeError):
        return "needs eye {low, high} and mouth {high}"
    if not all(is_number(number) for number in (eye_low, eye_high, mouth_high)) or eye_low > eye_high:
        return "needs finite numbers, eye low <= eye high"
    return None


def check_eye_response(value: Any) -> str | None:
    """{} (no correction), or asked and drawn openings (equally long lists of positive numbers, asked increasing)
    and, if given, a positive strength."""
    if value == {}:
        return None
    problem = _check_curve(value, "asked")
    if problem is None and "strength" in value and not (is_number(value["strength"]) and value["strength"] > 0):
        return "needs a positive number as its strength"
    return problem


def check_mouth_response(value: Any) -> str | None:
    """{} (no correction), or asked and drawn openings (equally long lists of positive numbers, both increasing:
    the retargeter inverts the curve)."""
    if value == {}:
        return None
    return _check_curve(value, "asked") or _check_curve(value, "drawn")


def check_corner_response(value: Any) -> str | None:
    """{} (no correction), or asked and drawn lifts (equally long lists of numbers, asked increasing)."""
    if value == {}:
        return None
    return _check_curve(value, "asked", "lifts", positive=False)


def _check_curve(value: Any, increasing: str, what: str = "openings", positive: bool = True) -> str | None:
    try:
        asked, drawn = list(value["asked"]), list(value["drawn"])
    except (KeyError, TypeError):
        return "needs asked and drawn lists"
    numbers_ok = all(is_number(number) and (number > 0 or not positive) for number in asked + drawn)
    if len(asked) < 2 or len(asked) != len(drawn) or not numbers_ok:
        kind = "positive numbers" if positive else "numbers"
        return f"needs two or more asked and as many drawn {what}, all {kind}"
    ordered = value[increasing]
    if any(later <= earlier for earlier, later in zip(ordered, ordered[1:])):
        return f"needs {increasing} {what} in increasing order"
    return None


def check_provenance(value: Any) -> str | None:
    """Where the model came from; its dataset_manifest_sha256 and sources (each with its video's sha256), if given,
    name the training dataset (`live eval` compares them with the dataset it scores)."""
    if not isinstance(value, dict):
        return "must be a JSON object"
    if "dataset_manifest_sha256" in value and check_sha256(value["dataset_manifest_sha256"]) is not None:
        return "dataset_manifest_sha256 must be a sha256 in hex"
    sources = value.get("sources", [])
    if not isinstance(sources, list) or not all(isinstance(item, dict) for item in sources):
        return "sources must be a list of JSON objects"
    if any(check_sha256(item.get("sha256")) is not None for item in sources):
        return "sources need each video's sha256 in hex"
    return None


def check_version(value: Any) -> str | None:
    return None if isinstance(value, int) and not isinstance(value, bool) else "must be a whole number"


FIELD_CHECKS: dict[str, tuple[bool, Check]] = {
    "name": (True, check_text),
    "size_px": (True, check_positive_integer),
    "neutral_landmarks_px": (True, check_landmarks),
    "pose_range_deg": (True, check_pose_range),
    "sketch_format_version": (True, check_version),
    "landmark_format_version": (True, check_version),
    "io_format": (True, check_text),
    "plate_size_px": (True, check_plate_size),
    "neutral_transform": (True, check_transform),
    "plate_sha256": (True, check_sha256),
    "shape_space": (False, check_shape_space),
    "expression_range": (False, check_expression_range),
    "eye_response": (False, check_eye_response),
    "mouth_response": (False, check_mouth_response),
    "corner_response": (False, check_corner_response),
    "crop": (False, check_list_of_mappings),
    "template": (False, check_template),
    "coverage": (False, check_mapping),
    "architecture": (False, check_mapping),
    "training": (False, check_mapping),
    "provenance": (False, check_provenance),
    "metrics": (False, check_mapping),
}


def check_card_data(data: dict[str, Any], origin: str) -> None:
    """Raise UsageError (one line: the model, the field, what is wrong) at the first field off its contract."""
    for name, (required, check) in FIELD_CHECKS.items():
        if name not in data:
            if required:
                raise UsageError(f"{origin}: model card lacks {name}; re-export it with `live export`")
            continue
        problem = check(data[name])
        if problem is not None:
            raise UsageError(f"{origin}: model card field {name} {problem}; re-export it with `live export`")
    for name, problem in geometry_problems(data):
        if problem is not None:
            raise UsageError(f"{origin}: model card field {name} {problem}; re-export it with `live export`")


def geometry_problems(data: dict[str, Any]) -> list[tuple[str, str | None]]:
    """(field, problem or None) of the neutral face (in the size_px crop, against the card's head template when it
    has one) and the neutral transform (plate -> crop), on a card whose fields passed their own checks."""
    size_px, plate_wh = data["size_px"], tuple(data["plate_size_px"])
    problems = [("neutral_transform", transform_problem(np.asarray(data["neutral_transform"]), plate_wh, size_px))]
    template = data.get("template")
    if template is not None:
        landmarks = np.asarray(data["neutral_landmarks_px"], dtype=np.float64)
        area = (size_px, size_px)
        problem = face_geometry_problem(landmarks, area, template["landmark_indices"], template["points_unit"])
        problems.insert(0, ("neutral_landmarks_px", problem))
    return problems
