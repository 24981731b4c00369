"""The shape space keeps retargeted sketches inside the shapes the generator was trained on."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from live.engines.landmarks import LandmarkConfig, LandmarkDetector
from live.face.shape_space import ShapeSpace

CLIP = Path(__file__).resolve().parents[1] / "data" / "jwp_intro.mp4"


@pytest.fixture(scope="module")
def clip_landmarks_px() -> np.ndarray:
    """Real landmarks of every 2nd frame of the shipped training clip, in a 256 px square crop."""
    capture = cv2.VideoCapture(str(CLIP))
    found = []
    with LandmarkDetector(LandmarkConfig()) as detector:
        for index in range(173):
            ok, frame = capture.read()
            if not ok:
                break
            if index % 2 == 0:
                square = cv2.resize(frame[:, 70 : 70 + 394][:394], (256, 256))
                landmarks = detector.detect(square)
                if landmarks is not None:
                    found.append(landmarks)
    capture.release()
    return np.stack(found)


def test_held_out_shapes_pass_nearly_unchanged(clip_landmarks_px: np.ndarray) -> None:
    split = int(len(clip_landmarks_px) * 0.85)
    space = ShapeSpace.fit(clip_landmarks_px[:split], 0.999)
    changes = [space.project(shape)[1] for shape in clip_landmarks_px[split:]]
    assert float(np.mean(changes)) < 0.6, changes


def test_shapes_outside_training_are_pulled_in(clip_landmarks_px: np.ndarray) -> None:
    space = ShapeSpace.fit(clip_landmarks_px, 0.999)
    shape = clip_landmarks_px[0].copy()
    lips = [13, 14, 78, 308, 82, 87, 312, 317]
    shape[[14, 87, 317], 1] += 25.0  # a jaw drop far beyond anything in the clip
    projected, distance_px = space.project(shape)
    inner_gap_px = projected[14, 1] - projected[13, 1]
    assert distance_px > 0.3  # 3 of 478 points moved by 25 px: ~0.16 px on average if kept as they were
    assert inner_gap_px < (shape[14, 1] - shape[13, 1]) - 10.0
    assert np.isfinite(projected[lips]).all()
    assert np.array_equal(projected[:, 2], shape[:, 2]), "depth is left alone"


def test_round_trip_through_the_card_form(clip_landmarks_px: np.ndarray) -> None:
    space = ShapeSpace.fit(clip_landmarks_px, 0.999)
    again = ShapeSpace.from_dict(space.to_dict())
    shape = clip_landmarks_px[3]
    assert np.allclose(space.project(shape)[0], again.project(shape)[0], atol=0.05)
    assert ShapeSpace.from_dict({}) is None
