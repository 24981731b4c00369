"""Retargeting on real MediaPipe landmarks: identity, expression, pose, jitter and lag, calibration.

Target: a card whose neutral face and pose range come from jwp_intro cropped to a
square (as `live prepare` does). Drivers: jwp_office (the same man, another
recording; also widened and narrowed synthetically) and the two portraits.
Run with -s to see the measured figures.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from live.engines.landmarks import LandmarkConfig, LandmarkDetector
from live.errors import UsageError
from live.face.alignment import fit_similarity
from live.face.driver_placement import DriverPlacement
from live.face.pose import (
    STABLE_POINT_INDICES,
    estimate_pose,
    pose_angles_deg,
    pose_range_deg,
    rotation_from_angles_deg,
)
from live.face.retarget import RetargetConfig, Retargeter
from live.face.smoothing import OneEuroFilter, OneEuroParameters
from live.formats.card import ModelCard
from live.io.calibration_file import CalibrationFile, load_calibration

DATA = Path(__file__).resolve().parents[1] / "data"
FPS = 30.0
CALIBRATED_FROM = 31  # first frame index after the 1 s calibration at FPS
SIZE_PX = 256


def track_video(path: Path) -> tuple[np.ndarray, tuple[int, int, int]]:
    capture = cv2.VideoCapture(str(path))
    frames_px = []
    with LandmarkDetector(LandmarkConfig()) as detector:
        while True:
            ok, image_bgr = capture.read()
            if not ok:
                break
            landmarks_px = detector.detect(image_bgr)
            assert landmarks_px is not None, f"{path.name}: face lost at frame {len(frames_px)}"
            frames_px.append(landmarks_px)
            shape = image_bgr.shape
    capture.release()
    return np.stack(frames_px), shape


@pytest.fixture(scope="module")
def media() -> dict[str, tuple[np.ndarray, tuple[int, ...]]]:
    """Real landmarks: each clip's frames (N, 478, 3) and each portrait (478, 3), with frame shapes."""
    found = {name: track_video(DATA / f"{name}.mp4") for name in ("jwp_intro", "jwp_office")}
    with LandmarkDetector(LandmarkConfig(static_image_mode=True)) as detector:
        for name in ("astronaut.png", "grace_hopper.jpg"):
            image_bgr = cv2.imread(str(DATA / name))
            found[name] = (detector.detect(image_bgr), image_bgr.shape)
    return found


def crop_to_model(frames_px: np.ndarray) -> np.ndarray:
    """Landmarks of a clip in one fixed square crop scaled to SIZE_PX, as `live prepare` crops."""
    lows, highs = frames_px[:, :, :2].min(axis=1), frames_px[:, :, :2].max(axis=1)
    centre = np.median((lows + highs) / 2, axis=0)
    side_px = float(np.median((highs - lows).max(axis=1))) * 1.6
    offset = np.array([centre[0] - side_px / 2, centre[1] - side_px / 2 - 0.05 * side_px, 0.0], dtype=np.float32)
    return (frames_px - offset) * np.float32(SIZE_PX / side_px)


@pytest.fixture(scope="module")
def card(media: dict) -> ModelCard:
    """The target jwp_intro as `live prepare` would record it: one square crop, median face, pose range."""
    frames_px, shape = media["jwp_intro"]
    cropped = crop_to_model(frames_px)
    angles = np.array([pose_angles_deg(landmarks_px) for landmarks_px in cropped])
    return ModelCard(
        name="jwp",
        size_px=SIZE_PX,
        neutral_landmarks_px=np.median(cropped, axis=0),
        pose_range_deg=pose_range_deg(angles),
        plate_size_px=[shape[1], shape[0]],
        neutral_transform=fit_similarity(frames_px[0, :, :2], cropped[0, :, :2]).tolist(),  # that crop in the frame
    )


