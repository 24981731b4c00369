"""Alignment: the square head crop that follows the head, from a similarity fitted to stable landmarks.

A crop transform is a 2x3 similarity (rotation, uniform scale, translation) mapping pixels of the
target's own frame (the plate, native size) to pixels of the generator's square (crop_px wide).
It is fitted by least squares (Umeyama 1991, in 2-D) from the face's STABLE landmarks (eye corners,
temples, forehead, nose bridge; never lids, lips or jaw, which move with expression) onto one
canonical template. The template puts the face where a crop covers the whole head: hair, chin and
a little neck (side = HEAD_TEMPLATE.side_over_face_height x the forehead-to-chin height of a
neutral face), with the eye line level, so the crop is corrected for roll.

`TransformSmoother` smooths the transform over time with its own One Euro filter, separate from
the expression (which the retargeter smooths quickly), so the crop does not shake on a still head
yet follows a moving one. Pure numpy + OpenCV geometry: no IO, no threads.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from live.errors import UsageError
from live.face.smoothing import OneEuroFilter, OneEuroParameters

# How a frame is resampled into the head crop (prepare's training crops, `live record`'s meter) and the crop
# back into the frame (live.pipeline.paste_back): bicubic. The crop is about 0.85x the frame's scale on a
# close-up, so both resamplings sit near 1:1, where bilinear interpolation is a low-pass filter: a real frame
# cut to a 256 px crop and pasted back keeps 0.64 of its face's Laplacian variance bilinear, 0.92 bicubic
# (docs/experiments.md, "Can the generator carry the target's real detail?").
CROP_INTERPOLATION = cv2.INTER_CUBIC

# Stable points (MediaPipe face mesh): eye corners, temples, upper cheekbones by the ears,
# forehead, nose bridge. Not lids, lips, jaw or brows.
ALIGNMENT_INDICES: np.ndarray = np.array(
    [33, 263, 133, 362, 234, 454, 127, 356, 162, 389, 21, 251, 54, 284, 67, 297, 108, 337, 10, 151, 9, 168, 6, 197],
    dtype=np.intp,
)


@dataclass(frozen=True, slots=True)
class HeadTemplate:
    """Where the stable points sit in a unit crop ([0, 1] x [0, 1], y down).

    Derived once from the median face of data/jwp_intro.mp4 (roll removed, mirrored pairs made
    symmetric about the midline), scaled so that the crop side is `side_over_face_height` times the
    forehead (10) to chin (152) distance and the face's middle sits `centre_above_face_middle` of the
    side below the crop's centre (more room above the forehead for hair than below the chin).
    """

    name: str
    side_over_face_height: float
    centre_above_face_middle: float
    points_unit: np.ndarray  # (len(ALIGNMENT_INDICES), 2)

    def to_dict(self) -> dict:
        """JSON-ready form for the model card."""
        return {
            "name": self.name,
            "landmark_indices": ALIGNMENT_INDICES.tolist(),
            "side_over_face_height": self.side_over_face_height,
            "centre_above_face_middle": self.centre_above_face_middle,
            "points_unit": np.round(self.points_unit.astype(np.float64), 4).tolist(),
        }

    @classmethod
    def from_dict(cls, data: dict) -> "HeadTemplate":
        """The template a model card or dataset manifest records (to_dict's form, checked by the card's checks);
        UsageError when it is aligned on other landmarks than this version's ALIGNMENT_INDICES."""
        if list(data["landmark_indices"]) != ALIGNMENT_INDICES.tolist():
            raise UsageError(
                f"the model's head template {data.get('name')!r} is aligned on other landmarks than this version of "
                "live uses: prepare and train it again with this version"
            )
        points_unit = np.asarray(data["points_unit"], dtype=np.float64)
        return cls(
            name=str(data["name"]),
            side_over_face_height=float(data["side_over_face_height"]),
            centre_above_face_middle=float(data["centre_above_face_middle"]),
            points_unit=points_unit,
        )


HEAD_TEMPLATE = HeadTemplate(
    name="head-1.7",
    side_over_face_height=1.7,
    centre_above_face_middle=0.04,
    points_unit=np.array(
        [
            [0.3608, 0.4260],
            [0.6392, 0.4260],
            [0.4456, 0.4244],
            [0.5544, 0.4244],
            [0.2703, 0.5026],
            [0.7297, 0.5026],
            [0.2667, 0.4514],
            [0.7333, 0.4514],
            [0.2701, 0.3970],
            [0.7299, 0.3970],
            [0.2808, 0.3538],
            [0.7192, 0.3538],
            [0.3021, 0.3133],
            [0.6979, 0.3133],
            [0.3857, 0.2587],
            [0.6143, 0.2587],
            [0.4468, 0.3002],
            [0.5532, 0.3002],
            [0.5000, 0.2459],
            [0.5000, 0.3011],
            [0.5000, 0.3626],
            [0.5000, 0.4127],
            [0.5000, 0.4354],
            [0.5000, 0.4587],
        ]
    ),
)


