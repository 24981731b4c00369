"""Image and keypoint metrics of `live eval` (numpy and OpenCV only).

Conventions: images are uint8 (H, W, 3) BGR; differences are on the 0..255
scale; a `mask` is a boolean (H, W) face region (None = whole frame).
SSIM is Wang et al.'s, with an 11x11 Gaussian window (sigma 1.5) computed per
BGR channel and averaged over the channels; the region value is the mean of
the SSIM map inside the mask.

Fine detail is measured on a face box: the bounding box of the face mask, cut
from the image and resized to DETAIL_SIZE_PX square grey (face_box_grey). Its
Laplacian variance, output / real, says how much of the real fine detail is
kept (1: all; a blur gives less, a contrast gain of k gives k squared). GMSD
(Xue et al. 2014) compares the edges of two such boxes: 0 for the same edges.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from live.formats.sketch import face_mask

PEAK_VALUE = 255.0
PSNR_CAP_DB = 100.0  # identical images have infinite PSNR; averages over frames use this cap
SSIM_SIGMA_PX = 1.5
SSIM_WINDOW_PX = 11
_SSIM_C1 = (0.01 * PEAK_VALUE) ** 2
_SSIM_C2 = (0.03 * PEAK_VALUE) ** 2
DETAIL_SIZE_PX = 160  # the face box's side for the detail measures
GMSD_C = 170.0  # Xue et al.'s stability constant for 0..255 images
_PREWITT_X = np.array([[1.0, 0.0, -1.0]] * 3) / 3.0


def _pixels(image: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    """The values of `image` inside `mask` as float64 (all channels), or the whole image."""
    values = image.astype(np.float64)
    return values if mask is None else values[mask]


def _check_pair(image_a: np.ndarray, image_b: np.ndarray, mask: np.ndarray | None) -> None:
    if image_a.shape != image_b.shape:
        raise ValueError(f"images differ in shape: {image_a.shape} vs {image_b.shape}")
    if mask is not None and (mask.shape != image_a.shape[:2] or not mask.any()):
        raise ValueError(f"mask must be a non-empty boolean {image_a.shape[:2]} array")


def l1_0_255(image_a: np.ndarray, image_b: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Mean absolute difference on the 0..255 scale."""
    _check_pair(image_a, image_b, mask)
    return float(np.abs(_pixels(image_a, mask) - _pixels(image_b, mask)).mean())