def drive(card: ModelCard, config: RetargetConfig, frames_px: np.ndarray, frame_shape: tuple[int, ...]) -> np.ndarray:
    with Retargeter(config, card) as retargeter:
        return np.stack(
            [
                retargeter.retarget(landmarks_px, frame_shape, index / FPS)
                for index, landmarks_px in enumerate(frames_px)
            ]
        )


def widened(frames_px: np.ndarray, factor: float) -> np.ndarray:
    """Each face stretched horizontally about its centre (a wider or narrower driver)."""
    centre = frames_px[:, STABLE_POINT_INDICES].mean(axis=1, keepdims=True)
    return ((frames_px - centre) * np.array([factor, 1.0, 1.0], dtype=np.float32) + centre).astype(np.float32)


def shape_measures(landmarks_px: np.ndarray) -> np.ndarray:
    """[..., 3]: eye distance (eye-corner midpoints), face width (234-454), nose length (168-2), 3D."""
    eyes = np.linalg.norm(landmarks_px[..., [33, 133], :].mean(-2) - landmarks_px[..., [362, 263], :].mean(-2), axis=-1)
    width = np.linalg.norm(landmarks_px[..., 234, :] - landmarks_px[..., 454, :], axis=-1)
    nose = np.linalg.norm(landmarks_px[..., 168, :] - landmarks_px[..., 2, :], axis=-1)
    return np.stack([eyes, width, nose], axis=-1)


def shape_ratios(faces_px: np.ndarray, reference_px: np.ndarray) -> np.ndarray:
    """(N, 3) each face's measures over the reference's, after removing the best-fit similarity's scale."""
    scales = np.array([estimate_pose(face, reference_px).scale for face in faces_px])
    return shape_measures(faces_px) / scales[:, None] / shape_measures(reference_px)


def mouth_opening(faces_px: np.ndarray) -> np.ndarray:
    """Inner-lip gap over face height."""
    return np.linalg.norm(faces_px[:, 13] - faces_px[:, 14], axis=1) / np.linalg.norm(
        faces_px[:, 10] - faces_px[:, 152], axis=1
    )


def eye_opening(faces_px: np.ndarray) -> np.ndarray:
    """Mean eyelid gap over face height."""
    gaps = np.linalg.norm(faces_px[:, 159] - faces_px[:, 145], axis=1) + np.linalg.norm(
        faces_px[:, 386] - faces_px[:, 374], axis=1
    )
    return gaps / 2 / np.linalg.norm(faces_px[:, 10] - faces_px[:, 152], axis=1)


def frame_motion_px(faces_px: np.ndarray) -> np.ndarray:
    """(N-1,) mean landmark displacement between consecutive frames."""
    return np.linalg.norm(np.diff(faces_px, axis=0)[..., :2], axis=2).mean(axis=1)


def test_off_is_the_raw_driver(card: ModelCard, media: dict) -> None:
    frames_px, shape = media["jwp_office"]
    with Retargeter(RetargetConfig(mode="off"), card) as retargeter:
        assert not retargeter.calibrating and "off" in retargeter.calibration_status
        for index in (0, 100):
            expected = DriverPlacement(card).to_crop(frames_px[index], shape)
            assert np.array_equal(retargeter.retarget(frames_px[index], shape, index / FPS), expected)


def test_identity_full_keeps_the_target_shape_off_follows_the_driver(card: ModelCard, media: dict) -> None:
    frames_px, shape = media["jwp_office"]
    neutral_px = card.neutral_landmarks_px
    full_by_factor = {}
    for factor in (1.0, 1.15, 0.87):
        driver_px = widened(frames_px, factor)
        full = shape_ratios(
            drive(card, RetargetConfig(mode="full", smoothing=False), driver_px, shape)[CALIBRATED_FROM:], neutral_px
        )
        off = shape_ratios(drive(card, RetargetConfig(mode="off"), driver_px, shape)[CALIBRATED_FROM:], neutral_px)
        driver = shape_ratios(driver_px[CALIBRATED_FROM:], neutral_px)
        full_by_factor[factor] = full
        print(
            f"\nwidth x{factor}: eye distance / face width / nose length over the target's neutral (median over the "
            "clip)"
            f"\n  full {np.median(full, axis=0).round(3)} (max per-frame deviation "
            f"{np.abs(full - 1).max(axis=0).round(3)})"
            f"\n  off  {np.median(off, axis=0).round(3)}   driver {np.median(driver, axis=0).round(3)}"
        )
        assert np.all(np.abs(np.median(full, axis=0) - 1) <= 0.03)
        assert np.allclose(off, driver, atol=0.002)  # off: the target takes the driver's shape
        if factor != 1.0:
            assert np.abs(np.median(off, axis=0) - 1).max() > 0.05
    for factor in (1.15, 0.87):
        # Frame by frame, full output does not depend on the driver's face shape at all.
        assert np.abs(full_by_factor[factor] - full_by_factor[1.0]).max() <= 0.01


