"""Adversarial losses and loss weights that need no downloaded weights.

- `discriminator_scales=1`: pix2pix's 70x70 PatchGAN (live.training.networks), LSGAN.
- `discriminator_scales=2, 3`: pix2pixHD's multi-scale discriminator: PatchGANs on
  the image at full, half (and quarter) size, LSGAN on each, plus discriminator
  feature matching (L1 between the discriminator's features of the real and the
  generated image at every layer and scale, weight `lambda_feature_matching`,
  about 10 in pix2pixHD).
- `expression_weight_maps`: `region_weight` times the L1 weight on the eyes and
  the mouth (their convex hulls, dilated and feathered): the parts that carry
  expression are small, so plain L1 lets the generator average them away.
"""

from __future__ import annotations

import cv2
import numpy as np
import torch
import torch.nn.functional as functional
from torch import nn

from live.face.regions import PART_INDICES
from live.training.networks import PatchDiscriminator, _norm

EXPRESSION_REGIONS = (
    np.union1d(PART_INDICES["right_eye"], PART_INDICES["right_iris"]),
    np.union1d(PART_INDICES["left_eye"], PART_INDICES["left_iris"]),
    np.union1d(PART_INDICES["outer_lips"], PART_INDICES["inner_lips"]),
)


class _FeaturePatchGAN(nn.Module):
    """A PatchGAN on (sketch, image) that returns every layer's output (the last one is the prediction)."""

    def __init__(self, ndf: int, layers: int = 3) -> None:
        super().__init__()
        blocks: list[nn.Module] = [nn.Sequential(nn.Conv2d(6, ndf, 4, stride=2, padding=1), nn.LeakyReLU(0.2))]
        channels = ndf
        for level in range(1, layers + 1):
            out_channels = ndf * min(2**level, 8)
            stride = 2 if level < layers else 1
            conv = nn.Conv2d(channels, out_channels, 4, stride=stride, padding=1, bias=False)
            blocks.append(nn.Sequential(conv, _norm(out_channels), nn.LeakyReLU(0.2)))
            channels = out_channels
        blocks.append(nn.Conv2d(channels, 1, 4, stride=1, padding=1))
        self.blocks = nn.ModuleList(blocks)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        features = []
        for block in self.blocks:
            x = block(x)
            features.append(x)
        return features


class MultiScaleDiscriminator(nn.Module):
    """pix2pixHD's discriminator: one PatchGAN per scale (1, 1/2, 1/4 of the side), each returning its features."""

    def __init__(self, ndf: int = 32, scales: int = 3, layers: int = 3) -> None:
        super().__init__()
        self.scales = nn.ModuleList([_FeaturePatchGAN(ndf, layers) for _ in range(scales)])

    def forward(self, sketch: torch.Tensor, image: torch.Tensor) -> list[list[torch.Tensor]]:
        x = torch.cat([sketch, image], dim=1)
        outputs = []
        for index, discriminator in enumerate(self.scales):
            if index:
                x = functional.avg_pool2d(x, 3, stride=2, padding=1, count_include_pad=False)
            outputs.append(discriminator(x))
        return outputs


def build_discriminator(scales: int, ndf: int) -> nn.Module:
    """TrainConfig.discriminator_scales: 1 = pix2pix's PatchGAN, more = pix2pixHD's multi-scale discriminator."""
    return MultiScaleDiscriminator(ndf, scales) if scales > 1 else PatchDiscriminator(ndf)


def _outputs(discriminator: nn.Module, sketch: torch.Tensor, image: torch.Tensor) -> list[list[torch.Tensor]]:
    """Per scale, the list of layer outputs (the prediction last), whatever the discriminator."""
    outputs = discriminator(sketch, image)
    return outputs if isinstance(outputs, list) else [[outputs]]


def discriminator_loss(
    discriminator: nn.Module, sketch: torch.Tensor, real: torch.Tensor, fake: torch.Tensor
) -> torch.Tensor:
    """LSGAN loss of the discriminator (real -> 1, generated -> 0), averaged over scales."""
    fake_outputs = _outputs(discriminator, sketch, fake.detach())
    real_outputs = _outputs(discriminator, sketch, real)
    losses = [
        0.5 * (functional.mse_loss(f[-1], torch.zeros_like(f[-1])) + functional.mse_loss(r[-1], torch.ones_like(r[-1])))
        for f, r in zip(fake_outputs, real_outputs)
    ]
    return torch.stack(losses).mean()


def generator_adversarial_losses(
    discriminator: nn.Module, sketch: torch.Tensor, real: torch.Tensor, fake: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """(LSGAN loss of the generator, feature-matching L1) averaged over scales (0 for the plain PatchGAN)."""
    fake_outputs = _outputs(discriminator, sketch, fake)
    gan = torch.stack([functional.mse_loss(f[-1], torch.ones_like(f[-1])) for f in fake_outputs]).mean()
    if len(fake_outputs[0]) == 1:
        return gan, torch.zeros((), device=fake.device)
    with torch.no_grad():
        real_outputs = _outputs(discriminator, sketch, real)
    matching = [
        functional.l1_loss(f, r.detach())
        for fs, rs in zip(fake_outputs, real_outputs)
        for f, r in zip(fs[:-1], rs[:-1])
    ]
    return gan, torch.stack(matching).sum() / len(fake_outputs)


def expression_weight_maps(landmarks_px: np.ndarray, size_px: int, region_weight: float) -> torch.Tensor:
    """(N, 1, S, S) factors for the L1 weights: region_weight on the eyes and the mouth (their convex hulls,
    dilated and feathered), 1 elsewhere."""
    maps = np.ones((len(landmarks_px), 1, size_px, size_px), dtype=np.float32)
    if region_weight == 1.0:
        return torch.from_numpy(maps)
    kernel = max(3, size_px // 32) | 1
    for index, landmarks in enumerate(landmarks_px):
        mask = np.zeros((size_px, size_px), dtype=np.uint8)
        for points in EXPRESSION_REGIONS:
            hull = cv2.convexHull(np.rint(landmarks[points, :2]).astype(np.int32))
            cv2.fillConvexPoly(mask, hull, 255)
        mask = cv2.GaussianBlur(cv2.dilate(mask, np.ones((kernel, kernel), np.uint8)), (kernel, kernel), 0)
        maps[index, 0] += (region_weight - 1.0) * mask.astype(np.float32) / 255.0
    return torch.from_numpy(maps)
