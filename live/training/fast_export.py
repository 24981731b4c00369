"""The form of a trained U-Net that is exported: the same function, computed faster on a CPU.

Every upsampling step of the generator is a nearest 2x resize followed by a 3x3 convolution
(padding 1). Each output pixel of that pair depends only on a 2x2 window of the low-resolution
input, with one set of 2x2 weights per output phase (row and column parity). So the pair equals,
exactly (up to float rounding):

    a 2x2 convolution (padding 1) at the low resolution, giving the 4 phases as 4x the channels,
    then a fixed depthwise 2x2 transposed convolution (stride 2, padding 1) that puts each phase
    at its pixels.

That is 4/9 of the multiply-adds, no full-resolution resize, and the output channels of the
final layer (4 phases x 4 channels = 16) fill ONNX Runtime's 16-wide NCHWc blocks instead of
4 of them. On the 2-core development Xeon (1 ORT thread, runs interleaved) the shipped 256 px
ngf 16 avatar went from 22.4 to 11.1 ms per frame, with the same `live eval` figures (PSNR,
SSIM, AKD, flicker). The weights are rearranged from the trained ones, so no retraining is
involved, and export_onnx checks ONNX Runtime's output against the original network as before.
"""

from __future__ import annotations

import torch
import torch.nn.functional as functional
from torch import nn

from live.training.networks import UnetGenerator


def _phase_weights(conv: nn.Conv2d) -> torch.Tensor:
    """(4 * O, C, 2, 2) weights: for output channel o and phase (a, b), at index o * 4 + a * 2 + b, the
    3x3 kernel's taps summed onto the 2x2 low-resolution window that phase reads."""
    weight = conv.weight.detach()
    out_channels, in_channels = weight.shape[:2]
    phases = torch.zeros(out_channels, 4, in_channels, 2, 2, dtype=weight.dtype)
    for row_phase in range(2):
        for column_phase in range(2):
            for dy in (-1, 0, 1):
                tap_row = (row_phase + dy) // 2 + 1 - row_phase
                for dx in (-1, 0, 1):
                    tap_column = (column_phase + dx) // 2 + 1 - column_phase
                    phases[:, row_phase * 2 + column_phase, :, tap_row, tap_column] += weight[:, :, dy + 1, dx + 1]
    return phases.reshape(out_channels * 4, in_channels, 2, 2)


class PhaseUpsampleConv(nn.Module):
    """`conv(nearest_upsample_2x(x))` for a 3x3, stride 1, padding 1 convolution, computed at x's resolution."""

    def __init__(self, conv: nn.Conv2d) -> None:
        super().__init__()
        if (
            conv.kernel_size != (3, 3)
            or conv.stride != (1, 1)
            or conv.padding != (1, 1)
            or conv.dilation != (1, 1)
            or conv.groups != 1
        ):
            raise ValueError(f"PhaseUpsampleConv needs a plain 3x3 convolution with padding 1, not {conv}")
        out_channels = conv.out_channels
        self.phases = nn.Conv2d(conv.in_channels, 4 * out_channels, 2, padding=1, bias=conv.bias is not None)
        self.phases.weight.data.copy_(_phase_weights(conv))
        if conv.bias is not None:
            self.phases.bias.data.copy_(conv.bias.detach().repeat_interleave(4))
        # Phase (a, b) of the (H+1, W+1) grid lands on output pixel (2p - a, 2q - b): tap (1 - a, 1 - b).
        self.spread = nn.ConvTranspose2d(
            4 * out_channels, out_channels, 2, stride=2, padding=1, groups=out_channels, bias=False
        )
        spread = torch.zeros(4 * out_channels, 1, 2, 2)
        for row_phase in range(2):
            for column_phase in range(2):
                spread[row_phase * 2 + column_phase :: 4, 0, 1 - row_phase, 1 - column_phase] = 1.0
        self.spread.weight.data.copy_(spread)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.spread(self.phases(x))


class InferenceUnet(nn.Module):
    """The same function as `generator` (live.training.networks.UnetGenerator), with every
    resize + convolution replaced by a PhaseUpsampleConv. For export only (eval mode)."""

    def __init__(self, generator: UnetGenerator) -> None:
        super().__init__()
        self.generator = generator.eval()
        self.up_convs = nn.ModuleList(PhaseUpsampleConv(up.conv) for up in generator.ups)
        self.head = PhaseUpsampleConv(generator.head)

    def forward(self, sketch: torch.Tensor, plate: torch.Tensor | None = None) -> torch.Tensor:
        generator = self.generator
        skips = [generator.stem(sketch)]
        for down in generator.downs:
            skips.append(down(skips[-1]))
        x = skips.pop()
        for up, conv in zip(generator.ups, self.up_convs):
            x = torch.cat([up.norm(conv(functional.relu(x))), skips.pop()], dim=1)
        x = self.head(functional.relu(x))
        if not generator.config.use_plate:
            return torch.tanh(x)
        colour = torch.tanh(x[:, :3])
        # plate + mask * (colour - plate), the mask spread over the 3 channels first: ONNX Runtime moves this
        # arithmetic behind the output's NHWC transpose, where broadcasting a (1, H, W, 1) mask over 3 channels
        # is far slower than an elementwise pass of equal shapes (same uint8 output; docs/performance.md).
        mask = torch.sigmoid(x[:, 3:4]).expand(-1, 3, -1, -1)
        plate = generator.plate if plate is None else plate
        return plate + mask * (colour - plate)