def fit_similarity(source_xy: np.ndarray, target_xy: np.ndarray) -> np.ndarray:
    """Least-squares 2x3 similarity (no reflection) mapping (N, 2) source points onto (N, 2) target points."""
    source = np.asarray(source_xy, dtype=np.float64)
    target = np.asarray(target_xy, dtype=np.float64)
    source_mean, target_mean = source.mean(axis=0), target.mean(axis=0)
    source_centred, target_centred = source - source_mean, target - target_mean
    covariance = target_centred.T @ source_centred / len(source)
    u, singular_values, vt = np.linalg.svd(covariance)
    sign = np.array([1.0, 1.0 if np.linalg.det(u) * np.linalg.det(vt) > 0 else -1.0])
    rotation = (u * sign) @ vt
    scale = float((singular_values * sign).sum() / max((source_centred**2).sum() / len(source), 1e-12))
    translation = target_mean - scale * rotation @ source_mean
    return np.hstack([scale * rotation, translation[:, None]])


def crop_transform(landmarks_px: np.ndarray, crop_px: int, template: HeadTemplate = HEAD_TEMPLATE) -> np.ndarray:
    """The 2x3 plate->crop transform of one face: its stable landmarks (frame pixels) onto the template."""
    return fit_similarity(landmarks_px[ALIGNMENT_INDICES, :2], template.points_unit * crop_px)


def apply_transform(transform: np.ndarray, landmarks_px: np.ndarray) -> np.ndarray:
    """Landmarks (N, 2 or 3) moved by a 2x3 similarity; z is scaled like x and y. Returns float32."""
    result = np.asarray(landmarks_px, dtype=np.float32).copy()
    linear = transform[:, :2]
    result[:, :2] = landmarks_px[:, :2] @ linear.T + transform[:, 2]
    if result.shape[1] > 2:
        result[:, 2] *= float(np.sqrt(abs(np.linalg.det(linear))))
    return result


def invert_transform(transform: np.ndarray) -> np.ndarray:
    """The 2x3 transform that undoes `transform`."""
    return cv2.invertAffineTransform(np.asarray(transform, dtype=np.float64))


def transform_parameters(transform: np.ndarray, crop_px: int) -> np.ndarray:
    """[centre_x_px, centre_y_px, side_px, angle_rad]: where the crop's centre lies in the frame, its side in
    frame pixels and its rotation. A readable, smoothable form of a crop transform."""
    inverse = invert_transform(transform)
    centre = inverse[:, :2] @ np.array([crop_px / 2, crop_px / 2]) + inverse[:, 2]
    scale = float(np.hypot(transform[0, 0], transform[1, 0]))
    angle = float(np.arctan2(transform[1, 0], transform[0, 0]))
    return np.array([centre[0], centre[1], crop_px / scale, angle])


def transform_from_parameters(parameters: np.ndarray, crop_px: int) -> np.ndarray:
    """The inverse of transform_parameters."""
    centre_x, centre_y, side_px, angle = (float(value) for value in parameters)
    scale = crop_px / side_px
    linear = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    translation = np.array([crop_px / 2, crop_px / 2]) - linear @ np.array([centre_x, centre_y])
    return np.hstack([linear, translation[:, None]])


def crop_corners_px(transform: np.ndarray, crop_px: int) -> np.ndarray:
    """(4, 2) frame pixels of the crop's corners."""
    corners = np.array([[0, 0], [crop_px, 0], [crop_px, crop_px], [0, crop_px]], dtype=np.float64)
    inverse = invert_transform(transform)
    return corners @ inverse[:, :2].T + inverse[:, 2]


def crop_box_px(transform: np.ndarray, crop_px: int) -> tuple[float, float, float, float]:
    """(x0, y0, x1, y1): the frame-pixel bounding box of a crop."""
    corners = crop_corners_px(transform, crop_px)
    return (*corners.min(axis=0).tolist(), *corners.max(axis=0).tolist())


