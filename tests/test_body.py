"""The body follows (live.face.body): on real frames of the shipped clip, with MediaPipe's real selfie
segmentation, a known shift of the body is measured back, the plate's person moves and its background does
not, and the follower scales, clamps and restarts as documented."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from live.engines.landmarks import LandmarkConfig, LandmarkDetector
from live.engines.segmentation import PersonSegmenter
from live.face.body import MAX_SHIFT_FRACTION, BodyFollower, BodyPlate, BodyRegistration, body_band

DATA = Path(__file__).resolve().parents[1] / "data"


@pytest.fixture(scope="module")
def frame_and_face() -> tuple[np.ndarray, np.ndarray]:
    capture = cv2.VideoCapture(str(DATA / "jwp_intro.mp4"))
    image_bgr = capture.read()[1]
    capture.release()
    with LandmarkDetector(LandmarkConfig(static_image_mode=True)) as detector:
        face = detector.detect(image_bgr)
    assert face is not None
    return image_bgr, face


@pytest.fixture(scope="module")
def person(frame_and_face: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    with PersonSegmenter() as segmenter:
        return segmenter.person_mask(frame_and_face[0])


def moved(image_bgr: np.ndarray, dx: float, dy: float) -> np.ndarray:
    matrix = np.float32([[1, 0, dx], [0, 1, dy]])
    return cv2.warpAffine(image_bgr, matrix, image_bgr.shape[1::-1], borderMode=cv2.BORDER_REPLICATE)


def test_the_person_is_found_and_the_band_lies_below_the_face(frame_and_face, person) -> None:
    image_bgr, face = frame_and_face
    assert 0.1 < person.mean() < 0.7  # a man at a desk: a good part of the frame, not all of it
    y0, y1, x0, x1 = body_band(image_bgr.shape, face)
    assert y0 > face[152, 1] and y1 == image_bgr.shape[0] and x0 < face[:, 0].min() and x1 > face[:, 0].max()
    assert person[y0:y1, x0:x1].mean() > 0.3  # the band is mostly his body


@pytest.mark.parametrize("shift_px", [(1.5, -2.0), (-3.0, 1.0), (0.0, 0.0)])
def test_a_known_body_shift_is_measured_back(frame_and_face, person, shift_px: tuple[float, float]) -> None:
    image_bgr, face = frame_and_face
    registration = BodyRegistration(image_bgr, person, body_band(image_bgr.shape, face))
    assert registration.usable
    measured = registration.measure(moved(image_bgr, *shift_px))
    assert measured is not None
    np.testing.assert_allclose(measured, shift_px, atol=0.3)


def test_the_plate_s_person_moves_and_its_background_stays(frame_and_face, person) -> None:
    image_bgr, _ = frame_and_face
    plate = BodyPlate(image_bgr, person)
    assert plate.shifted((0.0, 0.0)) is image_bgr
    shifted = plate.shifted((4.0, 0.0))
    rows, columns = np.nonzero(person)
    inside = (rows >= rows.min() + 20) & (columns >= columns.min() + 20) & (columns <= columns.max() - 20)
    sample = (rows[inside][::50], columns[inside][::50])
    expected = moved(image_bgr, 4.0, 0.0)
    # inside the person: the moved person; far from it: the plate unchanged
    assert np.abs(shifted[sample].astype(int) - expected[sample].astype(int)).mean() < 1.0
    far = cv2.dilate(person, np.ones((31, 31), np.uint8)) == 0
    assert far.any() and np.array_equal(shifted[far], image_bgr[far])
    assert not np.array_equal(shifted, image_bgr)


def test_the_follower_takes_its_reference_then_scales_clamps_and_restarts(frame_and_face, person) -> None:
    image_bgr, face = frame_and_face
    calls = []

    def person_mask_of(frame_bgr: np.ndarray) -> np.ndarray:
        calls.append(frame_bgr.shape)
        return person

    height_px = image_bgr.shape[0]
    follower = BodyFollower(person_mask_of, height_px)
    assert follower.follow(image_bgr, face, face, 0.0) == (0.0, 0.0)  # the reference frame
    target_twice_as_big = face.copy()
    target_twice_as_big[:, :2] *= 2.0
    time_s = 0.0
    for _ in range(60):  # the body moved 2 px right; the smoothing settles within two seconds
        time_s += 1 / 30
        shift = follower.follow(moved(image_bgr, 2.0, 0.0), face, target_twice_as_big, time_s)
    assert shift is not None
    np.testing.assert_allclose(shift, (4.0, 0.0), atol=0.4)  # scaled by the faces' heights
    for _ in range(60):
        time_s += 1 / 30
        shift = follower.follow(moved(image_bgr, 12.0, 0.0), face, target_twice_as_big, time_s)
    assert shift is not None and shift[0] == pytest.approx(MAX_SHIFT_FRACTION * height_px, abs=0.05)  # clamped
    assert len(calls) == 1  # segmented once, at the reference
    follower.reset()
    assert follower.follow(moved(image_bgr, 12.0, 0.0), face, face, time_s) == (0.0, 0.0)  # a new reference
    assert len(calls) == 2
