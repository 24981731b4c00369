"""Image and keypoint metrics of `live eval` (numpy and OpenCV only).

Conventions: images are uint8 (H, W, 3) BGR; differences are on the 0..255
scale; a `mask` is a boolean (H, W) face region (None = whole frame).
SSIM is Wang et al.'s, with an 11x11 Gaussian window (sigma 1.5) computed per
BGR channel and averaged over the channels; the region value is the mean of
the SSIM map inside the mask.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

PEAK_VALUE = 255.0
PSNR_CAP_DB = 100.0  # identical images have infinite PSNR; averages over frames use this cap
SSIM_SIGMA_PX = 1.5
SSIM_WINDOW_PX = 11
_SSIM_C1 = (0.01 * PEAK_VALUE) ** 2
_SSIM_C2 = (0.03 * PEAK_VALUE) ** 2


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
    "nearest_frame_baseline": (
        "the training frame whose landmarks (x, y) in the aligned crop are nearest on average, "
        "its crop pasted unchanged at the evaluated frame's crop"
    ),
}