def test_identity_frame_by_frame_with_the_shape_space(card: ModelCard, media: dict) -> None:
    """With the card's shape space (as `live export` writes it), each frame keeps the target's identity
    within 3%, or within the target's own frame-to-frame variation where that is larger (MediaPipe's
    measures of one still face vary with pose)."""
    import dataclasses

    from live.face.shape_space import ShapeSpace

    frames_px, shape = media["jwp_office"]
    target_in_crop = crop_to_model(media["jwp_intro"][0])
    neutral_px = card.neutral_landmarks_px
    space = ShapeSpace.fit(target_in_crop, 0.999)
    own_deviation = np.abs(shape_ratios(target_in_crop, neutral_px) - 1).max(axis=0)
    clamped_card = dataclasses.replace(card, shape_space=space.to_dict())
    bound = np.maximum(0.03, own_deviation + 0.005)
    for factor in (1.0, 1.15, 0.87):
        out = drive(clamped_card, RetargetConfig(mode="full", smoothing=False), widened(frames_px, factor), shape)[
            CALIBRATED_FROM:
        ]
        deviation = np.abs(shape_ratios(out, neutral_px) - 1)
        print(
            f"\nshape space, width x{factor}: max per-frame deviation {deviation.max(axis=0).round(3)}, target's own "
            f"{own_deviation.round(3)}"
        )
        assert np.all(np.median(deviation, axis=0) <= 0.03)
        assert np.all(deviation.max(axis=0) <= bound)


def test_calibration_follows_the_driver_from_the_first_frame(card: ModelCard, media: dict) -> None:
    """While the neutral is calibrated, the target follows the driver against the frames collected so far:
    the mouth of a man who starts to talk in his first second opens with his, and the switch to the final
    neutral moves no point further than a frame of his talking does."""
    frames_px, shape = media["jwp_office"]
    targets_px = drive(card, RetargetConfig(mode="full", smoothing=False), frames_px[: CALIBRATED_FROM + 5], shape)
    driver_mouth, target_mouth = mouth_opening(frames_px[: CALIBRATED_FROM - 1]), mouth_opening(targets_px)
    assert driver_mouth.max() - driver_mouth.min() > 0.03, "the driver talks while calibrating"
    assert np.corrcoef(driver_mouth, target_mouth[: CALIBRATED_FROM - 1])[0, 1] >= 0.9
    steps_px = np.abs(np.diff(targets_px, axis=0)).max(axis=(1, 2))
    switch = CALIBRATED_FROM - 2  # the step from the last provisional frame to the first calibrated one
    assert steps_px[switch] <= 1.5 * steps_px[:switch].max()


def test_a_blink_among_the_first_frames_closes_the_eyes(card: ModelCard, media: dict) -> None:
    """A provisional neutral takes each eye's opening from the frames where it is open: a blink on the
    second tracked frame closes the target's eyes instead of reading as half of the neutral."""
    frames_px, shape = media["jwp_intro"]
    openings = eye_opening(frames_px)
    closed, wide = int(openings.argmin()), int(openings.argmax())
    sequence = np.stack([frames_px[wide], frames_px[closed], frames_px[wide]])
    targets_px = drive(card, RetargetConfig(mode="full", smoothing=False), sequence, shape)
    target_openings = eye_opening(targets_px)
    assert target_openings[1] < 0.5 * target_openings[2]
    shut = drive(card, RetargetConfig(mode="full", smoothing=False), frames_px[[closed] * 3], shape)
    assert np.isfinite(shut).all(), "a driver whose eyes are closed from the start still gets a neutral"


