"""Rigid head pose of face-mesh landmarks: Umeyama similarity and yaw/pitch/roll angles.

Pure numpy (imported by `live run` and `live prepare`).

Coordinate frame: landmarks are MediaPipe pixels (see live/types.py): x to the
image's right, y DOWN, z AWAY from the camera (MediaPipe: smaller z = closer).
That frame is right-handed (x cross y = z), like OpenCV's camera frame.

Canonical frontal face: mediapipe 0.10.14's wheel does not ship the canonical
face model (`modules/face_geometry/data/` holds only `__init__.py`), so the
frontal orientation is defined by the face's own geometry instead:
    x_face: mean of the vectors between mirrored stable points (subject's right
        to subject's left, i.e. image left to image right for a frontal face);
    y_face: from the nose bridge (168, 6) to the nose base (2, 164), made
        orthogonal to x_face (points down the face);
    z_face = x_face cross y_face (into the head, away from the camera).
The face's rotation is the matrix with columns [x_face, y_face, z_face]; it is
the identity for a face looking straight into the camera with its eyes level.
Being built from the points alone, it rotates exactly with them.

Angles (degrees), with R = Ry(-yaw) @ Rx(-pitch) @ Rz(roll) in the frame above:
    yaw   > 0: the nose turns toward the image's right (+x);
    pitch > 0: the face looks up (nose toward -y, the top of the image);
    roll  > 0: the eye line turns clockwise on screen (the eye at the image's
               right goes down).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from live.formats.card_checks import ANGLE_NAMES  # the keys of a card's pose_range_deg

# Mirrored stable points: (subject's right side, subject's left side). Eye corners,
# cheekbones, temples, upper forehead: they move little with expression.
MIRRORED_STABLE_PAIRS: tuple[tuple[int, int], ...] = (
    (33, 263),
    (133, 362),
    (234, 454),
    (127, 356),
    (116, 345),
    (123, 352),
    (50, 280),
    (67, 297),
    (108, 337),
    (21, 251),
    (54, 284),
    (162, 389),
)
# Midline stable points: forehead and nose bridge down to the nose tip.
MIDLINE_STABLE_INDICES: tuple[int, ...] = (10, 151, 9, 8, 168, 6, 197, 195, 5, 4)

STABLE_POINT_INDICES: np.ndarray = np.array(
    sorted({index for pair in MIRRORED_STABLE_PAIRS for index in pair} | set(MIDLINE_STABLE_INDICES)), dtype=np.intp
)

_RIGHT_SIDE = np.array([right for right, _ in MIRRORED_STABLE_PAIRS], dtype=np.intp)
_LEFT_SIDE = np.array([left for _, left in MIRRORED_STABLE_PAIRS], dtype=np.intp)
_NOSE_BRIDGE = np.array([168, 6], dtype=np.intp)
_NOSE_BASE = np.array([2, 164], dtype=np.intp)


@dataclass(frozen=True, slots=True)
class RigidPose:
    """A similarity transform: points -> scale * rotation @ points + translation_px."""

    rotation: np.ndarray
    translation_px: np.ndarray
    scale: float

    def apply(self, points_px: np.ndarray) -> np.ndarray:
        """Transform (N, 3) points."""
        return (self.scale * points_px @ self.rotation.T + self.translation_px).astype(points_px.dtype, copy=False)

    def inverse(self) -> "RigidPose":
        """The transform that undoes this one."""
        rotation_t = self.rotation.T
        return RigidPose(rotation_t, -(rotation_t @ self.translation_px) / self.scale, 1.0 / self.scale)


def estimate_pose(
    landmarks_px: np.ndarray, reference_px: np.ndarray, indices: np.ndarray = STABLE_POINT_INDICES
) -> RigidPose:
    """Least-squares similarity (Umeyama 1991) mapping reference_px onto landmarks_px at `indices`.

    landmarks_px ~= pose.apply(reference_px) on the stable points; rotation is a proper rotation.
    """
    source = reference_px[indices].astype(np.float64)
    target = landmarks_px[indices].astype(np.float64)
    source_mean = source.mean(axis=0)
    target_mean = target.mean(axis=0)
    source_centred = source - source_mean
    target_centred = target - target_mean
    covariance = target_centred.T @ source_centred / len(indices)
    u, singular_values, vt = np.linalg.svd(covariance)
    sign = np.ones(3)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[2] = -1.0
    rotation = (u * sign) @ vt
    source_variance = float((source_centred**2).sum() / len(indices))
    scale = float((singular_values * sign).sum() / source_variance)
    translation_px = target_mean - scale * rotation @ source_mean
    return RigidPose(rotation, translation_px, scale)


def face_rotation(landmarks_px: np.ndarray) -> np.ndarray:
    """The face's 3x3 rotation relative to the canonical frontal face (columns: face axes)."""
    points = landmarks_px.astype(np.float64)
    x_axis = (points[_LEFT_SIDE] - points[_RIGHT_SIDE]).mean(axis=0)
    x_axis /= np.linalg.norm(x_axis)
    down = points[_NOSE_BASE].mean(axis=0) - points[_NOSE_BRIDGE].mean(axis=0)
    y_axis = down - x_axis * float(down @ x_axis)
    y_axis /= np.linalg.norm(y_axis)
    return np.stack([x_axis, y_axis, np.cross(x_axis, y_axis)], axis=1)


