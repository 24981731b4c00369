"""A prototype generator that reads real pixels: the U-Net given, beside the sketch, the nearest training crop
moved onto the sketch's landmarks by the mesh warp (live.face.mesh_warp), and blending its painted colour, that
warped reference and the plate by a per-pixel softmax. Not used by `live train`; trained for a wall-clock
budget beside the plain U-Net to compare them:

`python -m live.training.warped_reference DATASET OUT --generator warped|unet --minutes 20 --threads 1`

Training pairs each training frame with the nearest other training frame by landmarks at least
NEIGHBOUR_GAP_FRAMES away in its video (a near copy would teach it to copy), warped onto the frame's own
landmarks once, then jittered with the frame's crop. At run time the nearest training frame of the
retargeted landmarks would be the reference. OUT/generator.pt holds the weights and the pairs; OUT/budget.json
the run's figures. tools/warped_reference_check.py scores it on the held-out frames.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as functional
from torch import nn

from live.face.mesh_warp import MeshWarp
from live.formats.dataset import Dataset, load_dataset
from live.training.batches import Batch, Batches
from live.training.config import TrainConfig
from live.training.networks import GeneratorConfig, UnetGenerator
from live.training.reference_train import prototype_config, prototype_run, save_prototype, train_within
from live.training.train import _to_tensor, _train_step, background_plate, generator_config_for

NEIGHBOUR_GAP_FRAMES = 10
GENERATORS = ("warped", "unet")


def nearest_references(dataset: Dataset, queries: np.ndarray, gap_frames: int) -> np.ndarray:
    """For each dataset index in `queries`, the training frame (dataset index) whose landmarks are nearest
    (mean x, y distance), excluding frames of its video within gap_frames of it (0: only itself)."""
    train = dataset.indices("train")
    candidates = dataset.landmarks_px[train][:, :, :2].astype(np.float32)
    frame_numbers = np.array([dataset.manifest.frames[i].frame_index for i in range(len(dataset.splits))])
    chosen = np.empty(len(queries), dtype=np.int64)
    for row, query in enumerate(queries):
        distances = np.linalg.norm(candidates - dataset.landmarks_px[query][None, :, :2], axis=2).mean(axis=1)
        same_video = dataset.video_indices[train] == dataset.video_indices[query]
        near = np.abs(frame_numbers[train] - frame_numbers[query]) <= gap_frames
        distances[same_video & near] = np.inf
        chosen[row] = train[int(np.argmin(distances))]
    return chosen


def warped_references(dataset: Dataset, queries: np.ndarray, references: np.ndarray) -> np.ndarray:
    """(Q, S, S, 3) uint8: each reference's crop moved onto its query's landmarks."""
    size = dataset.size_px
    return np.stack(
        [
            MeshWarp(dataset.landmarks_px[reference], size).warp(
                dataset.images_bgr[reference], dataset.landmarks_px[query]
            )
            for query, reference in zip(queries, references)
        ]
    )


class WarpedReferenceUnet(UnetGenerator):
    """UnetGenerator reading the sketch and the warped reference (6 channels); its head gives a colour and three
    logits whose softmax blends colour, reference and plate. `reference` is set before each forward."""

    def __init__(self, config: GeneratorConfig, plate: torch.Tensor | None = None) -> None:
        super().__init__(config, plate)
        self.stem = nn.Conv2d(6, self.stem.out_channels, 4, stride=2, padding=1)
        self.head = nn.Conv2d(self.head.in_channels, 6, 3, padding=1)
        self.reference: torch.Tensor | None = None
        self.blend: torch.Tensor | None = None  # the last forward's weights, for looking at

    def forward(self, sketch: torch.Tensor, plate: torch.Tensor | None = None) -> torch.Tensor:
        if self.reference is None or self.reference.shape[0] != sketch.shape[0]:
            raise ValueError("set .reference to the (B, 3, S, S) warped references of this batch first")
        skips = [self.stem(torch.cat([sketch, self.reference], dim=1))]
        for down in self.downs:
            skips.append(down(skips[-1]))
        x = skips.pop()
        for up in self.ups:
            x = torch.cat([up(x), skips.pop()], dim=1)
        x = self.head(functional.interpolate(functional.relu(x), scale_factor=2.0, mode="nearest"))
        self.blend = torch.softmax(x[:, 3:6], dim=1)
        plate = self.plate.expand_as(sketch) if plate is None else plate
        sources = torch.stack([torch.tanh(x[:, :3]), self.reference, plate], dim=1)
        return (self.blend[:, :, None] * sources).sum(dim=1)


class ReferenceBatches(Batches):
    """Batches (the same frames, jitter and random sequence) that also jitter each frame's warped reference with
    its crop and set it on the generator."""

    def __init__(self, run, references_bgr: np.ndarray) -> None:
        super().__init__(run)
        self.references = torch.from_numpy(np.ascontiguousarray(references_bgr)).permute(0, 3, 1, 2)
        self._drawn: tuple[torch.Tensor, torch.Tensor] | None = None
        crop_sample = self.sampler.sample

        def drawing(chosen: torch.Tensor, thetas: torch.Tensor, *rest):
            self._drawn = (chosen, thetas)
            return crop_sample(chosen, thetas, *rest)

        self.sampler.sample = drawing

    def sample(self, run) -> Batch:
        batch = super().sample(run)
        chosen, thetas = self._drawn
        size = run.dataset.size_px
        grid = functional.affine_grid(thetas.float(), [len(chosen), 3, size, size], align_corners=False)
        reference = self.references[chosen].float() / 127.5 - 1.0
        run.generator.reference = functional.grid_sample(reference, grid, padding_mode="border", align_corners=False)
        return batch


def train_for(config: TrainConfig, kind: str, budget_s: float) -> dict:
    """Train a `kind` generator for budget_s seconds of wall clock (learning rate constant for the first half,
    then falling linearly to 0); write OUT/generator.pt and OUT/budget.json."""
    dataset = load_dataset(Path(config.dataset))
    torch.manual_seed(config.seed)
    train = dataset.indices("train")
    pairs = nearest_references(dataset, train, NEIGHBOUR_GAP_FRAMES)
    network = WarpedReferenceUnet if kind == "warped" else UnetGenerator
    generator = network(generator_config_for(config, dataset.size_px), background_plate(dataset))
    run = prototype_run(config, dataset, generator)
    batches = ReferenceBatches(run, warped_references(dataset, train, pairs))  # (the U-Net ignores the references)
    scaler = torch.amp.GradScaler("cpu", enabled=False)
    figures = train_within(run, lambda: _train_step(run, batches, scaler), budget_s)
    return save_prototype(run, kind, figures, gap_frames=NEIGHBOUR_GAP_FRAMES)


def load_generator(path: Path) -> tuple[str, nn.Module]:
    """The kind and the generator (eval mode) written by train_for."""
    state = torch.load(path / "generator.pt", weights_only=False)
    network = WarpedReferenceUnet if state["kind"] == "warped" else UnetGenerator
    generator = network(GeneratorConfig(**state["generator_config"]))
    generator.load_state_dict(state["generator"])
    return state["kind"], generator.eval()


def generate(generator: nn.Module, sketches_bgr: np.ndarray, plates_bgr: np.ndarray, references_bgr=None) -> np.ndarray:
    """(N, S, S, 3) uint8 generated crops (references_bgr: the warped references, for the warped kind)."""
    device = torch.device("cpu")
    if isinstance(generator, WarpedReferenceUnet):
        generator.reference = _to_tensor(np.ascontiguousarray(references_bgr), device)
    with torch.no_grad():
        fake = generator(_to_tensor(sketches_bgr, device), _to_tensor(plates_bgr, device))
    return ((fake.permute(0, 2, 3, 1).numpy() + 1) * 127.5).round().clip(0, 255).astype(np.uint8)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset")
    parser.add_argument("out")
    parser.add_argument("--generator", choices=GENERATORS, required=True)
    parser.add_argument("--minutes", type=float, required=True)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    config = prototype_config(args.dataset, args.out, args.threads)
    print(json.dumps(train_for(config, args.generator, args.minutes * 60.0), indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
