"""Eye mixing: training pairs whose eyes come from another frame of the same video.

In a short recording the eyes and the mouth move together (the widest mouth of jwp_intro goes with closed
eyes), and the generator learns them together: another person's mouth then moves the avatar's eyes. With
probability `mix_eyes`, a training frame's eye region (both eyes, irises and brows: one hull per side,
dilated and feathered) is replaced, in the sketch and in the real crop alike, by the same region of another
training frame, drawn balanced over expression states (live.face.coverage.sample_weights), so closed eyes
come often and meet every mouth. The crops are aligned on the eye corners (live.face.alignment), so the two
frames' eyes lie within a few pixels of each other; the mask is the union of both frames' regions.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch

from live.face.coverage import sample_weights
from live.face.regions import PART_INDICES
from live.formats.dataset import Dataset

EYE_SIDES = (
    np.concatenate([PART_INDICES["right_eye"], PART_INDICES["right_iris"], PART_INDICES["right_brow"]]),
    np.concatenate([PART_INDICES["left_eye"], PART_INDICES["left_iris"], PART_INDICES["left_brow"]]),
)


def eye_region_masks(landmarks_px: np.ndarray, size_px: int) -> np.ndarray:
    """(N, 1, S, S) float32 in [0, 1]: each frame's eyes and brows (a hull per side), dilated by S/24 and
    feathered over about S/24."""
    masks = np.zeros((len(landmarks_px), 1, size_px, size_px), dtype=np.float32)
    grow_px = max(3, size_px // 24) | 1
    for index, landmarks in enumerate(landmarks_px):
        mask = np.zeros((size_px, size_px), dtype=np.uint8)
        for points in EYE_SIDES:
            cv2.fillConvexPoly(mask, cv2.convexHull(np.rint(landmarks[points, :2]).astype(np.int32)), 255)
        mask = cv2.dilate(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (grow_px, grow_px)))
        masks[index, 0] = cv2.GaussianBlur(mask, (grow_px, grow_px), 0).astype(np.float32) / 255.0
    return masks


class EyeMixer:
    """Draws partners for a batch and blends their eye regions into the batch's sketches and real crops."""

    def __init__(self, landmarks_px: np.ndarray, size_px: int, context_px: int, probability: float) -> None:
        self.probability = probability
        self.masks = torch.from_numpy(eye_region_masks(landmarks_px, size_px))
        self.partner_weights = torch.from_numpy(sample_weights(landmarks_px))
        self.pad_px = (context_px - size_px) // 2  # the context is the crop with this margin, same scale

    @classmethod
    def of_frames(cls, dataset: Dataset, indices: np.ndarray, probability: float) -> EyeMixer:
        """A mixer over these frames of a dataset (rows of the training sampler, in the same order)."""
        return cls(dataset.landmarks_px[indices], dataset.size_px, dataset.manifest.context_px, probability)

    def draw(self, count: int, random: torch.Generator) -> torch.Tensor:
        """(count,) partner frame per row, -1 where the row keeps its own eyes."""
        partners = torch.multinomial(self.partner_weights, count, replacement=True, generator=random)
        mixed = torch.rand(count, generator=random) < self.probability
        return torch.where(mixed, partners, torch.full_like(partners, -1))

    def blend(
        self,
        chosen: torch.Tensor,
        partners: torch.Tensor,
        sketches: tuple[torch.Tensor, torch.Tensor],
        contexts: tuple[torch.Tensor, torch.Tensor],
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The rows' (sketch, context) float tensors with the partners' eye regions blended in, where a
        partner was drawn. sketches / contexts: (own, partner's) images of every row, float."""
        own_sketch, partner_sketch = sketches
        own_context, partner_context = contexts
        use = (partners >= 0).float().view(-1, 1, 1, 1)
        masks = torch.maximum(self.masks[chosen], self.masks[partners.clamp(min=0)]).to(own_sketch.device) * use
        sketch = own_sketch + masks * (partner_sketch - own_sketch)
        pad = self.pad_px
        context_masks = torch.nn.functional.pad(masks, (pad, pad, pad, pad))
        context_masks = context_masks[..., : own_context.shape[2], : own_context.shape[3]]
        context = own_context + context_masks * (partner_context - own_context)
        return sketch, context