def psnr_db(image_a: np.ndarray, image_b: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Peak signal-to-noise ratio in dB (peak 255); math.inf for identical images."""
    _check_pair(image_a, image_b, mask)
    mean_squared_error = float(np.square(_pixels(image_a, mask) - _pixels(image_b, mask)).mean())
    if mean_squared_error == 0.0:
        return math.inf
    return 10.0 * math.log10(PEAK_VALUE**2 / mean_squared_error)


def ssim_map(image_a: np.ndarray, image_b: np.ndarray) -> np.ndarray:
    """The (H, W) SSIM map: Gaussian window, per channel, averaged over channels."""
    _check_pair(image_a, image_b, None)
    a, b = image_a.astype(np.float64), image_b.astype(np.float64)

    def blur(values: np.ndarray) -> np.ndarray:
        return cv2.GaussianBlur(values, (SSIM_WINDOW_PX, SSIM_WINDOW_PX), SSIM_SIGMA_PX, borderType=cv2.BORDER_REFLECT)

    mean_a, mean_b = blur(a), blur(b)
    variance_a = blur(a * a) - mean_a * mean_a
    variance_b = blur(b * b) - mean_b * mean_b
    covariance = blur(a * b) - mean_a * mean_b
    numerator = (2 * mean_a * mean_b + _SSIM_C1) * (2 * covariance + _SSIM_C2)
    denominator = (mean_a * mean_a + mean_b * mean_b + _SSIM_C1) * (variance_a + variance_b + _SSIM_C2)
    values = numerator / denominator
    return values.mean(axis=2) if values.ndim == 3 else values


def ssim(image_a: np.ndarray, image_b: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Mean SSIM over the frame, or over the mask's pixels; 1.0 for identical images."""
    _check_pair(image_a, image_b, mask)
    values = ssim_map(image_a, image_b)
    return float(values.mean() if mask is None else values[mask].mean())


def keypoint_distance_px(landmarks_a_px: np.ndarray, landmarks_b_px: np.ndarray) -> float:
    """Mean Euclidean (x, y) distance between corresponding landmarks, in pixels (one frame's AKD term)."""
    return float(np.linalg.norm(landmarks_a_px[:, :2] - landmarks_b_px[:, :2], axis=1).mean())


def consecutive_pairs(video_indices: np.ndarray, frame_indices: np.ndarray) -> list[tuple[int, int]]:
    """Positions (k, k + 1) of a time-ordered sequence that are neighbouring frames of one video."""
    return [
        (k, k + 1)
        for k in range(len(frame_indices) - 1)
        if video_indices[k] == video_indices[k + 1] and frame_indices[k + 1] - frame_indices[k] == 1
    ]


def flicker_0_255(images_bgr: np.ndarray, pairs: list[tuple[int, int]]) -> float | None:
    """Mean absolute frame-to-frame change (0..255) over the given pairs; None without pairs."""
    if not pairs:
        return None
    changes = [
        np.abs(images_bgr[second].astype(np.int16) - images_bgr[first].astype(np.int16)).mean()
        for first, second in pairs
    ]
    return float(np.mean(changes))


def nearest_landmark_frames(
    query_px: np.ndarray, candidates_px: np.ndarray, exclude: np.ndarray | None = None
) -> np.ndarray:
    """For each of (Q, 478, 3) query faces, the index into (C, 478, 3) candidates with the smallest
    mean (x, y) landmark distance; `exclude[q]` (a candidate index or -1) is never chosen for query q."""
    if candidates_px.shape[0] == 0:
        raise ValueError("no candidate frames")
    candidates = candidates_px[:, :, :2].astype(np.float32)
    nearest = np.empty(query_px.shape[0], dtype=np.int64)
    for q, query in enumerate(query_px[:, :, :2].astype(np.float32)):
        distances = np.linalg.norm(candidates - query[None], axis=2).mean(axis=1)
        if exclude is not None and exclude[q] >= 0:
            distances[exclude[q]] = np.inf
        if not np.isfinite(distances).any():
            raise ValueError("every candidate frame is excluded")
        nearest[q] = int(np.argmin(distances))
    return nearest


def face_box_grey(image_bgr: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The bounding box of `mask` cut from `image_bgr`, resized to DETAIL_SIZE_PX square, grey float64 0..255."""
    if mask.shape != image_bgr.shape[:2] or not mask.any():
        raise ValueError(f"mask must be a non-empty boolean {image_bgr.shape[:2]} array")
    rows, columns = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    box = image_bgr[rows[0] : rows[-1] + 1, columns[0] : columns[-1] + 1]
    grey = cv2.cvtColor(np.ascontiguousarray(box), cv2.COLOR_BGR2GRAY) if box.ndim == 3 else box
    size = (DETAIL_SIZE_PX, DETAIL_SIZE_PX)
    return cv2.resize(grey.astype(np.float64), size, interpolation=cv2.INTER_AREA)


def face_laplacian_variance(image_bgr: np.ndarray, landmarks_px: np.ndarray | None) -> float:
    """Laplacian variance of the face box of `image_bgr` (the face oval of `landmarks_px`, in its pixels); NaN
    when there is no face (landmarks_px None)."""
    if landmarks_px is None:
        return math.nan
    height_px, width_px = image_bgr.shape[:2]
    mask = face_mask(landmarks_px, max(height_px, width_px))[:height_px, :width_px]
    return laplacian_variance(face_box_grey(image_bgr, mask))


def laplacian_variance(grey: np.ndarray) -> float:
    """Variance of the 3x3 Laplacian of a grey float image (fine detail; 0 for a flat image)."""
    return float(cv2.Laplacian(grey.astype(np.float64), cv2.CV_64F, ksize=1, borderType=cv2.BORDER_REFLECT).var())


def gmsd(grey_a: np.ndarray, grey_b: np.ndarray) -> float:
    """Gradient-magnitude similarity deviation (Xue et al. 2014) of two grey 0..255 images of one shape: both
    averaged over 2x2 and downsampled by 2, Prewitt gradients, GMS = (2 m_a m_b + c) / (m_a^2 + m_b^2 + c) with
    c = GMSD_C; the standard deviation of the GMS map (0: the same edges)."""
    if grey_a.shape != grey_b.shape:
        raise ValueError(f"images differ in shape: {grey_a.shape} vs {grey_b.shape}")

    def magnitude(grey: np.ndarray) -> np.ndarray:
        half = cv2.blur(grey.astype(np.float64), (2, 2), anchor=(0, 0), borderType=cv2.BORDER_REFLECT)[::2, ::2]
        gx = cv2.filter2D(half, cv2.CV_64F, _PREWITT_X, borderType=cv2.BORDER_REFLECT)
        gy = cv2.filter2D(half, cv2.CV_64F, _PREWITT_X.T, borderType=cv2.BORDER_REFLECT)
        return np.sqrt(gx * gx + gy * gy)

    m_a, m_b = magnitude(grey_a), magnitude(grey_b)
    similarity = (2.0 * m_a * m_b + GMSD_C) / (m_a * m_a + m_b * m_b + GMSD_C)
    return float(similarity.std())


def detail_metrics(real_bgr: np.ndarray, output_bgr: np.ndarray, masks: list[np.ndarray]) -> dict[str, float | None]:
    """Fine detail of (N, H, W, 3) outputs against the real frames on each frame's face box (the real frame's
    face mask): the Laplacian-variance ratio output / real (means over the frames) and the mean GMSD."""
    real = [face_box_grey(image, mask) for image, mask in zip(real_bgr, masks)]
    output = [face_box_grey(image, mask) for image, mask in zip(output_bgr, masks)]
    real_variance = float(np.mean([laplacian_variance(grey) for grey in real]))
    output_variance = float(np.mean([laplacian_variance(grey) for grey in output]))
    return {
        "detail_ratio_face": output_variance / real_variance if real_variance > 0 else None,
        "laplacian_variance_face": output_variance,
        "gmsd_face": float(np.mean([gmsd(a, b) for a, b in zip(real, output)])),
    }


DEFINITIONS = {  # what `live eval`'s report calls each figure
    "l1_0_255": "mean absolute difference to the real frame, 0..255 scale",
    "psnr_db": f"PSNR (peak 255) per frame, each capped at {PSNR_CAP_DB:g} dB, averaged over frames",
    "ssim_bgr_mean": "SSIM, 11x11 Gaussian sigma 1.5, per BGR channel averaged; face: mean of the map in the mask",
    "_frame / _face": "whole frame / face region (live.formats.sketch.face_mask of the real frame's landmarks)",
    "akd_px": (
        "mean distance in model pixels between the 478 MediaPipe landmarks of output and real frame "
        "(static_image_mode on both), over akd_frames frames where both have a face"
    ),
    "face_found_rate": "fraction of outputs on which MediaPipe (static_image_mode) finds a face",
    "flicker_0_255": "mean absolute change between consecutive frames (same video); flicker_ratio = output's / real's",
    "detail_ratio_face": (
        f"fine detail kept: Laplacian variance (3x3) of the face box (the face mask's bounding box, "
        f"{DETAIL_SIZE_PX}x{DETAIL_SIZE_PX} grey), output / real, each a mean over frames; 1 = the real detail"
    ),
    "laplacian_variance_face": "the output's mean Laplacian variance of that face box (0..255 grey)",
    "gmsd_face": (
        f"GMSD (Xue et al. 2014) of the face box vs the real one: 2x2 mean, downsampled by 2, Prewitt, "
        f"c={GMSD_C:g}, std of the similarity map; mean over frames, 0 = the same edges"
    ),
    "nearest_frame_baseline": (
        "the training frame whose landmarks (x, y) in the aligned crop are nearest on average, "
        "its crop pasted unchanged at the evaluated frame's crop"
    ),
}
