"""A dense warp of one face crop onto another face's landmarks: piecewise affine over a triangulation of the
478 MediaPipe landmarks and the crop's border.

`MeshWarp(reference_landmarks_px, size_px)` triangulates the reference's landmarks (x, y, in crop pixels) with
16 points on the crop's border (Delaunay, once); `warp(reference_bgr, target_landmarks_px)` moves every
triangle of the reference onto the same triangle of the target's landmarks and samples the reference there
(bicubic, border replicated), so the reference's own pixels take the target's expression and pose. Inside
the face every triangle has its own affine map; outside it (hair, neck, background) the triangles reach to
the crop's fixed border, so the warp fades to none there. Pure numpy + OpenCV.
"""

from __future__ import annotations

import cv2
import numpy as np

from live.face.alignment import CROP_INTERPOLATION

BORDER_POINTS_PER_SIDE = 4


def border_points_px(size_px: int) -> np.ndarray:
    """(16, 2) points evenly along the crop's border, corners included."""
    steps = np.linspace(0.0, size_px - 1.0, BORDER_POINTS_PER_SIDE + 1)[:-1]
    last = size_px - 1.0
    sides = [
        np.stack([steps, np.zeros_like(steps)], 1),
        np.stack([np.full_like(steps, last), steps], 1),
        np.stack([last - steps, np.full_like(steps, last)], 1),
        np.stack([np.zeros_like(steps), last - steps], 1),
    ]
    return np.concatenate(sides).astype(np.float64)


def delaunay_triangles(points_px: np.ndarray, size_px: int) -> np.ndarray:
    """(T, 3) index triples of a Delaunay triangulation of (N, 2) points inside a size_px square."""
    subdivision = cv2.Subdiv2D((-1, -1, size_px + 2, size_px + 2))
    clipped = np.clip(points_px, 0.0, size_px - 1.0).astype(np.float32)  # (Subdiv2D's own precision)
    for x, y in clipped:
        subdivision.insert((float(x), float(y)))
    lookup = {(float(x), float(y)): index for index, (x, y) in enumerate(clipped)}
    triangles = []
    for x0, y0, x1, y1, x2, y2 in subdivision.getTriangleList().astype(np.float32):
        corners = [lookup.get((float(x), float(y))) for x, y in ((x0, y0), (x1, y1), (x2, y2))]
        if None not in corners and len(set(corners)) == 3:
            triangles.append(corners)
    return np.array(triangles, dtype=np.int32)


class MeshWarp:
    """The reference's triangulation, and the warp of its crop onto another face's landmarks."""

    def __init__(self, reference_landmarks_px: np.ndarray, size_px: int) -> None:
        self.size_px = size_px
        self.reference_points_px = self._points(reference_landmarks_px)
        self.triangles = delaunay_triangles(self.reference_points_px, size_px)

    def _points(self, landmarks_px: np.ndarray) -> np.ndarray:
        face = np.clip(np.asarray(landmarks_px, dtype=np.float64)[:, :2], 0.0, self.size_px - 1.0)
        return np.concatenate([face, border_points_px(self.size_px)])

    def maps(self, target_landmarks_px: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(map_x, map_y) float32 for cv2.remap: where each target pixel samples the reference."""
        target = self._points(target_landmarks_px)
        size = self.size_px
        owner = np.full((size, size), -1, dtype=np.int32)
        for index, corners in enumerate(self.triangles):
            cv2.fillConvexPoly(owner, np.rint(target[corners]).astype(np.int32), index)
        affines = np.zeros((len(self.triangles), 2, 3), dtype=np.float64)
        for index, corners in enumerate(self.triangles):
            affines[index] = cv2.getAffineTransform(
                target[corners].astype(np.float32), self.reference_points_px[corners].astype(np.float32)
            )
        ys, xs = np.mgrid[0:size, 0:size].astype(np.float64)
        chosen = affines[np.maximum(owner, 0)]
        map_x = chosen[..., 0, 0] * xs + chosen[..., 0, 1] * ys + chosen[..., 0, 2]
        map_y = chosen[..., 1, 0] * xs + chosen[..., 1, 1] * ys + chosen[..., 1, 2]
        outside = owner < 0  # (pixels no triangle covers: taken where they are)
        map_x[outside], map_y[outside] = xs[outside], ys[outside]
        return map_x.astype(np.float32), map_y.astype(np.float32)

    def warp(self, reference_bgr: np.ndarray, target_landmarks_px: np.ndarray) -> np.ndarray:
        """The reference crop moved onto the target's landmarks."""
        map_x, map_y = self.maps(target_landmarks_px)
        return cv2.remap(reference_bgr, map_x, map_y, CROP_INTERPOLATION, borderMode=cv2.BORDER_REPLICATE)
