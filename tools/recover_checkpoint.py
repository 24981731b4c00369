"""Recover a training checkpoint (the generator's weights) from an exported model, to fine-tune it.

    python tools/recover_checkpoint.py models/jwp.onnx OUT.pt
    live train DATASET --out RUN --init-from OUT.pt ...   (the same --ngf; a new discriminator)

`live export` writes the generator in its fast form (live.training.fast_export): every nearest 2x
resize + 3x3 convolution becomes a 2x2 "phases" convolution, and GroupNorm's affine weights become
constants after each normalisation. This undoes both: each 3x3 kernel is the least-squares solution of
the phase weights (exact: 16 equations, 9 unknowns, residual printed), and the affine constants are
taken in graph order (the downsampling norms, then the upsampling ones). The recovered network is
checked against ONNX Runtime on the same inputs before anything is written.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import onnx
import onnxruntime
import torch
from onnx import numpy_helper
from torch import nn

from live.training.fast_export import _phase_weights
from live.training.networks import GeneratorConfig, Uint8Wrapper, UnetGenerator

PREFIX = "generator.generator."


def phase_operator() -> torch.Tensor:
    """(16, 9): a 3x3 kernel (flattened) -> its 2x2 phase weights (flattened), for one channel pair."""
    columns = []
    for tap in range(9):
        conv = nn.Conv2d(1, 1, 3, padding=1, bias=False)
        conv.weight.data.zero_()
        conv.weight.data.view(-1)[tap] = 1.0
        columns.append(_phase_weights(conv).reshape(-1))
    return torch.stack(columns, dim=1).double()


def unphase(phases: torch.Tensor, out_channels: int, in_channels: int) -> tuple[torch.Tensor, float]:
    """The 3x3 weights (O, C, 3, 3) whose phase weights are `phases` (4 * O, C, 2, 2), and the residual."""
    operator = phase_operator()
    rows = phases.reshape(out_channels, 4, in_channels, 2, 2).permute(0, 2, 1, 3, 4)
    rows = rows.reshape(out_channels * in_channels, 16).double()
    kernels = torch.linalg.lstsq(operator, rows.T).solution.T
    residual = float((rows - kernels @ operator.T).abs().max())
    return kernels.reshape(out_channels, in_channels, 3, 3).float(), residual


def affine_constants(model: onnx.ModelProto, tensors: dict[str, torch.Tensor]) -> tuple[list, list]:
    """The normalisations' (weights, biases) in graph order: unnamed initializers fed to Mul and Add."""
    weights, biases = [], []
    for node in model.graph.node:
        for name in node.input:
            if name in tensors and not name.startswith("generator."):
                (weights if node.op_type == "Mul" else biases).append(tensors[name].reshape(-1))
    return weights, biases


def recover(path: Path, config: GeneratorConfig) -> UnetGenerator:
    model = onnx.load(str(path))
    tensors = {item.name: torch.from_numpy(numpy_helper.to_array(item).copy()) for item in model.graph.initializer}
    generator = UnetGenerator(config)
    state = {"stem.weight": tensors[PREFIX + "stem.weight"], "stem.bias": tensors[PREFIX + "stem.bias"]}
    for index in range(len(generator.downs)):
        state[f"downs.{index}.conv.weight"] = tensors[f"{PREFIX}downs.{index}.conv.weight"]
    for index, up in enumerate(generator.ups):
        phases = tensors[f"generator.up_convs.{index}.phases.weight"]
        state[f"ups.{index}.conv.weight"], residual = unphase(phases, up.conv.out_channels, up.conv.in_channels)
        print(f"ups.{index}: residual {residual:.1e}")
    head = generator.head
    state["head.weight"], residual = unphase(
        tensors["generator.head.phases.weight"], head.out_channels, head.in_channels
    )
    state["head.bias"] = tensors["generator.head.phases.bias"][::4].clone()
    print(f"head: residual {residual:.1e}")
    norms = [f"downs.{i}.norm" for i in range(len(generator.downs))] + [
        f"ups.{i}.norm" for i in range(len(generator.ups))
    ]
    weights, biases = affine_constants(model, tensors)
    if len(weights) != len(norms) or len(biases) != len(norms):
        raise SystemExit(f"{path}: {len(weights)} normalisation constants for {len(norms)} norms; another network")
    for name, weight, bias in zip(norms, weights, biases):
        state[f"{name}.weight"], state[f"{name}.bias"] = weight, bias
    state["plate"] = generator.state_dict()["plate"]
    generator.load_state_dict(state)
    return generator.eval()


def largest_difference(path: Path, generator: UnetGenerator) -> int:
    """Max abs difference (0-255) of ONNX Runtime's output and the recovered network's, on random inputs."""
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    random = np.random.default_rng(0)
    size_px = generator.config.size_px
    sketch, plate = (random.integers(0, 256, (1, size_px, size_px, 3), dtype=np.uint8) for _ in range(2))
    expected = session.run(None, {"sketch": sketch, "plate": plate})[0].astype(np.int32)
    with torch.no_grad():
        found = Uint8Wrapper(generator)(torch.from_numpy(sketch), torch.from_numpy(plate))[0].numpy().astype(np.int32)
    return int(np.abs(expected - found).max())


def main(model_path: str, out_path: str, ngf: int = 16) -> int:
    model = onnx.load(model_path, load_external_data=False)
    size_px = int(model.graph.input[0].type.tensor_type.shape.dim[1].dim_value)
    config = GeneratorConfig(size_px=size_px, ngf=ngf, use_plate=True)
    generator = recover(Path(model_path), config)
    difference = largest_difference(Path(model_path), generator)
    print(f"recovered network vs ONNX Runtime: max difference {difference} of 255")
    if difference > 2:
        raise SystemExit("the recovered network does not match the model; nothing written")
    state = {"generator": generator.state_dict(), "discriminator": {}, "step": 0, "generator_config": config.to_dict()}
    torch.save(state, out_path)
    print(f"wrote {out_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:3]))
