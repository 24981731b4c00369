"""The sketch: landmarks drawn as the generator's conditioning image.

`draw_sketch` is the ONE function that draws sketches, for `live prepare`
(training data) and for `live run` (inference). Any change to what it draws
must bump SKETCH_FORMAT_VERSION: models record the version they were trained
on, and `live run` draws that version (SUPPORTED_SKETCH_VERSIONS) or refuses the model.

v1: every part as anti-aliased lines in its own colour.
v2: v1's lines, plus the parts that carry expression drawn as filled regions in
    their own colours, so a closed eye, an open eye and a smile with an open
    mouth look different to the generator (a closed eye in v1 was one thin line):
    the eye aperture (the lid contour, filled), the iris disc (clipped to the
    aperture: a closing lid covers it), the lips (between outer and inner contour)
    and the inner mouth (filled inner-lip contour).
v3: v2, with the inner mouth's colour moved from its v2 colour towards white by the share of it
    that shows teeth (live.face.teeth, measured on the photo: the target's in `live prepare`, the
    driver's in `live run`), full white at TEETH_FULL_SHARE. The landmarks cannot say whether teeth
    show between open lips; without it the generator drew every open mouth dark.
"""

from __future__ import annotations

import cv2
import numpy as np

from live.formats.mesh_topology import PART_EDGES, closed_loop

SKETCH_FORMAT_VERSION = 3
SUPPORTED_SKETCH_VERSIONS = (1, 2, 3)
TEETH_SKETCH_VERSION = 3  # the first format that draws the teeth share
TEETH_FULL_SHARE = 0.3  # of the inner mouth showing teeth: drawn full white (v3)
TEETH_BGR = (255, 255, 255)

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


def _edges_by_colour(parts: tuple[str, ...]) -> list[tuple[tuple[int, int, int], np.ndarray]]:
    """The parts' edges grouped by colour: one cv2.polylines call per colour."""
    groups = []
    for colour in dict.fromkeys(PART_COLOURS_BGR[part] for part in parts):
        edges = [edge for part in parts if PART_COLOURS_BGR[part] == colour for edge in PART_EDGES[part]]
        groups.append((colour, np.array(edges, dtype=np.intp)))
    return groups


# v1 draws every part as lines; v2 draws the irises as discs inside the eye aperture instead.
_LINES_BY_VERSION = {
    1: _edges_by_colour(tuple(PART_COLOURS_BGR)),
    2: _edges_by_colour(tuple(part for part in PART_COLOURS_BGR if not part.endswith("_iris"))),
}
_LINES_BY_VERSION[3] = _LINES_BY_VERSION[2]


def line_thickness_px(size_px: int) -> int:
    """Line width used at a sketch size: 1 px up to 191 px, 2 px at 256, scaling on."""
    return max(1, round(size_px / 128))


# v2 filled regions (BGR): eye aperture, iris disc, lips, inner mouth.
REGION_COLOURS_BGR: dict[str, tuple[int, int, int]] = {
    "eye_aperture": (160, 160, 160),
    "iris": (255, 0, 160),
    "lips": (40, 40, 170),
    "inner_mouth": (0, 200, 255),
}
_EYE_LOOPS = (closed_loop("right_eye"), closed_loop("left_eye"))
_IRIS_POINTS = ((468, (469, 470, 471, 472)), (473, (474, 475, 476, 477)))
_OUTER_LIPS_LOOP = closed_loop("outer_lips")
_INNER_LIPS_LOOP = closed_loop("inner_lips")


def inner_mouth_colour_bgr(teeth_share: float) -> tuple[int, int, int]:
    """v3's inner-mouth colour: v2's, moved towards white by the share of the mouth showing teeth."""
    weight = min(max(teeth_share / TEETH_FULL_SHARE, 0.0), 1.0)
    mouth = REGION_COLOURS_BGR["inner_mouth"]
    return tuple(int(round(m + weight * (t - m))) for m, t in zip(mouth, TEETH_BGR))


