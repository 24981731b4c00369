"""The reference-warping generator prototype: it runs, moves its references by its flow, and exports to ONNX."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import onnx
import onnxruntime
import pytest
import torch
from test_eval import tiny_dataset  # noqa: F401 (fixture)

from live.formats.dataset import load_dataset
from live.training.networks import Uint8Wrapper
from live.training.reference_generator import FLOW_SCALE, ReferenceConfig, ReferenceGenerator, choose_references
from live.training.reference_train import train_for, warp_loss

SIZE_PX = 64
COUNT = 3


def _generator(seed: int = 0, coarse_blend: bool = False) -> ReferenceGenerator:
    torch.manual_seed(seed)
    references = torch.rand(COUNT, 3, SIZE_PX, SIZE_PX) * 2 - 1
    sketches = torch.rand(COUNT, 3, SIZE_PX, SIZE_PX) * 2 - 1
    plate = torch.rand(1, 3, SIZE_PX, SIZE_PX) * 2 - 1
    return ReferenceGenerator(
        ReferenceConfig(size_px=SIZE_PX, ngf=4, references=COUNT, coarse_blend=coarse_blend),
        references,
        sketches,
        plate,
    )


def _choose(generator: ReferenceGenerator, candidate: int) -> None:
    """Make the blend pick one candidate (0..K-1 a reference, K the synthesised image, K+1 the plate) everywhere."""
    with torch.no_grad():
        generator.head.weight.zero_()
        generator.head.bias.zero_()
        generator.head.bias[3 + candidate] = 50.0


@pytest.mark.parametrize("coarse_blend", [False, True])
def test_it_runs_forward_in_range(coarse_blend: bool) -> None:
    generator = _generator(coarse_blend=coarse_blend)
    output = generator(torch.rand(2, 3, SIZE_PX, SIZE_PX) * 2 - 1)
    assert output.shape == (2, 3, SIZE_PX, SIZE_PX)
    assert float(output.abs().max()) <= 1.0


def test_an_untrained_flow_leaves_each_reference_where_it_is() -> None:
    generator = _generator()
    sketch = torch.rand(1, 3, SIZE_PX, SIZE_PX) * 2 - 1
    for candidate in range(COUNT):
        _choose(generator, candidate)
        assert torch.allclose(generator(sketch)[0], generator.references[candidate], atol=1e-5)
    _choose(generator, COUNT + 1)
    assert torch.allclose(generator(sketch)[0], generator.plate[0], atol=1e-5)


def test_the_flow_moves_a_reference_by_whole_pixels() -> None:
    generator = _generator()
    _choose(generator, 1)
    shift_px = 2  # sample 2 pixels to the right: the content moves left
    with torch.no_grad():
        generator.flow_head.bias[2] = math.atanh(shift_px * 2.0 / SIZE_PX / FLOW_SCALE)  # reference 1's x flow
    output = generator(torch.zeros(1, 3, SIZE_PX, SIZE_PX))[0]
    reference = generator.references[1]
    assert torch.allclose(output[:, :, : SIZE_PX - shift_px], reference[:, :, shift_px:], atol=1e-4)
    assert not torch.allclose(output, reference, atol=1e-2)


@pytest.mark.parametrize("coarse_blend", [False, True])
def test_it_exports_to_onnx_with_grid_sample(tmp_path: Path, coarse_blend: bool) -> None:
    generator = _generator(coarse_blend=coarse_blend).eval()
    wrapper = Uint8Wrapper(generator).eval()
    path = tmp_path / "reference.onnx"
    example = torch.zeros(1, SIZE_PX, SIZE_PX, 3, dtype=torch.uint8)
    with torch.no_grad():
        torch.onnx.export(wrapper, (example, example), str(path), opset_version=17, dynamo=False)
    assert "GridSample" in {node.op_type for node in onnx.load(str(path)).graph.node}
    rng = np.random.default_rng(0)
    sketch, plate = (rng.integers(0, 256, (1, SIZE_PX, SIZE_PX, 3), dtype=np.uint8) for _ in range(2))
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [item.name for item in session.get_inputs()]
    _, actual = session.run(None, dict(zip(names, (sketch, plate))))
    with torch.no_grad():
        _, expected = wrapper(torch.from_numpy(sketch), torch.from_numpy(plate))
    assert np.abs(actual - expected.numpy()).max() < 1e-3


def test_references_are_chosen_for_coverage(tiny_dataset: Path) -> None:  # noqa: F811
    dataset = load_dataset(tiny_dataset)
    train = dataset.indices("train")
    landmarks = dataset.landmarks_px[train]
    neutral = np.asarray(dataset.manifest.neutral_landmarks_px, dtype=np.float32)
    teeth = np.zeros(len(train))
    chosen = choose_references(landmarks, teeth, neutral, 5)
    assert len(set(chosen)) == 5
    distances = np.linalg.norm(landmarks[:, :, :2] - neutral[None, :, :2], axis=2).mean(axis=1)
    assert chosen[0] == int(np.argmin(distances))
    mouth = landmarks[:, 14, 1] - landmarks[:, 13, 1]  # inner lips: lower minus upper
    assert mouth[chosen[2]] == pytest.approx(mouth.max(), abs=1.0)


def test_the_warp_loss_is_zero_only_for_references_that_land_on_the_frame() -> None:
    real = torch.rand(2, 3, SIZE_PX, SIZE_PX) * 2 - 1
    weight = torch.ones(2, 1, SIZE_PX, SIZE_PX)
    same = real[:, None].expand(-1, COUNT, -1, -1, -1)
    assert float(warp_loss(same, real, weight)) == 0.0
    shifted = torch.roll(same, 3, dims=-1)
    assert float(warp_loss(shifted, real, weight)) > 0.0


def test_a_short_budget_run_exports_a_model_live_eval_scores(tiny_dataset: Path, tmp_path: Path) -> None:  # noqa: F811
    from live.cli import main
    from live.training.config import TrainConfig
    from live.training.reference_export import export_budget_run

    config = TrainConfig(dataset=str(tiny_dataset), out=str(tmp_path / "run"), ngf=4, ndf=8)
    figures = train_for(config, "reference", budget_s=2.0, references=3, lambda_warp=50.0, coarse_blend=True)
    assert figures["steps"] > 0 and len(figures["references"]) == 3
    model = tmp_path / "reference.onnx"
    assert export_budget_run(tmp_path / "run", model) < 1e-3
    out_json = tmp_path / "eval.json"
    assert main(["eval", str(model), str(tiny_dataset), "--json", str(out_json), "--device", "cpu"]) == 0
    assert "detail_ratio_face" in json.loads(out_json.read_text())["model"]