def median_transform(transforms: np.ndarray, crop_px: int) -> np.ndarray:
    """The transform of the median centre, side and angle of (N, 2, 3) transforms (a robust 'usual' crop)."""
    parameters = np.array([transform_parameters(transform, crop_px) for transform in transforms])
    return transform_from_parameters(np.median(parameters, axis=0), crop_px)


@dataclass(frozen=True, slots=True)
class TransformSmoothing:
    """One Euro parameters of the crop transform. Centre and side are filtered in frame pixels, the angle
    as the pixels a crop corner moves (angle x side / 2), so one set of parameters fits all four.
    min_cutoff_hz: smoothing of a still head; beta: how fast the cutoff rises with speed (per px/s)."""

    min_cutoff_hz: float = 0.4
    beta: float = 0.02
    derivative_cutoff_hz: float = 1.0
    enabled: bool = True


class TransformSmoother:
    """`smooth(transform, t_s)` returns the smoothed 2x3 transform; `reset()` forgets the past."""

    def __init__(self, crop_px: int, smoothing: TransformSmoothing = TransformSmoothing()) -> None:
        self.crop_px = crop_px
        self.smoothing = smoothing
        self._filter = OneEuroFilter(
            OneEuroParameters(smoothing.min_cutoff_hz, smoothing.beta, smoothing.derivative_cutoff_hz)
        )

    def reset(self) -> None:
        """Start over: the next transform passes through unchanged."""
        self._filter.reset()

    def smooth(self, transform: np.ndarray, t_s: float) -> np.ndarray:
        """The smoothed transform at time t_s (seconds, increasing)."""
        if not self.smoothing.enabled:
            return np.asarray(transform, dtype=np.float64)
        centre_x, centre_y, side_px, angle = transform_parameters(transform, self.crop_px)
        lever_px = side_px / 2
        smoothed = self._filter.filter(np.array([centre_x, centre_y, side_px, angle * lever_px]), t_s)
        smoothed[3] /= lever_px
        return transform_from_parameters(smoothed, self.crop_px)


def transform_jitter_px(transforms: np.ndarray, crop_px: int) -> float:
    """Mean distance (frame pixels) the crop's corners move from one transform to the next."""
    corners = np.array([crop_corners_px(transform, crop_px) for transform in transforms])
    if len(corners) < 2:
        return 0.0
    return float(np.linalg.norm(np.diff(corners, axis=0), axis=2).mean())


def warp_to_crop(image_bgr: np.ndarray, transform: np.ndarray, crop_px: int, out_bgr: np.ndarray | None = None):
    """The crop of `image_bgr` under a plate->crop transform (CROP_INTERPOLATION; border pixels replicated)."""
    return cv2.warpAffine(
        image_bgr,
        np.asarray(transform, dtype=np.float64),
        (crop_px, crop_px),
        dst=out_bgr,
        flags=CROP_INTERPOLATION,
        borderMode=cv2.BORDER_REPLICATE,
    )


class HeadFollower:
    """Places retargeted landmarks in the target's frame and finds the head crop that follows them.

    The retargeter works in the pixels of the target's usual crop (`neutral_transform`, plate->crop, from
    the model card). `follow` maps its landmarks into the plate, fits the crop transform on their stable
    points, smooths it (TransformSmoother, apart from the expression) and returns the transform and the
    landmarks in that crop, which is what the sketch is drawn from. `template`: the model's own (its card's)."""

    def __init__(
        self,
        neutral_transform: np.ndarray,
        crop_px: int,
        smoothing: TransformSmoothing = TransformSmoothing(),
        template: HeadTemplate = HEAD_TEMPLATE,
    ) -> None:
        self.crop_px = crop_px
        self.template = template
        self.neutral_transform = np.asarray(neutral_transform, dtype=np.float64)
        self._to_plate = invert_transform(self.neutral_transform)
        self._smoother = TransformSmoother(crop_px, smoothing)
        self.last_transform = self.neutral_transform

    def reset(self) -> None:
        """Forget the past (tracking lost): the next crop is fitted afresh."""
        self._smoother.reset()

    def follow(self, target_px: np.ndarray, t_s: float) -> tuple[np.ndarray, np.ndarray]:
        """(plate->crop transform, landmarks in that crop) for landmarks in the usual crop's pixels."""
        plate_px = apply_transform(self._to_plate, target_px)
        transform = self._smoother.smooth(crop_transform(plate_px, self.crop_px, self.template), t_s)
        self.last_transform = transform
        return transform, apply_transform(transform, plate_px)
