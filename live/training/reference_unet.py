"""The reference generator of `live bench`: pix2pix's `unet_256` (ngf 64), random weights.

A faithful copy of the UnetGenerator of junyanz/pytorch-CycleGAN-and-pix2pix
(models/networks.py): 8 downsamplings by 4x4 stride-2 convolutions, BatchNorm,
LeakyReLU 0.2 down / ReLU up, ConvTranspose2d upsampling, dropout in the three
innermost-but-one blocks (pix2pix trains with dropout on), tanh output. It is
put in eval mode (BatchNorm uses running statistics, dropout is off) and
exported with a float (1, 3, S, S) input, as pix2pix would be served.

Torch is needed, so `live bench` runs this module in a child process
(`python -m live.training.reference_unet OUT.onnx --size-px 256`): torch never enters the
process whose speed and memory are measured, and `live run` never imports it.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from torch import nn

REFERENCE_NGF = 64
REFERENCE_DOWNSAMPLINGS = 8  # unet_256
OPSET_VERSION = 17


class UnetSkipBlock(nn.Module):
    """pix2pix's UnetSkipConnectionBlock: down, the inner block, up; the input concatenated to the output."""

    def __init__(
        self,
        outer_channels: int,
        inner_channels: int,
        input_channels: int | None = None,
        submodule: nn.Module | None = None,
        outermost: bool = False,
        innermost: bool = False,
        use_dropout: bool = False,
    ) -> None:
        super().__init__()
        self.outermost = outermost
        input_channels = input_channels or outer_channels
        down_conv = nn.Conv2d(input_channels, inner_channels, kernel_size=4, stride=2, padding=1, bias=False)
        if outermost:
            up_conv = nn.ConvTranspose2d(inner_channels * 2, outer_channels, kernel_size=4, stride=2, padding=1)
            layers: list[nn.Module] = [down_conv, submodule, nn.ReLU(True), up_conv, nn.Tanh()]  # type: ignore[list-item]
        elif innermost:
            up_conv = nn.ConvTranspose2d(inner_channels, outer_channels, kernel_size=4, stride=2, padding=1, bias=False)
            layers = [nn.LeakyReLU(0.2, True), down_conv, nn.ReLU(True), up_conv, nn.BatchNorm2d(outer_channels)]
        else:
            up_conv = nn.ConvTranspose2d(
                inner_channels * 2, outer_channels, kernel_size=4, stride=2, padding=1, bias=False
            )
            layers = [
                nn.LeakyReLU(0.2, True),
                down_conv,
                nn.BatchNorm2d(inner_channels),
                submodule,  # type: ignore[list-item]
                nn.ReLU(True),
                up_conv,
                nn.BatchNorm2d(outer_channels),
            ]
            layers += [nn.Dropout(0.5)] if use_dropout else []
        self.model = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x) if self.outermost else torch.cat([x, self.model(x)], 1)


def reference_unet(ngf: int = REFERENCE_NGF, downsamplings: int = REFERENCE_DOWNSAMPLINGS) -> nn.Module:
    """pix2pix `UnetGenerator(3, 3, downsamplings, ngf, BatchNorm2d, use_dropout=True)`, in eval mode."""
    block = UnetSkipBlock(ngf * 8, ngf * 8, innermost=True)
    for _ in range(downsamplings - 5):
        block = UnetSkipBlock(ngf * 8, ngf * 8, submodule=block, use_dropout=True)
    block = UnetSkipBlock(ngf * 4, ngf * 8, submodule=block)
    block = UnetSkipBlock(ngf * 2, ngf * 4, submodule=block)
    block = UnetSkipBlock(ngf, ngf * 2, submodule=block)
    return UnetSkipBlock(3, ngf, input_channels=3, submodule=block, outermost=True).eval()


def export_reference(path: Path, size_px: int) -> Path:
    """Write the reference generator (random weights, fixed seed) to `path` as ONNX; input float (1, 3, S, S)."""
    torch.manual_seed(0)
    network = reference_unet()
    example = torch.zeros(1, 3, size_px, size_px)
    with torch.no_grad():
        torch.onnx.export(
            network,
            (example,),
            str(path),
            input_names=["input"],
            output_names=["output"],
            opset_version=OPSET_VERSION,
            dynamo=False,
        )
    return path


def main(argv: list[str] | None = None) -> int:
    """Command line of the child process `live bench` starts."""
    parser = argparse.ArgumentParser(description="export pix2pix unet_256 (ngf 64, random weights) to ONNX")
    parser.add_argument("path", type=Path)
    parser.add_argument("--size-px", type=int, default=256)
    args = parser.parse_args(argv)
    export_reference(args.path, args.size_px)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
