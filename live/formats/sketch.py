"""The sketch: landmarks drawn as the generator's conditioning image.

`draw_sketch` is the ONE function that draws sketches, for `live prepare`
(training data) and for `live run` (inference). Any change to what it draws
must bump SKETCH_FORMAT_VERSION: models record the version they were trained
on and the generator refuses a mismatch.
"""

from __future__ import annotations

import cv2
import numpy as np

from live.formats.mesh_topology import PART_EDGES

SKETCH_FORMAT_VERSION = 1

# One BGR colour per facial part, so the generator can tell the parts apart.
PART_COLOURS_BGR: dict[str, tuple[int, int, int]] = {
    "face_oval": (255, 255, 255),
    "left_brow": (0, 255, 255),
    "right_brow": (0, 255, 255),
    "left_eye": (255, 128, 0),
    "right_eye": (255, 128, 0),
    "left_iris": (255, 0, 255),
    "right_iris": (255, 0, 255),
    "nose": (0, 255, 0),
    "outer_lips": (0, 0, 255),
    "inner_lips": (128, 128, 255),
}

_SUBPIXEL_BITS = 4
_SUBPIXEL_SCALE = float(1 << _SUBPIXEL_BITS)

# Edges grouped by colour: one cv2.polylines call per colour.
_EDGES_BY_COLOUR: list[tuple[tuple[int, int, int], np.ndarray]] = []
for _colour in dict.fromkeys(PART_COLOURS_BGR.values()):
    _edges = [edge for part, edges in PART_EDGES.items() if PART_COLOURS_BGR[part] == _colour for edge in edges]
    _EDGES_BY_COLOUR.append((_colour, np.array(_edges, dtype=np.intp)))


def line_thickness_px(size_px: int) -> int:
    """Line width used at a sketch size: 1 px up to 191 px, 2 px at 256, scaling on."""
    return max(1, round(size_px / 128))


def draw_sketch(landmarks_px: np.ndarray, size_px: int, out_bgr: np.ndarray | None = None) -> np.ndarray:
    """Draw (478, 3) landmarks, in pixels of a `size_px` square, as a BGR uint8 sketch.

    `out_bgr`, when given, is a (size_px, size_px, 3) uint8 buffer that is
    cleared and drawn into (no allocation per frame).
    """
    if out_bgr is None:
        out_bgr = np.zeros((size_px, size_px, 3), dtype=np.uint8)
    else:
        out_bgr.fill(0)
    points = np.rint(landmarks_px[:, :2] * _SUBPIXEL_SCALE).astype(np.int32)
    thickness_px = line_thickness_px(size_px)
    for colour_bgr, edges in _EDGES_BY_COLOUR:
        segments = points[edges]
        cv2.polylines(out_bgr, segments, False, colour_bgr, thickness_px, cv2.LINE_AA, _SUBPIXEL_BITS)
    return out_bgr


_FACE_OVAL_INDICES = np.array(PART_EDGES["face_oval"], dtype=np.intp)[:, 0]


def face_mask(landmarks_px: np.ndarray, size_px: int) -> np.ndarray:
    """Boolean (size_px, size_px) mask of the face oval's convex hull (the "face region" of eval and training)."""
    mask = np.zeros((size_px, size_px), dtype=np.uint8)
    hull = cv2.convexHull(np.rint(landmarks_px[_FACE_OVAL_INDICES, :2]).astype(np.int32))
    cv2.fillConvexPoly(mask, hull, 1)
    return mask.astype(bool)
