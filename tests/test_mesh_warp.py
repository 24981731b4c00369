"""The piecewise-affine mesh warp: a face onto its own landmarks stays where it is, onto moved landmarks it
moves with them, and the crop's border stays put."""

from __future__ import annotations

import numpy as np

from live.face.mesh_warp import MeshWarp, border_points_px

SIZE_PX = 128


def _face_points() -> np.ndarray:
    """478 points scattered over an oval in the middle of the crop (a stand-in for a face's landmarks)."""
    generator = np.random.default_rng(0)
    angles = generator.uniform(0.0, 2 * np.pi, 478)
    radii = np.sqrt(generator.uniform(0.0, 1.0, 478))
    points = np.stack([64 + 30 * radii * np.cos(angles), 60 + 38 * radii * np.sin(angles), np.zeros(478)], 1)
    return points


def test_a_face_onto_its_own_landmarks_is_not_moved() -> None:
    points = _face_points()
    map_x, map_y = MeshWarp(points, SIZE_PX).maps(points)
    ys, xs = np.mgrid[0:SIZE_PX, 0:SIZE_PX]
    assert np.abs(map_x - xs).max() < 1e-3 and np.abs(map_y - ys).max() < 1e-3


def test_moved_landmarks_move_the_face_and_leave_the_border() -> None:
    points = _face_points()
    moved = points + np.array([6.0, -4.0, 0.0])
    warp = MeshWarp(points, SIZE_PX)
    map_x, map_y = warp.maps(moved)
    # inside the face: each pixel samples the reference 6 px left and 4 px below
    assert abs(map_x[62, 70] - (70 - 6.0)) < 1e-2 and abs(map_y[62, 70] - (62 + 4.0)) < 1e-2
    for x, y in border_points_px(SIZE_PX).astype(int):
        assert abs(map_x[y, x] - x) < 1.0 and abs(map_y[y, x] - y) < 1.0
    image = np.zeros((SIZE_PX, SIZE_PX, 3), np.uint8)
    image[56:64, 60:68] = 255  # a bright square in the face
    warped = warp.warp(image, moved)
    rows, columns = np.nonzero(warped[..., 0] > 127)
    assert abs(rows.mean() - (59.5 - 4.0)) < 0.6 and abs(columns.mean() - (63.5 + 6.0)) < 0.6
