"""A local discriminator on eye and mouth patches (`live train --local-discriminator W`; 0: off).

pix2pix's PatchGAN judges 70x70 patches of the whole 256 px crop, in which an eye is about 25 px wide,
and the L1 loss lets the generator answer a lid it is unsure of with the blurred average: a closed eye
drawn half open (`live drive-eval --response`). This small PatchGAN (two strided layers, 48 px patches
at 256 px) sees only square patches around each eye and the mouth, the sketch beside the photo. The
patches are centred on the parts' landmarks moved by the same crop jitter as the batch
(live.training.augment). LSGAN; the generator's side is weighted by W against the global GAN loss.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as functional
from torch import nn

from live.face.regions import PART_INDICES
from live.training.networks import PatchDiscriminator

PARTS = ("right_eye", "left_eye", "inner_lips")
PATCH_FRACTION = 0.1875  # of the crop's side: 48 px at 256 px
LOCAL_LAYERS = 2


def part_centres_px(landmarks_px: np.ndarray) -> torch.Tensor:
    """(N, len(PARTS), 2) the centre of each part's landmarks in crop pixels (x, y)."""
    centres = [landmarks_px[:, PART_INDICES[part], :2].mean(axis=1) for part in PARTS]
    return torch.from_numpy(np.stack(centres, axis=1).astype(np.float32))


def jittered_centres_px(centres_px: torch.Tensor, thetas: torch.Tensor, size_px: int) -> torch.Tensor:
    """(B, P, 2) centres moved into the jittered crops: thetas (B, 2, 3) map output to input normalised
    coordinates (affine_grid, align_corners=False), so points go through their inverse."""
    normalised = (2.0 * centres_px + 1.0) / size_px - 1.0
    linear, shift = thetas[:, :, :2].float(), thetas[:, :, 2].float()
    moved = torch.linalg.solve(linear[:, None], (normalised - shift[:, None]).unsqueeze(-1)).squeeze(-1)
    return ((moved + 1.0) * size_px - 1.0) / 2.0


def part_patches(images: torch.Tensor, centres_px: torch.Tensor, patch_px: int) -> torch.Tensor:
    """(B * P, C, patch, patch) square patches around each centre, kept inside the image."""
    size_px = images.shape[-1]
    corners = (centres_px - patch_px / 2).round().long().clamp(0, size_px - patch_px)
    patches = [
        images[row, :, y : y + patch_px, x : x + patch_px]
        for row in range(images.shape[0])
        for x, y in corners[row].tolist()
    ]
    return torch.stack(patches)


class LocalDiscriminator(nn.Module):
    """LSGAN PatchGAN on (sketch, image) patches around the eyes and the mouth."""

    def __init__(self, ndf: int, size_px: int) -> None:
        super().__init__()
        self.patch_px = max(16, int(round(size_px * PATCH_FRACTION)))
        self.network = PatchDiscriminator(ndf, layers=LOCAL_LAYERS)

    def forward(self, sketch: torch.Tensor, image: torch.Tensor, centres_px: torch.Tensor) -> torch.Tensor:
        return self.network(
            part_patches(sketch, centres_px, self.patch_px), part_patches(image, centres_px, self.patch_px)
        )

    def discriminator_loss(
        self, sketch: torch.Tensor, real: torch.Tensor, fake: torch.Tensor, centres_px: torch.Tensor
    ) -> torch.Tensor:
        fake_score = self(sketch, fake.detach(), centres_px)
        real_score = self(sketch, real, centres_px)
        return 0.5 * (
            functional.mse_loss(fake_score, torch.zeros_like(fake_score))
            + functional.mse_loss(real_score, torch.ones_like(real_score))
        )

    def generator_loss(self, sketch: torch.Tensor, fake: torch.Tensor, centres_px: torch.Tensor) -> torch.Tensor:
        score = self(sketch, fake, centres_px)
        return functional.mse_loss(score, torch.ones_like(score))


class WithLocalDiscriminator(nn.Module):
    """The run's discriminator: the global one (its forward) plus `local`, saved and optimised together."""

    def __init__(self, global_discriminator: nn.Module, local: LocalDiscriminator) -> None:
        super().__init__()
        self.global_discriminator = global_discriminator
        self.local = local

    def forward(self, sketch: torch.Tensor, image: torch.Tensor):
        return self.global_discriminator(sketch, image)
