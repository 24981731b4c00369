"""Head alignment: similarity fit, head template, roll correction, smoothing of the crop transform."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from live.engines.landmarks import LandmarkConfig, LandmarkDetector
from live.errors import UsageError
from live.face.alignment import (
    ALIGNMENT_INDICES,
    HEAD_TEMPLATE,
    HeadFollower,
    HeadTemplate,
    TransformSmoother,
    apply_transform,
    crop_transform,
    fit_similarity,
    invert_transform,
    transform_from_parameters,
    transform_jitter_px,
    transform_parameters,
)
from live.face.pose import pose_angles_deg

DATA = __import__("pathlib").Path(__file__).resolve().parents[1] / "data"
CROP_PX = 256


@pytest.fixture(scope="module")
def portrait() -> tuple[np.ndarray, np.ndarray]:
    image = cv2.imread(str(DATA / "grace_hopper.jpg"))
    with LandmarkDetector(LandmarkConfig(static_image_mode=True)) as detector:
        landmarks_px = detector.detect(image)
    assert landmarks_px is not None
    return image, landmarks_px


def test_fit_similarity_recovers_a_known_similarity() -> None:
    points = np.random.default_rng(0).uniform(0, 100, (20, 2))
    known = transform_from_parameters(np.array([40.0, 60.0, 120.0, 0.3]), CROP_PX)
    moved = points @ known[:, :2].T + known[:, 2]
    np.testing.assert_allclose(fit_similarity(points, moved), known, atol=1e-9)


def test_parameters_round_trip_and_inverse() -> None:
    parameters = np.array([320.5, 200.25, 303.0, -0.12])
    transform = transform_from_parameters(parameters, CROP_PX)
    np.testing.assert_allclose(transform_parameters(transform, CROP_PX), parameters, atol=1e-9)
    points = np.array([[10.0, 20.0, 3.0], [100.0, 5.0, -2.0]], dtype=np.float32)
    back = apply_transform(invert_transform(transform), apply_transform(transform, points))
    np.testing.assert_allclose(back, points, atol=1e-3)


def test_template_uses_only_stable_points() -> None:
    lids_lips_jaw = {159, 145, 386, 374, 13, 14, 61, 291, 0, 17, 152, 148, 377}
    assert not lids_lips_jaw & set(ALIGNMENT_INDICES.tolist())
    assert HEAD_TEMPLATE.points_unit.shape == (len(ALIGNMENT_INDICES), 2)


def test_crop_covers_the_whole_head_with_room_for_hair(portrait) -> None:
    _, landmarks_px = portrait
    crop_px = apply_transform(crop_transform(landmarks_px, CROP_PX), landmarks_px)
    forehead_y, chin_y = crop_px[10, 1] / CROP_PX, crop_px[152, 1] / CROP_PX
    assert 0.15 < forehead_y < 0.35, "room above the forehead for the hair"
    assert 0.7 < chin_y < 0.92, "the chin and a little neck inside"
    assert crop_px[:, 0].min() > 0.1 * CROP_PX and crop_px[:, 0].max() < 0.9 * CROP_PX


def test_crop_is_roll_corrected(portrait) -> None:
    image, _ = portrait
    height_px, width_px = image.shape[:2]
    rotation = cv2.getRotationMatrix2D((width_px / 2, height_px / 2), 20.0, 1.0)
    rotated = cv2.warpAffine(image, rotation, (width_px, height_px), borderMode=cv2.BORDER_REPLICATE)
    with LandmarkDetector(LandmarkConfig(static_image_mode=True)) as detector:
        straight, tilted = detector.detect(image), detector.detect(rotated)
    assert abs(pose_angles_deg(tilted)[2] - pose_angles_deg(straight)[2]) > 15
    rolls = [pose_angles_deg(apply_transform(crop_transform(lm, CROP_PX), lm))[2] for lm in (straight, tilted)]
    assert abs(rolls[0] - rolls[1]) < 2.0, rolls


def test_smoother_steadies_a_still_head_and_follows_a_moving_one() -> None:
    rng = np.random.default_rng(1)
    still = np.array([320.0, 200.0, 300.0, 0.0])
    noisy = [transform_from_parameters(still + rng.normal(0, [1.5, 1.5, 1.5, 0.005]), CROP_PX) for _ in range(90)]
    smoother = TransformSmoother(CROP_PX)
    smoothed = [smoother.smooth(transform, index / 30) for index, transform in enumerate(noisy)]
    assert transform_jitter_px(smoothed[10:], CROP_PX) < 0.4 * transform_jitter_px(noisy[10:], CROP_PX)
    moved = transform_from_parameters(still + [80.0, 0.0, 0.0, 0.0], CROP_PX)
    for index in range(90, 120):  # one second after the head moved by 80 px
        last = smoother.smooth(moved, index / 30)
    assert abs(transform_parameters(last, CROP_PX)[0] - 400.0) < 4.0


def test_follower_places_the_neutral_face_at_the_neutral_crop(portrait) -> None:
    _, landmarks_px = portrait
    neutral_transform = crop_transform(landmarks_px, CROP_PX)
    neutral_px = apply_transform(neutral_transform, landmarks_px)
    follower = HeadFollower(neutral_transform, CROP_PX)
    transform, crop_px = follower.follow(neutral_px, 0.0)
    np.testing.assert_allclose(transform, neutral_transform, atol=1e-6)
    np.testing.assert_allclose(crop_px[:, :2], neutral_px[:, :2], atol=1e-3)
    shifted = neutral_px + np.float32([30.0, 0.0, 0.0])  # the retargeted head moved right in the usual crop
    follower.reset()  # tracking lost and found again: the crop is fitted afresh
    transform, crop_px = follower.follow(shifted, 1.0)
    np.testing.assert_allclose(crop_px[:, :2], neutral_px[:, :2], atol=1e-2)  # the crop follows the head
    assert abs(transform[0, 2] - (neutral_transform[0, 2] - 30.0)) < 1e-3


def test_a_template_round_trips_through_its_card_form() -> None:
    template = HeadTemplate.from_dict(HEAD_TEMPLATE.to_dict())
    assert template.name == HEAD_TEMPLATE.name and template.side_over_face_height == HEAD_TEMPLATE.side_over_face_height
    np.testing.assert_allclose(template.points_unit, HEAD_TEMPLATE.points_unit, atol=1e-4)
    other = dict(HEAD_TEMPLATE.to_dict(), landmark_indices=list(range(len(ALIGNMENT_INDICES))))
    with pytest.raises(UsageError, match="aligned on other landmarks"):
        HeadTemplate.from_dict(other)


def test_the_follower_crops_with_the_model_s_own_template(portrait) -> None:
    """A model prepared with a wider template (its card says so) must be driven with that template's crop."""
    _, landmarks_px = portrait
    wider = HeadTemplate.from_dict(
        dict(HEAD_TEMPLATE.to_dict(), points_unit=(0.5 + (HEAD_TEMPLATE.points_unit - 0.5) * 0.5).tolist())
    )
    neutral_transform = crop_transform(landmarks_px, CROP_PX)
    neutral_px = apply_transform(neutral_transform, landmarks_px)
    usual, _ = HeadFollower(neutral_transform, CROP_PX).follow(neutral_px, 0.0)
    wide, _ = HeadFollower(neutral_transform, CROP_PX, template=wider).follow(neutral_px, 0.0)
    usual_side_px, wide_side_px = transform_parameters(usual, CROP_PX)[2], transform_parameters(wide, CROP_PX)[2]
    assert wide_side_px == pytest.approx(2.0 * usual_side_px, rel=1e-3)
