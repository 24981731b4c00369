"""The exported (phase-upsampling) form of the U-Net computes the same function as the trained network."""

from __future__ import annotations

from pathlib import Path

import onnx
import pytest
import torch
from torch import nn

from live.training.fast_export import InferenceUnet, PhaseUpsampleConv
from live.training.networks import GeneratorConfig, UnetGenerator


@pytest.mark.parametrize("bias", [True, False])
def test_phase_conv_equals_resize_then_conv(bias: bool) -> None:
    torch.manual_seed(1)
    conv = nn.Conv2d(6, 5, 3, padding=1, bias=bias)
    x = torch.randn(2, 6, 7, 9)
    expected = conv(nn.functional.interpolate(x, scale_factor=2.0, mode="nearest"))
    with torch.no_grad():
        actual = PhaseUpsampleConv(conv)(x)
    assert actual.shape == expected.shape == (2, 5, 14, 18)
    assert torch.allclose(actual, expected, atol=1e-5)


def test_phase_conv_refuses_other_convolutions() -> None:
    with pytest.raises(ValueError, match="3x3 convolution with padding 1"):
        PhaseUpsampleConv(nn.Conv2d(4, 4, 3, padding=0))


@pytest.mark.parametrize(
    "config",
    [
        GeneratorConfig(size_px=64, ngf=4),
        GeneratorConfig(size_px=128, ngf=8, use_plate=False),
        GeneratorConfig(size_px=256, ngf=16),
    ],
)
def test_inference_unet_equals_the_generator(config: GeneratorConfig) -> None:
    torch.manual_seed(2)
    generator = UnetGenerator(config, plate=torch.rand(1, 3, config.size_px, config.size_px) * 2 - 1).eval()
    for parameter in generator.parameters():  # trained-like weights: not the near-zero initial norms
        parameter.data.normal_(0.0, 0.1)
    sketch = torch.rand(1, 3, config.size_px, config.size_px) * 2 - 1
    with torch.no_grad():
        assert (InferenceUnet(generator)(sketch) - generator(sketch)).abs().max().item() < 1e-5


def test_export_writes_the_resize_free_form(tiny_model_path: Path) -> None:
    """export_onnx writes the phase form (no Resize at all) and its parity check passed against the original network."""
    operators = {node.op_type for node in onnx.load(str(tiny_model_path)).graph.node}
    assert "Resize" not in operators and "ConvTranspose" in operators