def _fill_regions(out_bgr: np.ndarray, landmarks_px: np.ndarray, points: np.ndarray, mouth_bgr: tuple) -> None:
    """v2's filled regions, drawn under the lines (sub-pixel, anti-aliased edges)."""
    cv2.fillPoly(out_bgr, [points[_OUTER_LIPS_LOOP]], REGION_COLOURS_BGR["lips"], cv2.LINE_AA, _SUBPIXEL_BITS)
    cv2.fillPoly(out_bgr, [points[_INNER_LIPS_LOOP]], mouth_bgr, cv2.LINE_AA, _SUBPIXEL_BITS)
    for eye_loop, (centre, ring) in zip(_EYE_LOOPS, _IRIS_POINTS):
        _fill_eye(out_bgr, landmarks_px, points, eye_loop, centre, ring)


def _fill_eye(
    out_bgr: np.ndarray, landmarks_px: np.ndarray, points: np.ndarray, loop: np.ndarray, centre: int, ring: tuple
) -> None:
    """The eye aperture with the iris disc inside it, drawn in the aperture's bounding box only."""
    x0, y0 = np.maximum(points[loop].min(axis=0) // int(_SUBPIXEL_SCALE) - 1, 0)
    x1, y1 = np.minimum(points[loop].max(axis=0) // int(_SUBPIXEL_SCALE) + 2, out_bgr.shape[1::-1])
    if x1 <= x0 or y1 <= y0:
        return
    offset = np.array([x0, y0], dtype=np.int32) * int(_SUBPIXEL_SCALE)
    aperture = np.zeros((y1 - y0, x1 - x0), dtype=np.uint8)
    cv2.fillPoly(aperture, [points[loop] - offset], 255, cv2.LINE_AA, _SUBPIXEL_BITS)
    region = np.empty((y1 - y0, x1 - x0, 3), dtype=np.uint8)
    region[:] = REGION_COLOURS_BGR["eye_aperture"]
    radius_px = float(np.linalg.norm(landmarks_px[list(ring), :2] - landmarks_px[centre, :2], axis=1).mean())
    centre_fixed = tuple(int(value) for value in points[centre] - offset)
    radius_fixed = max(1, round(radius_px * _SUBPIXEL_SCALE))
    cv2.circle(region, centre_fixed, radius_fixed, REGION_COLOURS_BGR["iris"], -1, cv2.LINE_AA, _SUBPIXEL_BITS)
    alpha = aperture[:, :, None].astype(np.float32) / 255.0
    box = out_bgr[y0:y1, x0:x1]
    box[:] = (box * (1.0 - alpha) + region * alpha + 0.5).astype(np.uint8)


def draw_sketch(
    landmarks_px: np.ndarray,
    size_px: int,
    out_bgr: np.ndarray | None = None,
    version: int = SKETCH_FORMAT_VERSION,
    teeth_share: float = 0.0,
) -> np.ndarray:
    """Draw (478, 3) landmarks, in pixels of a `size_px` square, as a BGR uint8 sketch.

    `out_bgr`, when given, is a (size_px, size_px, 3) uint8 buffer that is
    cleared and drawn into (no allocation per frame). `version`: the sketch
    format to draw (one of SUPPORTED_SKETCH_VERSIONS; a model's card names it).
    `teeth_share`: the share of the open mouth showing teeth (live.face.teeth); v3 draws it, v1-v2 ignore it.
    """
    if version not in SUPPORTED_SKETCH_VERSIONS:
        raise ValueError(f"sketch format v{version} is not one of {SUPPORTED_SKETCH_VERSIONS}")
    if out_bgr is None:
        out_bgr = np.zeros((size_px, size_px, 3), dtype=np.uint8)
    else:
        out_bgr.fill(0)
    points = np.rint(landmarks_px[:, :2] * _SUBPIXEL_SCALE).astype(np.int32)
    if version >= 2:
        mouth_bgr = inner_mouth_colour_bgr(teeth_share if version >= TEETH_SKETCH_VERSION else 0.0)
        _fill_regions(out_bgr, landmarks_px, points, mouth_bgr)
    thickness_px = line_thickness_px(size_px)
    for colour_bgr, edges in _LINES_BY_VERSION[version]:
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
