"""Head pose on real MediaPipe landmarks of the shipped portraits."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from live.engines.landmarks import LandmarkConfig, LandmarkDetector
from live.face.pose import (
    MIRRORED_STABLE_PAIRS,
    STABLE_POINT_INDICES,
    RigidPose,
    angles_from_rotation_deg,
    estimate_pose,
    face_rotation,
    pose_angles_deg,
    pose_range_deg,
    rotation_from_angles_deg,
)

STILLS = Path(__file__).resolve().parents[1] / "data"


@pytest.fixture(scope="module")
def portraits_px() -> dict[str, np.ndarray]:
    """Real landmarks of the two shipped portraits."""
    faces = {}
    with LandmarkDetector(LandmarkConfig(static_image_mode=True)) as detector:
        for name in ("grace_hopper.jpg", "astronaut.png"):
            landmarks_px = detector.detect(cv2.imread(str(STILLS / name)))
            assert landmarks_px is not None, name
            faces[name] = landmarks_px
    return faces


def rotate_about_centre(landmarks_px: np.ndarray, rotation: np.ndarray) -> np.ndarray:
    centre = landmarks_px[STABLE_POINT_INDICES].mean(axis=0)
    return ((landmarks_px - centre) @ rotation.T + centre).astype(np.float32)


def test_stable_points_cover_the_face_and_pairs_are_mirrored(portraits_px: dict[str, np.ndarray]) -> None:
    face = portraits_px["grace_hopper.jpg"]
    width_px = face[:, 0].max() - face[:, 0].min()
    midline_x = face[[168, 6, 4]][:, 0].mean()
    for right, left in MIRRORED_STABLE_PAIRS:
        assert face[right, 0] < midline_x < face[left, 0], (right, left)
        assert abs((face[right, 0] + face[left, 0]) / 2 - midline_x) < 0.06 * width_px, (right, left)
    assert len(STABLE_POINT_INDICES) >= 20


def test_estimate_pose_recovers_a_known_similarity(portraits_px: dict[str, np.ndarray]) -> None:
    reference = portraits_px["grace_hopper.jpg"]
    truth = RigidPose(rotation_from_angles_deg(25.0, -10.0, 15.0), np.array([40.0, -12.0, 3.0]), 1.7)
    moved = truth.apply(reference.astype(np.float64))
    pose = estimate_pose(moved, reference)
    assert np.allclose(pose.rotation, truth.rotation, atol=1e-6)
    assert pose.scale == pytest.approx(1.7, rel=1e-6)
    assert np.allclose(pose.translation_px, truth.translation_px, atol=1e-3)
    assert np.allclose(pose.inverse().apply(moved), reference, atol=1e-3)


def test_angle_round_trip() -> None:
    for angles in ([0, 0, 0], [30, -20, 10], [-45, 35, -25], [5, 60, 80]):
        assert np.allclose(angles_from_rotation_deg(rotation_from_angles_deg(*angles)), angles, atol=1e-9)


def test_frontal_portrait_is_near_zero(portraits_px: dict[str, np.ndarray]) -> None:
    angles = pose_angles_deg(portraits_px["grace_hopper.jpg"])
    print(
        "grace_hopper yaw/pitch/roll deg",
        angles.round(1),
        "astronaut",
        pose_angles_deg(portraits_px["astronaut.png"]).round(1),
    )
    assert np.all(np.abs(angles) < 8.0)


@pytest.mark.parametrize("name", ["grace_hopper.jpg", "astronaut.png"])
def test_synthetic_rotations_read_back_with_the_documented_signs(
    portraits_px: dict[str, np.ndarray], name: str
) -> None:
    face = portraits_px[name]
    base = pose_angles_deg(face)
    nose, centre = face[1], face[STABLE_POINT_INDICES].mean(axis=0)
    for axis, step in ((0, 25.0), (1, 20.0), (2, 20.0), (0, -25.0), (1, -20.0)):
        target = base.copy()
        target[axis] += step
        # Rotate the face so that its rotation becomes exactly the target angles.
        rotation = rotation_from_angles_deg(*target) @ face_rotation(face).T
        moved = rotate_about_centre(face, rotation)
        assert np.allclose(pose_angles_deg(moved), target, atol=0.05)
        shift = (moved[1] - centre) - (nose - centre)
        if axis == 0:  # yaw > 0: the nose moves toward +x
            assert np.sign(shift[0]) == np.sign(step)
        elif axis == 1:  # pitch > 0: the nose moves up (-y)
            assert np.sign(-shift[1]) == np.sign(step)
    rolled = rotate_about_centre(face, rotation_from_angles_deg(0.0, 0.0, 20.0))
    assert rolled[263, 1] - rolled[33, 1] > face[263, 1] - face[33, 1]  # roll > 0: image-right eye goes down
    assert pose_angles_deg(rolled)[2] == pytest.approx(base[2] + 20.0, abs=1.0)


def test_pose_range() -> None:
    ranges = pose_range_deg(np.array([[1.0, -2.0, 3.0], [-4.0, 5.0, 0.5]]))
    assert ranges == {"yaw": [-4.0, 1.0], "pitch": [-2.0, 5.0], "roll": [0.5, 3.0]}