@pytest.mark.parametrize("name", ["astronaut.png", "grace_hopper.jpg"])
def test_identity_with_another_face(card: ModelCard, media: dict, name: str) -> None:
    face_px, shape = media[name]
    rotations = [
        rotation_from_angles_deg(*angles) for angles in ([0, 0, 0], [10, 0, 0], [0, -8, 0], [0, 0, 6], [-6, 5, -4])
    ]
    still = [face_px] * 31
    moving = [(face_px - face_px.mean(axis=0)) @ rotation.T + face_px.mean(axis=0) for rotation in rotations]
    driver_px = np.stack(still + moving).astype(np.float32)
    full = shape_ratios(drive(card, RetargetConfig(mode="full"), driver_px, shape)[31:], card.neutral_landmarks_px)
    off = shape_ratios(drive(card, RetargetConfig(mode="off"), driver_px, shape)[31:], card.neutral_landmarks_px)
    print(f"\n{name}: full {full.mean(axis=0).round(3)}, off {off.mean(axis=0).round(3)}")
    assert np.all(np.abs(full - 1) <= 0.03)
    assert np.abs(off - 1).max() > 0.05


def test_expression_follows_the_driver(card: ModelCard, media: dict) -> None:
    frames_px, shape = media["jwp_office"]
    target_px = drive(card, RetargetConfig(mode="full"), frames_px, shape)[CALIBRATED_FROM:]
    driver_px = frames_px[CALIBRATED_FROM:]
    mouth = np.corrcoef(mouth_opening(driver_px), mouth_opening(target_px))[0, 1]
    eyes = np.corrcoef(eye_opening(driver_px), eye_opening(target_px))[0, 1]
    print(f"\ncorrelation driver vs retargeted (smoothed): mouth opening {mouth:.3f}, eye opening {eyes:.3f}")
    assert mouth >= 0.95 and eyes >= 0.95
    posed_px = drive(card, RetargetConfig(mode="pose"), frames_px, shape)[CALIBRATED_FROM:]
    assert np.ptp(mouth_opening(posed_px)) < 0.1 * np.ptp(mouth_opening(target_px))  # pose mode: no expression


@pytest.mark.parametrize("axis", [0, 1, 2])
def test_synthetic_rotation_turns_the_target_and_clamps(card: ModelCard, media: dict, axis: int) -> None:
    frames_px, shape = media["jwp_office"]
    face_px = frames_px[0]
    centre = face_px[STABLE_POINT_INDICES].mean(axis=0)
    neutral_px = card.neutral_landmarks_px
    neutral_deg = pose_angles_deg(neutral_px)
    limits = np.array([card.pose_range_deg[name] for name in ("yaw", "pitch", "roll")])
    for step_deg, margin_deg in ((10.0, 20.0), (-10.0, 20.0), (30.0, 0.0), (-30.0, 0.0)):
        angles = np.zeros(3)
        angles[axis] = step_deg
        rotation = rotation_from_angles_deg(*angles)
        rotated_px = ((face_px - centre) @ rotation.T + centre).astype(np.float32)
        driver_px = np.stack([face_px] * 31 + [rotated_px])
        config = RetargetConfig(mode="full", smoothing=False, pose_margin_deg=margin_deg)
        target_px = drive(card, config, driver_px, shape)[-1]
        got_deg = pose_angles_deg(target_px)
        if margin_deg:
            turned = estimate_pose(target_px, neutral_px).rotation
            error_deg = np.degrees(np.arccos(np.clip((np.trace(turned @ rotation.T) - 1) / 2, -1, 1)))
            print(
                f"\naxis {axis} step {step_deg:+.0f} deg: target turned by {got_deg - neutral_deg} deg, rotation "
                f"error {error_deg:.3f} deg"
            )
            assert error_deg < 0.5
            assert got_deg[axis] - neutral_deg[axis] == pytest.approx(step_deg, abs=1.0)
        else:
            bound = limits[axis, 1] if step_deg > 0 else limits[axis, 0]
            print(
                f"\naxis {axis} step {step_deg:+.0f} deg: clamped to {got_deg.round(2)} (range "
                f"{limits.round(2).tolist()})"
            )
            assert got_deg[axis] == pytest.approx(bound, abs=0.05)
            assert np.all(got_deg >= limits[:, 0] - 0.05) and np.all(got_deg <= limits[:, 1] + 0.05)


