"""Expression measures of one face: eye opening, mouth opening, smile, yaw and pitch.

Pure numpy on (478, 3) MediaPipe landmarks (pixels; z in the same scale). Each
measure is a ratio of two distances of the same face, so it does not depend on
the face's size or its distance from the camera:

    eye opening:   lid gap / eye width (corner to corner), mean of both eyes;
    mouth opening: inner-lip gap / face height (forehead 10 to chin 152);
    smile:         mouth-corner distance (61 to 291) / face width (234 to 454);
    yaw, pitch:    head angles in degrees (live.face.pose).

Used by retargeting (each face's own neutral and range), the coverage report of
`live prepare` and the driver-vs-output measure (`live eval --driver`).
"""

from __future__ import annotations

import numpy as np

from live.face.pose import pose_angles_deg

MEASURE_NAMES: tuple[str, ...] = ("eye", "mouth", "smile", "yaw", "pitch")
# (upper lid, lower lid) pairs and the corners of each eye.
RIGHT_EYE_LIDS = ((159, 145), (158, 153), (160, 144))
LEFT_EYE_LIDS = ((386, 374), (385, 380), (387, 373))
RIGHT_EYE_CORNERS = (33, 133)
LEFT_EYE_CORNERS = (263, 362)
INNER_LIPS = (13, 14)
MOUTH_CORNERS = (61, 291)
FACE_TOP_BOTTOM = (10, 152)
FACE_SIDES = (234, 454)


def _distance(points: np.ndarray, pair: tuple[int, int]) -> np.ndarray:
    """Distance between two landmarks of (..., 478, 3) points."""
    return np.linalg.norm(points[..., pair[0], :] - points[..., pair[1], :], axis=-1)


# Row e of each: eye e's three lid pairs then its corner pair (right eye, left eye).
_EYE_PAIR_STARTS = np.array(
    [
        [pair[0] for pair in (*RIGHT_EYE_LIDS, RIGHT_EYE_CORNERS)],
        [pair[0] for pair in (*LEFT_EYE_LIDS, LEFT_EYE_CORNERS)],
    ]
)
_EYE_PAIR_ENDS = np.array(
    [
        [pair[1] for pair in (*RIGHT_EYE_LIDS, RIGHT_EYE_CORNERS)],
        [pair[1] for pair in (*LEFT_EYE_LIDS, LEFT_EYE_CORNERS)],
    ]
)


def eye_openings(landmarks_px: np.ndarray) -> np.ndarray:
    """(..., 2) lid gap / eye width of the right and the left eye."""
    points = np.asarray(landmarks_px, dtype=np.float64)
    lengths = np.linalg.norm(points[..., _EYE_PAIR_STARTS, :] - points[..., _EYE_PAIR_ENDS, :], axis=-1)
    return lengths[..., :3].mean(axis=-1) / np.maximum(lengths[..., 3], 1e-9)


def mouth_opening(landmarks_px: np.ndarray) -> np.ndarray:
    """Inner-lip gap / face height."""
    points = np.asarray(landmarks_px, dtype=np.float64)
    return _distance(points, INNER_LIPS) / np.maximum(_distance(points, FACE_TOP_BOTTOM), 1e-9)


def smile(landmarks_px: np.ndarray) -> np.ndarray:
    """Mouth-corner distance / face width."""
    points = np.asarray(landmarks_px, dtype=np.float64)
    return _distance(points, MOUTH_CORNERS) / np.maximum(_distance(points, FACE_SIDES), 1e-9)


def measures(landmarks_px: np.ndarray) -> dict[str, float]:
    """Every measure of MEASURE_NAMES for one face."""
    yaw_deg, pitch_deg, _ = pose_angles_deg(landmarks_px)
    return {
        "eye": float(eye_openings(landmarks_px).mean()),
        "mouth": float(mouth_opening(landmarks_px)),
        "smile": float(smile(landmarks_px)),
        "yaw": float(yaw_deg),
        "pitch": float(pitch_deg),
    }


def measure_series(landmarks: list[np.ndarray | None]) -> dict[str, np.ndarray]:
    """Each measure over a sequence of faces (None: no face, measured as NaN)."""
    rows = [measures(face) if face is not None else dict.fromkeys(MEASURE_NAMES, np.nan) for face in landmarks]
    return {name: np.array([row[name] for row in rows], dtype=np.float64) for name in MEASURE_NAMES}
