"""pix2pix networks: a U-Net generator and a 70x70 PatchGAN discriminator.

Kept from pix2pix: the U-Net with skip connections, the PatchGAN, GAN + L1.
Changed for live use (decided before export, so inference is deterministic
and the same at batch size 1 in train and eval mode):
- no dropout anywhere;
- GroupNorm instead of BatchNorm/InstanceNorm: no running statistics, works
  on a 1x1 bottleneck, identical in train and eval mode;
- upsampling by nearest resize + 3x3 convolution instead of transposed
  convolution (no checkerboard artifacts);
- optional background plate: the generator paints RGB plus a mask over a
  fixed plate (the median of the target's training frames), so the still
  background and shirt need not be re-synthesised every frame.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as functional
from torch import nn


@dataclass(frozen=True)
class GeneratorConfig:
    """size_px: square input/output side; ngf: width of the first layer; depth: downsamplings."""

    size_px: int = 256
    ngf: int = 16
    depth: int = 0  # 0 = log2(size_px) - 2 (down to 4x4)
    max_channels_factor: int = 8
    use_plate: bool = True

    def resolved_depth(self) -> int:
        return self.depth or int(math.log2(self.size_px)) - 2

    def to_dict(self) -> dict:
        return asdict(self)


def _norm(channels: int) -> nn.GroupNorm:
    return nn.GroupNorm(min(8, channels // 2) or 1, channels)


class _Down(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, normalise: bool = True) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, 4, stride=2, padding=1, bias=not normalise)
        self.norm = _norm(out_channels) if normalise else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(self.conv(functional.leaky_relu(x, 0.2)))


class _Up(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, normalise: bool = True) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=not normalise)
        self.norm = _norm(out_channels) if normalise else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = functional.interpolate(functional.relu(x), scale_factor=2.0, mode="nearest")
        return self.norm(self.conv(x))


class UnetGenerator(nn.Module):
    """U-Net from a 3-channel sketch in [-1, 1] to a 3-channel image in [-1, 1] (BGR order throughout)."""

    def __init__(self, config: GeneratorConfig, plate: torch.Tensor | None = None) -> None:
        super().__init__()
        self.config = config
        depth = config.resolved_depth()
        channels = [min(config.ngf * 2**level, config.ngf * config.max_channels_factor) for level in range(depth)]
        self.stem = nn.Conv2d(3, channels[0], 4, stride=2, padding=1)
        self.downs = nn.ModuleList(_Down(channels[i], channels[i + 1]) for i in range(depth - 1))
        self.ups = nn.ModuleList()
        for i in reversed(range(depth - 1)):
            in_channels = channels[i + 1] * (1 if i == depth - 2 else 2)
            self.ups.append(_Up(in_channels, channels[i]))
        out_channels = 4 if config.use_plate else 3
        self.head = nn.Conv2d(channels[0] * 2, out_channels, 3, padding=1)
        plate = plate if plate is not None else torch.zeros(1, 3, config.size_px, config.size_px)
        self.register_buffer("plate", plate.reshape(1, 3, config.size_px, config.size_px).float())

    def forward(self, sketch: torch.Tensor, plate: torch.Tensor | None = None) -> torch.Tensor:
        """plate: (B, 3, S, S) to paint over instead of the stored one (training with augmentation
        moves the plate with the frame)."""
        skips = [self.stem(sketch)]
        for down in self.downs:
            skips.append(down(skips[-1]))
        x = skips.pop()
        for up in self.ups:
            x = torch.cat([up(x), skips.pop()], dim=1)
        x = functional.interpolate(functional.relu(x), scale_factor=2.0, mode="nearest")
        x = self.head(x)
        if not self.config.use_plate:
            return torch.tanh(x)
        colour = torch.tanh(x[:, :3])
        mask = torch.sigmoid(x[:, 3:4])
        return mask * colour + (1.0 - mask) * (self.plate if plate is None else plate)


class PatchDiscriminator(nn.Module):
    """70x70 PatchGAN on (sketch, image) pairs; GroupNorm, so it works at batch size 1."""

    def __init__(self, ndf: int = 32, layers: int = 3) -> None:
        super().__init__()
        blocks: list[nn.Module] = [nn.Conv2d(6, ndf, 4, stride=2, padding=1), nn.LeakyReLU(0.2)]
        channels = ndf
        for level in range(1, layers + 1):
            out_channels = ndf * min(2**level, 8)
            stride = 2 if level < layers else 1
            blocks += [
                nn.Conv2d(channels, out_channels, 4, stride=stride, padding=1, bias=False),
                _norm(out_channels),
                nn.LeakyReLU(0.2),
            ]
            channels = out_channels
        blocks.append(nn.Conv2d(channels, 1, 4, stride=1, padding=1))
        self.model = nn.Sequential(*blocks)

    def forward(self, sketch: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        return self.model(torch.cat([sketch, image], dim=1))


class Uint8Wrapper(nn.Module):
    """The exported graph: uint8 (1, H, W, 3) BGR sketch and plate (the background warped into the crop)
    -> uint8 image, plus the float image for parity checks."""

    def __init__(self, generator: UnetGenerator) -> None:
        super().__init__()
        self.generator = generator

    def forward(self, sketch_u8: torch.Tensor, plate_u8: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = sketch_u8.permute(0, 3, 1, 2).float() * (1.0 / 127.5) - 1.0
        plate = plate_u8.permute(0, 3, 1, 2).float() * (1.0 / 127.5) - 1.0
        y = self.generator(x, plate)
        image = ((y + 1.0) * 127.5).round().clamp(0.0, 255.0).to(torch.uint8).permute(0, 2, 3, 1)
        return image, y