def gaussian_trend(values: np.ndarray, sigma_frames: float = 3.0) -> np.ndarray:
    """Non-causal smoothing along axis 0 (evaluation only: what the face really did)."""
    offsets = np.arange(-3 * int(sigma_frames), 3 * int(sigma_frames) + 1)
    kernel = np.exp(-0.5 * (offsets / sigma_frames) ** 2)
    kernel /= kernel.sum()
    padded = np.concatenate([values[:1].repeat(len(offsets) // 2, 0), values, values[-1:].repeat(len(offsets) // 2, 0)])
    return np.tensordot(
        np.lib.stride_tricks.sliding_window_view(padded, len(offsets), axis=0), kernel, axes=([-1], [0])
    )


def best_lag_frames(reference: np.ndarray, delayed: np.ndarray, centre: int, half: int = 6) -> int:
    """The shift (0..4 frames) that best lines `delayed` up with `reference` around frame `centre`."""
    window = slice(centre - half, centre + half)
    errors = [
        ((delayed[window] - reference[centre - half - shift : centre + half - shift]) ** 2).sum() for shift in range(5)
    ]
    return int(np.argmin(errors))


def test_smoothing_cuts_jitter_without_lagging_the_mouth(card: ModelCard, media: dict) -> None:
    frames_px, shape = media["jwp_office"]
    raw_px = drive(card, RetargetConfig(mode="full", smoothing=False), frames_px, shape)
    smooth_px = drive(card, RetargetConfig(mode="full"), frames_px, shape)
    raw_motion, smooth_motion = frame_motion_px(raw_px), frame_motion_px(smooth_px)
    window = 15
    true_motion = frame_motion_px(gaussian_trend(raw_px))[CALIBRATED_FROM:-5]
    start = CALIBRATED_FROM + int(np.convolve(true_motion, np.ones(window), "valid").argmin())
    still = slice(start, start + window - 1)
    ratio = raw_motion[still].mean() / smooth_motion[still].mean()
    raw_mouth = mouth_opening(raw_px)
    fast = CALIBRATED_FROM + int(np.abs(np.diff(raw_mouth))[CALIBRATED_FROM:-8].argmax())
    lag = best_lag_frames(raw_mouth, mouth_opening(smooth_px), fast)
    print(
        f"\nnear-still frames {start}-{start + window - 1}: motion {raw_motion[still].mean():.3f} -> "
        f"{smooth_motion[still].mean():.3f} px/frame"
        f" ({ratio:.2f}x less); fastest mouth change at frame {fast}: lag {lag} frame(s)"
    )
    assert ratio >= 3.0
    assert lag <= 1


def test_calibration_status_file_and_recalibration(card: ModelCard, media: dict, tmp_path: Path) -> None:
    frames_px, shape = media["jwp_office"]
    path = tmp_path / "me.json"
    config = RetargetConfig(mode="full", smoothing=False, calibration_path=str(path))
    calibration = CalibrationFile(config.calibration_path)
    with Retargeter(config, card) as first:
        assert first.calibrating and first.calibration_status.startswith(
            "calibrating: look at the camera with a relaxed face"
        )
        before = first.retarget(frames_px[0], shape, 0.0)
        nose = [1, 4, 5, 195, 197]  # the first frame is its own provisional neutral: the target's neutral pose
        assert np.allclose(before[nose], card.neutral_landmarks_px[nose], atol=0.01)
        for index in range(1, CALIBRATED_FROM):
            first.retarget(frames_px[index], shape, index / FPS)
        assert not path.exists(), "the tracking thread writes no file"
        calibration.write_new(first)  # the main thread does
        assert not first.calibrating and path.exists()
        expected = first.retarget(frames_px[100], shape, 100 / FPS)
        first.recalibrate()
        first.retarget(frames_px[101], shape, 101 / FPS)
        assert first.calibrating
        first.no_face()
        assert "0.0/1.0 s" in first.calibration_status
    with Retargeter(config, card) as second:  # loads the saved file: no wait
        calibration.load_into(second)
        assert not second.calibrating and str(path) in second.calibration_status
        assert np.allclose(second.retarget(frames_px[100], shape, 0.0), expected, atol=0.01)
    doubled = (shape[0] * 2, shape[1] * 2, 3)
    with Retargeter(config, card) as third:  # a camera of twice the resolution
        calibration.load_into(third)
        assert np.allclose(third.retarget(frames_px[100] * 2, doubled, 0.0), expected, atol=0.02)


@pytest.mark.parametrize(
    "text",
    [
        "{not json",
        json.dumps({"format": "other"}),
        json.dumps({"format": "live.calibration", "version": 1, "landmark_format_version": 1}),
    ],
)
def test_bad_calibration_file_is_a_usage_error(card: ModelCard, tmp_path: Path, text: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(UsageError) as error:
        CalibrationFile(path).load_into(Retargeter(RetargetConfig(mode="full"), card))
    assert "\n" not in str(error.value) and str(path) in str(error.value)
    with pytest.raises(UsageError):
        load_calibration(tmp_path / "missing.json")
    with pytest.raises(UsageError):
        RetargetConfig(mode="sideways")


def test_one_euro_filter() -> None:
    parameters = OneEuroParameters(min_cutoff_hz=1.0, beta=0.0, derivative_cutoff_hz=1.0)
    still = OneEuroFilter(parameters)
    values = [still.filter(np.array([2.0, -1.0]), index / FPS) for index in range(10)]
    assert np.array_equal(values[-1], [2.0, -1.0])
    rng = np.random.default_rng(0)
    noisy = rng.normal(size=(300, 4, 3))
    rows = OneEuroFilter(parameters)
    smoothed = np.stack([rows.filter(sample, index / FPS) for index, sample in enumerate(noisy)])
    assert np.diff(smoothed, axis=0).std() < 0.3 * np.diff(noisy, axis=0).std()
    step = [np.zeros(1)] * 5 + [np.ones(1)] * 5
    outputs = {}
    for beta in (0.0, 50.0):
        step_filter = OneEuroFilter(OneEuroParameters(min_cutoff_hz=1.0, beta=beta))
        outputs[beta] = [step_filter.filter(value, index / FPS)[0] for index, value in enumerate(step)]
    assert outputs[50.0][-1] > outputs[0.0][-1] > 0.3  # speed raises the cutoff


def test_dashboard_says_when_the_driver_leaves_the_training_range(card: ModelCard, media: dict) -> None:
    frames_px, shape = media["jwp_office"]
    face_px = frames_px[0]
    centre = face_px[STABLE_POINT_INDICES].mean(axis=0)
    turned_px = ((face_px - centre) @ rotation_from_angles_deg(30.0, 0.0, 0.0).T + centre).astype(np.float32)
    with Retargeter(RetargetConfig(mode="full", smoothing=False), card) as retargeter:
        for index in range(40):
            retargeter.retarget(face_px, shape, index / FPS)
        assert retargeter.frames_outside_training == 0 and "outside" not in retargeter.calibration_status
        for index in range(40, 50):
            retargeter.retarget(turned_px, shape, index / FPS)
        assert retargeter.frames_outside_training == 10
        assert "outside the avatar's training range" in retargeter.calibration_status