def angles_from_rotation_deg(rotation: np.ndarray) -> np.ndarray:
    """[yaw, pitch, roll] degrees of a rotation (conventions in the module docstring)."""
    pitch = np.degrees(np.arcsin(np.clip(rotation[1, 2], -1.0, 1.0)))
    yaw = -np.degrees(np.arctan2(rotation[0, 2], rotation[2, 2]))
    roll = np.degrees(np.arctan2(rotation[1, 0], rotation[1, 1]))
    return np.array([yaw, pitch, roll])


def rotation_from_angles_deg(yaw_deg: float, pitch_deg: float, roll_deg: float) -> np.ndarray:
    """The rotation Ry(-yaw) @ Rx(-pitch) @ Rz(roll); inverse of angles_from_rotation_deg."""
    a, b, c = np.radians([-yaw_deg, -pitch_deg, roll_deg])
    about_y = np.array([[np.cos(a), 0.0, np.sin(a)], [0.0, 1.0, 0.0], [-np.sin(a), 0.0, np.cos(a)]])
    about_x = np.array([[1.0, 0.0, 0.0], [0.0, np.cos(b), -np.sin(b)], [0.0, np.sin(b), np.cos(b)]])
    about_z = np.array([[np.cos(c), -np.sin(c), 0.0], [np.sin(c), np.cos(c), 0.0], [0.0, 0.0, 1.0]])
    return about_y @ about_x @ about_z


def pose_angles_deg(landmarks_px: np.ndarray) -> np.ndarray:
    """[yaw, pitch, roll] in degrees of a face relative to the canonical frontal face."""
    return angles_from_rotation_deg(face_rotation(landmarks_px))


def pose_range_deg(
    angles_deg: np.ndarray, low_percentile: float = 0.0, high_percentile: float = 100.0, decimals: int | None = None
) -> dict[str, list[float]]:
    """{"yaw": [lo, hi], "pitch": [...], "roll": [...]} of (N, 3) angles, as recorded in a model card:
    the given percentiles (default: min and max), rounded to `decimals` when given."""
    angles_deg = np.asarray(angles_deg, dtype=np.float64).reshape(-1, 3)
    low = np.percentile(angles_deg, low_percentile, axis=0)
    high = np.percentile(angles_deg, high_percentile, axis=0)
    if decimals is not None:
        low, high = np.round(low, decimals), np.round(high, decimals)
    return {name: [float(low[axis]), float(high[axis])] for axis, name in enumerate(ANGLE_NAMES)}
