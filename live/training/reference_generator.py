"""A generator that moves the target's real pixels: a prototype, measured in docs/experiments.md ("Can the
generator carry the target's real detail?"), not what `live train` builds.

Besides the sketch and the plate it holds K reference crops of the target (training frames chosen for coverage:
neutral, eyes closed, mouth open, teeth, each side turn; choose_references) and their sketches, stored in the
model as buffers. The same small U-Net as live.training.networks reads the sketch beside the K reference sketches
and predicts, as few-shot vid2vid and FOMM do:
- per reference, a flow field at a quarter of the side (bilinearly upsampled; zero at the start, so each
  reference begins unmoved) by which that reference is sampled (grid_sample: ONNX GridSample, opset 16+);
- a synthesised colour image, for what no reference holds;
- one logit per candidate (the K warped references, the synthesised image, the plate); their softmax at each
  pixel blends the candidates.
The signature is UnetGenerator's, forward(sketch, plate) -> image in [-1, 1], so training steps, Uint8Wrapper and
`live eval` take it unchanged.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import torch
import torch.nn.functional as functional
from torch import nn

from live.face.expression import measure_series
from live.training.networks import _Down, _Up

FLOW_SCALE = 0.5  # most a flow moves a pixel, in grid units (2 = the crop's side): a quarter of the crop


@dataclass(frozen=True)
class ReferenceConfig:
    """size_px: square side; ngf: first layer's width; references: K, the reference crops held."""

    size_px: int = 256
    ngf: int = 16
    references: int = 6
    max_channels_factor: int = 8
    coarse_blend: bool = False  # True: the blend logits too at a quarter of the side (soft seams)

    def depth(self) -> int:
        return int(math.log2(self.size_px)) - 2

    def to_dict(self) -> dict:
        return asdict(self)


class ReferenceGenerator(nn.Module):
    """Sketch (+ plate) -> image in [-1, 1], blending K warped reference crops, a synthesised image and the plate."""

    def __init__(
        self,
        config: ReferenceConfig,
        references: torch.Tensor | None = None,
        reference_sketches: torch.Tensor | None = None,
        plate: torch.Tensor | None = None,
    ) -> None:
        super().__init__()
        self.config = config
        size, count, depth = config.size_px, config.references, config.depth()
        channels = [min(config.ngf * 2**level, config.ngf * config.max_channels_factor) for level in range(depth)]
        self.stem = nn.Conv2d(3 * (count + 1), channels[0], 4, stride=2, padding=1)
        self.downs = nn.ModuleList(_Down(channels[i], channels[i + 1]) for i in range(depth - 1))
        self.ups = nn.ModuleList()
        for i in reversed(range(depth - 1)):
            self.ups.append(_Up(channels[i + 1] * (1 if i == depth - 2 else 2), channels[i]))
        self.flow_level = depth - 3  # the decoder level at a quarter of the side
        blend_logits = count + 2  # references, synthesised image, plate
        coarse = blend_logits if config.coarse_blend else 0
        self.flow_head = nn.Conv2d(channels[1] * 2, 2 * count + coarse, 3, padding=1)
        nn.init.zeros_(self.flow_head.weight)
        nn.init.zeros_(self.flow_head.bias)
        self.head = nn.Conv2d(channels[0] * 2, 3 + blend_logits - coarse, 3, padding=1)  # colour (+ logits)
        shape = (count, 3, size, size)
        self.register_buffer("references", _buffer(references, shape))
        self.register_buffer("reference_sketches", _buffer(reference_sketches, shape))
        self.register_buffer("plate", _buffer(plate, (1, 3, size, size)))
        ramp = (torch.arange(size, dtype=torch.float32) + 0.5) * (2.0 / size) - 1.0
        grid = torch.stack(torch.meshgrid(ramp, ramp, indexing="xy"), dim=-1)  # (S, S, 2): x, y
        self.register_buffer("base_grid", grid[None])

    def forward(self, sketch: torch.Tensor, plate: torch.Tensor | None = None) -> torch.Tensor:
        """sketch, plate: (B, 3, S, S) in [-1, 1] (plate None: the stored one)."""
        batch, size, count = sketch.shape[0], self.config.size_px, self.config.references
        reference_sketches = self.reference_sketches.reshape(1, 3 * count, size, size).expand(batch, -1, -1, -1)
        skips = [self.stem(torch.cat([sketch, reference_sketches], dim=1))]
        for down in self.downs:
            skips.append(down(skips[-1]))
        x, flow_features = skips.pop(), None
        for index, up in enumerate(self.ups):
            x = torch.cat([up(x), skips.pop()], dim=1)
            if index == self.flow_level:
                flow_features = x
        coarse = functional.interpolate(
            self.flow_head(functional.relu(flow_features)), size=(size, size), mode="bilinear", align_corners=False
        )
        flow = FLOW_SCALE * torch.tanh(coarse[:, : 2 * count])
        grid = self.base_grid + flow.reshape(batch * count, 2, size, size).permute(0, 2, 3, 1)
        references = self.references[None].expand(batch, -1, -1, -1, -1).reshape(batch * count, 3, size, size)
        warped = functional.grid_sample(references, grid, mode="bilinear", padding_mode="border", align_corners=False)
        self.warped = warped.reshape(batch, count, 3, size, size)  # for a warp loss in training
        x = self.head(functional.interpolate(functional.relu(x), scale_factor=2.0, mode="nearest"))
        logits = coarse[:, 2 * count :] if self.config.coarse_blend else x[:, 3:]
        weights = torch.softmax(logits, dim=1)  # (B, K + 2, S, S): references, synthesised, plate
        plate = self.plate.expand(batch, -1, -1, -1) if plate is None else plate
        candidates = torch.cat(
            [warped.reshape(batch, count, 3, size, size), torch.tanh(x[:, None, :3]), plate[:, None]], dim=1
        )
        return (weights[:, :, None] * candidates).sum(dim=1)


def _buffer(values: torch.Tensor | None, shape: tuple[int, ...]) -> torch.Tensor:
    return torch.zeros(shape) if values is None else values.reshape(shape).float()


def choose_references(landmarks_px: np.ndarray, teeth: np.ndarray, neutral_px: np.ndarray, count: int) -> list[int]:
    """Positions in (N, 478, 3) training landmarks of `count` frames chosen for coverage, in this order: the one
    nearest the neutral face, eyes most closed, mouth most open, most teeth, head turned most to either side,
    pitched most up and down, then the frames farthest from those already chosen; no frame twice."""
    series = measure_series(list(landmarks_px))
    neutral = np.linalg.norm(landmarks_px[:, :, :2] - neutral_px[None, :, :2], axis=2).mean(axis=1)
    orders = [
        neutral,
        series["eye"],
        -series["mouth"],
        -np.asarray(teeth, dtype=np.float64),
        series["yaw"],
        -series["yaw"],
        series["pitch"],
        -series["pitch"],
    ]
    chosen: list[int] = []
    for order in orders:
        if len(chosen) == count:
            return chosen
        ranked = [int(i) for i in np.argsort(np.nan_to_num(order, nan=np.inf), kind="stable") if i not in chosen]
        chosen.append(ranked[0])
    while len(chosen) < min(count, len(landmarks_px)):  # farthest-point fill
        distances = np.stack(
            [np.linalg.norm(landmarks_px[:, :, :2] - landmarks_px[j, None, :, :2], axis=2).mean(axis=1) for j in chosen]
        ).min(axis=0)
        chosen.append(int(np.argmax(distances)))
    return chosen
