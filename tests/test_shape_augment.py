"""Part-shape augmentation on real MediaPipe faces (CREMA-D actor 1001 smiling): lips get thicker or thinner and
lids bend, but the openings the photo shows (eye, mouth, smile) stay exactly as they were; and a run trains with it."""

from __future__ import annotations

import numpy as np
import pytest

from live.face.expression import eye_openings, mouth_opening, smile
from live.formats.sketch import REGION_COLOURS_BGR, draw_sketch
from live.training.shape_augment import INNER_LIPS, OUTER_LIPS, perturb_part_shapes, shape_variant_sketches

SIZE_PX = 256


@pytest.fixture(scope="module")
def faces(smiling_actor_faces: list[np.ndarray]) -> np.ndarray:
    """Ten tracked faces of the clip, scaled and centred to fill a SIZE_PX sketch (conftest)."""
    assert len(smiling_actor_faces) >= 10
    return np.stack(smiling_actor_faces[:10])


def lip_thickness_px(landmarks_px: np.ndarray) -> float:
    """Mean distance of the outer-lip points (corners excepted) from the nearest inner-lip point."""
    inner = landmarks_px[INNER_LIPS, :2]
    outer = landmarks_px[OUTER_LIPS, :2]
    return float(np.sqrt(((outer[:, None] - inner[None]) ** 2).sum(axis=2)).min(axis=1).mean())


def test_perturbed_shapes_keep_the_openings_and_change_the_lips(faces: np.ndarray) -> None:
    random = np.random.default_rng(0)
    ratios = []
    for face in faces:
        shape = perturb_part_shapes(face, random, 0.3)
        np.testing.assert_allclose(eye_openings(shape), eye_openings(face), rtol=5e-3)
        assert mouth_opening(shape) == pytest.approx(mouth_opening(face), rel=1e-9)
        assert smile(shape) == pytest.approx(smile(face), rel=1e-9)
        ratios.append(lip_thickness_px(shape) / lip_thickness_px(face))
        moved = np.linalg.norm(shape[:, :2] - face[:, :2], axis=1)
        assert moved.max() > 0.5  # pixels of a 256 px sketch
    assert min(ratios) < 0.95 and max(ratios) > 1.05  # thinner and thicker lips both occur


def test_variant_zero_is_the_frames_own_sketch_and_the_others_differ(faces: np.ndarray) -> None:
    variants = shape_variant_sketches(faces[:2].astype(np.float32), [0.0, 0.0], SIZE_PX, 4, 0.3, seed=1)
    assert variants.shape == (8, SIZE_PX, SIZE_PX, 3)
    for frame in range(2):
        own = draw_sketch(faces[frame].astype(np.float32), SIZE_PX)
        assert np.array_equal(variants[frame * 4], own)
        lips = np.all(own == REGION_COLOURS_BGR["lips"], axis=2).sum()
        for variant in range(1, 4):
            other = variants[frame * 4 + variant]
            assert not np.array_equal(other, own)
            assert np.all(other == REGION_COLOURS_BGR["lips"], axis=2).sum() != lips


def test_lips_only_leaves_the_eyes_alone(faces: np.ndarray) -> None:
    from live.face.expression_transfer import EYE_CONTOURS

    eyes = np.concatenate(EYE_CONTOURS)
    lips_only = perturb_part_shapes(faces[0], np.random.default_rng(2), 0.5, lids=False)
    both = perturb_part_shapes(faces[0], np.random.default_rng(2), 0.5, lids=True)
    np.testing.assert_array_equal(lips_only[eyes], faces[0][eyes])
    assert not np.allclose(both[eyes], faces[0][eyes])
    np.testing.assert_array_equal(lips_only[OUTER_LIPS], both[OUTER_LIPS])  # the same lips either way
