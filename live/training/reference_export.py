"""Export a run of live.training.reference_train to an ONNX model `live eval` and `live run` can load.

`python -m live.training.reference_export RUN OUT.onnx`

The card is built as `live export` builds it (live.training.export_run); the reference generator is written as it
is (opset 17, GridSample), the U-Net by live.training.onnx_export.export_onnx. Both are checked against torch.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from live.formats.card import (
    ModelCard,
    encode_plate,
)
from live.formats.dataset import load_dataset, sha256_of_file
from live.training.export_run import build_card, plate_video, with_training_ranges
from live.training.networks import GeneratorConfig, Uint8Wrapper, UnetGenerator
from live.training.onnx_export import (
    PARITY_TOLERANCE,
    ExportError,
    export_onnx,
    export_uint8_graph,
    parity_difference,
    store_metadata,
)
from live.training.reference_generator import ReferenceConfig, ReferenceGenerator


def load_budget_generator(path: Path) -> tuple[torch.nn.Module, dict]:
    """The generator of OUT/generator.pt (either kind), in eval mode, and the saved state."""
    state = torch.load(path, map_location="cpu", weights_only=False)
    if state["kind"] == "reference":
        generator = ReferenceGenerator(ReferenceConfig(**state["generator_config"]))
    else:
        generator = UnetGenerator(GeneratorConfig(**state["generator_config"]))
    generator.load_state_dict(state["generator"])
    return generator.eval(), state


def export_reference_onnx(
    generator: ReferenceGenerator, card: ModelCard, path: Path, checks: list, plate_base64: str
) -> float:
    """Write the reference generator (uint8 sketch and plate in, as every live model) with its card and plate;
    ExportError when ONNX Runtime differs from torch by PARITY_TOLERANCE or more. The difference."""
    wrapper = Uint8Wrapper(generator.eval()).eval()
    path.parent.mkdir(parents=True, exist_ok=True)
    export_uint8_graph(wrapper, generator.config.size_px, path)
    difference = parity_difference(wrapper, path, checks)
    if difference >= PARITY_TOLERANCE:
        path.unlink()
        raise ExportError(f"ONNX Runtime differs from torch by {difference:.2e}; nothing was written")
    card.metrics["export_parity_max_abs_difference"] = float(f"{difference:.3g}")
    store_metadata(path, card, plate_base64)
    return difference


def export_budget_run(run_folder: Path, out: Path) -> float:
    """Export RUN/generator.pt to `out` with a card as `live export` writes it; the parity difference."""
    generator, state = load_budget_generator(Path(run_folder) / "generator.pt")
    dataset = load_dataset(Path(state["config"]["dataset"]))
    plate_base64, plate_sha256 = encode_plate(dataset.plates_bgr[plate_video(dataset.manifest)])
    manifest_sha256 = sha256_of_file(dataset.path / "manifest.json")
    card = build_card(out.stem, state, dataset.manifest, manifest_sha256, plate_sha256)
    card = with_training_ranges(card, dataset)
    card.architecture["generator"] = f"budget-{state['kind']}"
    card.architecture["parameters"] = sum(parameter.numel() for parameter in generator.parameters())
    card.training["references"] = state.get("references", [])
    checks = [(dataset.sketches_bgr[i], dataset.plate_crop(i)) for i in dataset.indices("val")[:4]]
    with torch.no_grad():
        if state["kind"] == "reference":
            return export_reference_onnx(generator, card, Path(out), checks, plate_base64)
        return export_onnx(generator, card, Path(out), checks, plate_base64)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("out", type=Path)
    args = parser.parse_args(argv)
    print(f"wrote {args.out} (ONNX Runtime vs torch: {export_budget_run(args.run, args.out):.2e})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
