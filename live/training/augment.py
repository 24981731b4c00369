"""Augmentation applied identically to sketch, photo, plate and loss weights; face-weighted L1 maps."""

from __future__ import annotations

import math

import cv2
import numpy as np
import torch
import torch.nn.functional as functional

from live.face.head_plate import HeadPlate, in_plate
from live.formats.sketch import face_mask
from live.training.eye_mixing import EyeMixer


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


def jitter_thetas(batch: int, config, random: torch.Generator) -> torch.Tensor:
    """(B, 2, 3) random crop jitters in the crop's normalised coordinates (output -> input, as affine_grid):
    shift up to config.augment_shift of the side, scale change up to augment_scale, rotation up to
    augment_rotate_deg, optional horizontal flip. The identity when all are 0."""

    def uniform(limit: float) -> torch.Tensor:
        return (torch.rand(batch, generator=random) * 2 - 1) * limit

    angle = uniform(math.radians(config.augment_rotate_deg))
    scale = 1.0 + uniform(config.augment_scale)
    shift = torch.stack([uniform(config.augment_shift * 2), uniform(config.augment_shift * 2)], dim=1)
    flip = torch.where(torch.rand(batch, generator=random) < 0.5, -1.0, 1.0) if config.flip else torch.ones(batch)
    cosine, sine = torch.cos(angle) / scale, torch.sin(angle) / scale
    return torch.stack(
        [
            torch.stack([cosine * flip, -sine, shift[:, 0]], dim=1),
            torch.stack([sine * flip, cosine, shift[:, 1]], dim=1),
        ],
        dim=1,
    )


def _normaliser(size_px: tuple[int, int]) -> torch.Tensor:
    """3x3: pixel coordinates (x, y) -> affine_grid's normalised coordinates (align_corners=False)."""
    width_px, height_px = size_px
    return torch.tensor(
        [[2.0 / width_px, 0.0, 1.0 / width_px - 1.0], [0.0, 2.0 / height_px, 1.0 / height_px - 1.0], [0.0, 0.0, 1.0]],
        dtype=torch.float64,
    )


def _warp(images: torch.Tensor, theta: torch.Tensor, size_px: int, padding: str) -> torch.Tensor:
    grid = functional.affine_grid(
        theta.float().to(images.device), [len(images), images.shape[1], size_px, size_px], False
    )
    return functional.grid_sample(images, grid, mode="bilinear", padding_mode=padding, align_corners=False)


class CropSampler:
    """Training batches cut from the dataset's aligned crops, jittered as a whole: the same jitter moves the
    sketch, the L1 weights, the real crop (taken from the stored context around it, so a shifted crop
    shows real pixels at its border) and the plate (warped from the video's native plate through the
    frame's transform, so the background always matches)."""

    def __init__(self, dataset, indices: np.ndarray, face_weight: float, device: torch.device) -> None:
        self.size_px = dataset.size_px
        self.context_ratio = self.size_px / dataset.manifest.context_px
        self.device = device
        to_float = lambda images: torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2)  # noqa: E731
        self.sketches = to_float(dataset.sketches_bgr[indices]).to(device)
        self.context = to_float(dataset.context_bgr[indices]).to(device)
        self.weights = face_weight_maps(dataset.landmarks_px[indices], self.size_px, face_weight).to(device)
        self.plates = [to_float(plate[None]).to(device) for plate in dataset.plates_bgr]
        self.videos = dataset.video_indices[indices]
        self.sketch_variants = 1
        self.eye_mixer: EyeMixer | None = None  # set by the training run with --mix-eyes
        crop_to_plate = []
        for transform in dataset.transforms[indices]:
            inverse = np.vstack([cv2.invertAffineTransform(transform), [0.0, 0.0, 1.0]])
            crop_to_plate.append(torch.from_numpy(inverse))
        self.crop_to_plate = crop_to_plate
        self.head_plates: list[HeadPlate] = []  # per video, set by use_head_plates
        self.plate_landmarks_px = [in_plate(dataset.landmarks_px[i], dataset.transforms[i]) for i in indices]

    def use_head_plates(self, head_plates: list[HeadPlate]) -> None:
        """Give each frame its video's plate with the head bent onto the frame's own face (live.face.head_plate)."""
        self.head_plates = head_plates

    def __len__(self) -> int:
        return len(self.videos)

    def _sketch_rows(self, frames: torch.Tensor, variants: torch.Tensor | None) -> torch.Tensor:
        return frames if variants is None else frames * self.sketch_variants + variants

    def use_sketch_variants(self, sketches_bgr: np.ndarray) -> None:
        """Draw each frame's sketch from its own variants ((N * V, S, S, 3), frame-major) instead of its one sketch."""
        self.sketch_variants = len(sketches_bgr) // len(self.videos)
        self.sketches = torch.from_numpy(np.ascontiguousarray(sketches_bgr)).permute(0, 3, 1, 2).to(self.device)

    def sample(
        self,
        chosen: torch.Tensor,
        thetas: torch.Tensor,
        variants: torch.Tensor | None = None,
        partners: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, ...]:
        """sketch, real crop, L1 weights, plate crop for the chosen rows under the (B, 2, 3) jitters, in [-1, 1];
        variants: which of each frame's sketch variants (use_sketch_variants) to use; partners: the frames
        whose eyes each row takes (EyeMixer.draw; -1: its own)."""
        size_px = self.size_px
        scale = lambda images: images.float() / 127.5 - 1.0  # noqa: E731
        rows = self._sketch_rows(chosen, variants)
        sketches, context = self.sketches[rows].float(), self.context[chosen].float()
        if partners is not None and self.eye_mixer is not None:
            partner_frames = partners.clamp(min=0)
            sketches, context = self.eye_mixer.blend(
                chosen,
                partners,
                (sketches, self.sketches[self._sketch_rows(partner_frames, variants)].float()),
                (context, self.context[partner_frames].float()),
            )
        sketch = scale(_warp(sketches, thetas, size_px, "zeros"))  # black outside
        weight = _warp(self.weights[chosen], thetas, size_px, "border")
        real = _warp(scale(context), thetas * self.context_ratio, size_px, "border")
        crop_from_normalised = torch.linalg.inv(_normaliser((size_px, size_px)))
        plates = []
        for row, index in enumerate(chosen.tolist()):
            plate = self.plates[int(self.videos[index])]
            if self.head_plates:
                followed = self.head_plates[int(self.videos[index])].follow(self.plate_landmarks_px[index])
                plate = torch.from_numpy(np.ascontiguousarray(followed)).permute(2, 0, 1)[None].to(self.device)
            theta = torch.vstack([thetas[row].double(), torch.tensor([[0.0, 0.0, 1.0]], dtype=torch.float64)])
            to_plate = _normaliser((plate.shape[3], plate.shape[2])) @ self.crop_to_plate[index]
            plates.append(_warp(scale(plate), (to_plate @ crop_from_normalised @ theta)[None, :2], size_px, "border"))
        return sketch, real, weight, torch.cat(plates)
