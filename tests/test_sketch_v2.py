"""Sketch v2 on real MediaPipe landmarks (CREMA-D actor 1001 smiling and blinking): a closed eye, an open eye,
a closed and an open mouth look different; v1 is still drawn for models trained on it."""

from __future__ import annotations

import numpy as np
import pytest

from live.face.expression import eye_openings, mouth_opening
from live.formats.sketch import REGION_COLOURS_BGR, SKETCH_FORMAT_VERSION, SUPPORTED_SKETCH_VERSIONS, draw_sketch

SIZE_PX = 256


@pytest.fixture(scope="module")
def faces(smiling_actor_faces: list[np.ndarray]) -> list[np.ndarray]:
    """Every tracked face of the clip, scaled and centred to fill a SIZE_PX sketch (conftest)."""
    return smiling_actor_faces


def colour_pixels(sketch_bgr: np.ndarray, colour_bgr: tuple[int, int, int]) -> int:
    return int(np.all(np.abs(sketch_bgr.astype(int) - colour_bgr) <= 8, axis=2).sum())


def test_closed_eye_shows_no_iris_and_less_aperture(faces: list[np.ndarray]) -> None:
    openings = [float(eye_openings(face).mean()) for face in faces]
    closed, open_ = faces[int(np.argmin(openings))], faces[int(np.argmax(openings))]
    closed_bgr, open_bgr = draw_sketch(closed, SIZE_PX), draw_sketch(open_, SIZE_PX)
    print(f"eye opening {min(openings):.3f} vs {max(openings):.3f}")
    assert colour_pixels(open_bgr, REGION_COLOURS_BGR["iris"]) > 20
    assert (
        colour_pixels(closed_bgr, REGION_COLOURS_BGR["iris"]) < colour_pixels(open_bgr, REGION_COLOURS_BGR["iris"]) / 4
    )
    aperture = REGION_COLOURS_BGR["eye_aperture"]
    assert colour_pixels(closed_bgr, aperture) < colour_pixels(open_bgr, aperture)


def test_open_mouth_fills_the_inner_mouth(faces: list[np.ndarray]) -> None:
    openings = [float(mouth_opening(face)) for face in faces]
    closed, open_ = faces[int(np.argmin(openings))], faces[int(np.argmax(openings))]
    inner = REGION_COLOURS_BGR["inner_mouth"]
    closed_pixels = colour_pixels(draw_sketch(closed, SIZE_PX), inner)
    open_pixels = colour_pixels(draw_sketch(open_, SIZE_PX), inner)
    print(f"inner mouth pixels {closed_pixels} (mouth {min(openings):.3f}) vs {open_pixels} ({max(openings):.3f})")
    assert open_pixels > 3 * max(closed_pixels, 10)


def test_v1_draws_lines_only_and_versions_are_checked(faces: list[np.ndarray]) -> None:
    face = faces[0]
    assert max(SUPPORTED_SKETCH_VERSIONS) == SKETCH_FORMAT_VERSION and 1 in SUPPORTED_SKETCH_VERSIONS
    v1_bgr = draw_sketch(face, SIZE_PX, version=1)
    for region in ("iris", "lips", "inner_mouth"):  # (the aperture's grey also occurs on anti-aliased white lines)
        assert colour_pixels(v1_bgr, REGION_COLOURS_BGR[region]) < 5, f"v1 has no filled {region}"
    buffer = np.full((SIZE_PX, SIZE_PX, 3), 77, dtype=np.uint8)
    assert draw_sketch(face, SIZE_PX, buffer) is buffer and np.array_equal(buffer, draw_sketch(face, SIZE_PX))
    with pytest.raises(ValueError):
        draw_sketch(face, SIZE_PX, version=max(SUPPORTED_SKETCH_VERSIONS) + 1)
