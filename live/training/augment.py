"""Augmentation applied identically to sketch, photo and loss weights; face-weighted L1 maps."""

from __future__ import annotations

import math

import cv2
import numpy as np
import torch
import torch.nn.functional as functional

from live.formats.sketch import face_mask


def random_affine(stacked: torch.Tensor, config, random: torch.Generator) -> torch.Tensor:
    """One random small shift/scale/rotation per sample, the same for all channels of that sample.

    `config` has augment_shift (fraction of the side), augment_scale (fraction),
    augment_rotate_deg and flip. Border pixels are replicated.
    """
    batch = stacked.shape[0]
    if not (config.augment_shift or config.augment_scale or config.augment_rotate_deg or config.flip):
        return stacked

    def uniform(limit: float) -> torch.Tensor:
        return (torch.rand(batch, generator=random) * 2 - 1) * limit

    angle = uniform(math.radians(config.augment_rotate_deg))
    scale = 1.0 + uniform(config.augment_scale)
    shift = torch.stack([uniform(config.augment_shift * 2), uniform(config.augment_shift * 2)], dim=1)
    flip = torch.where(torch.rand(batch, generator=random) < 0.5, -1.0, 1.0) if config.flip else torch.ones(batch)
    cosine, sine = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack(
        [
            torch.stack([cosine * flip, -sine, shift[:, 0]], dim=1),
            torch.stack([sine * flip, cosine, shift[:, 1]], dim=1),
        ],
        dim=1,
    )
    grid = functional.affine_grid(theta.to(stacked.device), list(stacked.shape), align_corners=False)
    return functional.grid_sample(stacked, grid, mode="bilinear", padding_mode="border", align_corners=False)


def face_weight_maps(landmarks_px: np.ndarray, size_px: int, face_weight: float) -> torch.Tensor:
    """(N, 1, S, S) L1 weights: `face_weight` inside the face oval (slightly dilated, feathered), 1 elsewhere."""
    maps = np.ones((len(landmarks_px), 1, size_px, size_px), dtype=np.float32)
    if face_weight == 1.0:
        return torch.from_numpy(maps)
    kernel = max(3, size_px // 32) | 1
    for index, landmarks in enumerate(landmarks_px):
        mask = face_mask(landmarks, size_px).astype(np.uint8) * 255
        mask = cv2.GaussianBlur(cv2.dilate(mask, np.ones((kernel, kernel), np.uint8)), (kernel, kernel), 0)
        maps[index, 0] += (face_weight - 1.0) * mask.astype(np.float32) / 255.0
    return torch.from_numpy(maps)
