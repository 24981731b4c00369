"""Train a generator for a fixed wall-clock budget, for comparing generators on one CPU budget.

`python -m live.training.reference_train DATASET OUT --generator reference|unet --minutes 20 --threads 1`

Both generators go through live.training.train's own step (the same batches, crop jitter, face- and
region-weighted L1, PatchGAN or multi-scale discriminator with feature matching); only the generator differs.
--lambda-warp (reference generator only) uses warp_step instead: the same losses plus warp_loss.
The learning rate holds for the first half of the budget and falls linearly to 0 at its end (as `live train`'s
schedule does over its steps). The generator's weights and config are written to OUT/generator.pt, and the run's
figures (steps, seconds, losses) to OUT/budget.json. Export with live.training.reference_export.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as functional

from live.face.teeth import teeth_shares
from live.formats.dataset import Dataset, load_dataset
from live.training.batches import Batches
from live.training.config import TrainConfig
from live.training.losses import build_discriminator, discriminator_loss, generator_adversarial_losses
from live.training.networks import UnetGenerator
from live.training.reference_generator import ReferenceConfig, ReferenceGenerator, choose_references
from live.training.run_state import TrainingRun
from live.training.train import _to_tensor, _train_step, background_plate, generator_config_for

GENERATORS = ("unet", "reference")
WARP_LEVELS = (1, 4, 16)  # the warp loss compares at full size and averaged over 4x4 and 16x16 pixels


def warp_loss(warped: torch.Tensor, real: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Weighted L1 between every warped reference (B, K, 3, S, S) and the real frame (B, 3, S, S), at full size and
    averaged over coarser blocks (a wide basin, so a flow far off still learns where to go); mean over K."""
    count, size = warped.shape[1], warped.shape[-1]
    flat = warped.reshape(-1, 3, size, size)
    targets = real[:, None].expand(-1, count, -1, -1, -1).reshape(-1, 3, size, size)
    weights = weight[:, None].expand(-1, count, -1, -1, -1).reshape(-1, 1, size, size)
    losses = []
    for level in WARP_LEVELS:
        pool = (lambda x: x) if level == 1 else (lambda x, k=level: functional.avg_pool2d(x, k))
        difference = (pool(flat) - pool(targets)).abs() * pool(weights)
        losses.append(difference.mean() / pool(weights).mean())
    return torch.stack(losses).mean()


def warp_step(run: TrainingRun, batches: Batches, lambda_warp: float) -> dict[str, float]:
    """live.training.train's step (CPU, no local discriminator) plus lambda_warp times warp_loss."""
    sketch, real, weight, plate, _ = batches.sample(run)
    fake = run.generator(sketch, plate)
    d_loss = discriminator_loss(run.discriminator, sketch, real, fake)
    run.discriminator_optimizer.zero_grad(set_to_none=True)
    d_loss.backward()
    run.discriminator_optimizer.step()
    gan_loss, matching_loss = generator_adversarial_losses(run.discriminator, sketch, real, fake)
    l1_loss = (weight * (fake - real).abs()).mean() / weight.mean()
    warping = warp_loss(run.generator.warped, real, weight)
    config = run.config
    loss = (
        gan_loss + config.lambda_feature_matching * matching_loss + config.lambda_l1 * l1_loss + lambda_warp * warping
    )
    run.generator_optimizer.zero_grad(set_to_none=True)
    loss.backward()
    run.generator_optimizer.step()
    run.step += 1
    figures = {"discriminator": d_loss, "gan": gan_loss, "l1": l1_loss, "feature_matching": matching_loss}
    return {f"loss/{key}": value.item() for key, value in (figures | {"warp": warping}).items()}


def reference_generator_for(
    dataset: Dataset, config: TrainConfig, count: int, coarse_blend: bool = False
) -> tuple[ReferenceGenerator, list]:
    """A ReferenceGenerator holding `count` training crops chosen for coverage, and their dataset indices."""
    train = dataset.indices("train")
    neutral_px = np.asarray(dataset.manifest.neutral_landmarks_px, dtype=np.float32)
    teeth = teeth_shares(dataset.images_bgr, dataset.landmarks_px, train)
    chosen = train[choose_references(dataset.landmarks_px[train], teeth, neutral_px, count)]
    device = torch.device("cpu")
    generator = ReferenceGenerator(
        ReferenceConfig(size_px=dataset.size_px, ngf=config.ngf, references=len(chosen), coarse_blend=coarse_blend),
        _to_tensor(np.ascontiguousarray(dataset.images_bgr[chosen]), device),
        _to_tensor(dataset.sketches_bgr[chosen], device),
        background_plate(dataset),
    )
    return generator, [int(i) for i in chosen]


def prototype_run(config: TrainConfig, dataset: Dataset, generator: torch.nn.Module) -> TrainingRun:
    """A CPU TrainingRun of `generator` with the config's discriminator and Adam optimisers."""
    torch.manual_seed(config.seed)
    discriminator = build_discriminator(config.discriminator_scales, config.ndf)
    betas = (config.beta1, 0.999)
    optimizers = [
        torch.optim.Adam(network.parameters(), lr=config.learning_rate, betas=betas)
        for network in (generator, discriminator)
    ]
    random = torch.Generator().manual_seed(config.seed * 1000)
    device = torch.device("cpu")
    return TrainingRun(config, dataset, generator, discriminator, *optimizers, [], random, device, 0, 1)


def prototype_config(dataset: str, out: str, threads: int, discriminator_scales: int = 2) -> TrainConfig:
    """The comparison's recipe: the default avatar's settings (ngf 16, face and region weight 3, crop jitter
    10% / 10% / 3 degrees)."""
    return TrainConfig(
        dataset=dataset,
        out=out,
        ngf=16,
        face_weight=3.0,
        region_weight=3.0,
        discriminator_scales=discriminator_scales,
        augment_shift=0.1,
        augment_scale=0.1,
        augment_rotate_deg=3.0,
        threads=threads,
    )


def train_within(run: TrainingRun, step: Callable[[], dict[str, float]], budget_s: float) -> dict:
    """Call step() until budget_s seconds of wall clock have passed, the learning rate constant for the first
    half and falling linearly to 0 at the end; the run's figures (steps, seconds, threads, parameters, the
    last 100 steps' mean losses)."""
    started_s, history = time.perf_counter(), []
    while (elapsed_s := time.perf_counter() - started_s) < budget_s:
        factor = min(1.0, 2.0 * (1.0 - elapsed_s / budget_s))
        for optimizer in (run.generator_optimizer, run.discriminator_optimizer):
            for group in optimizer.param_groups:
                group["lr"] = run.config.learning_rate * factor
        history.append(step())
    last = history[-100:]
    return {
        "steps": run.step,
        "seconds": round(time.perf_counter() - started_s, 1),
        "threads": torch.get_num_threads(),
        "parameters": sum(parameter.numel() for parameter in run.generator.parameters()),
        "losses_last_100": {key: round(float(np.mean([h[key] for h in last])), 4) for key in last[0]} if last else {},
    }


def save_prototype(run: TrainingRun, kind: str, figures: dict, **extra: object) -> dict:
    """OUT/generator.pt (kind, generator config and weights, the run's config and step, `extra`) and
    OUT/budget.json (kind, the figures, `extra`); the figures written."""
    out = Path(run.config.out)
    out.mkdir(parents=True, exist_ok=True)
    generator = run.generator
    state = {"kind": kind, "generator_config": generator.config.to_dict(), "generator": generator.state_dict()}
    torch.save(state | {"config": asdict(run.config), "step": run.step} | extra, out / "generator.pt")
    written = {"kind": kind, **figures, **extra}
    (out / "budget.json").write_text(json.dumps(written, indent=1) + "\n")
    return written


def train_for(
    config: TrainConfig,
    kind: str,
    budget_s: float,
    references: int = 6,
    lambda_warp: float = 0.0,
    coarse_blend: bool = False,
) -> dict:
    """Train a `kind` generator on config.dataset for budget_s seconds of wall clock; write OUT/generator.pt.
    lambda_warp > 0 (reference generator only): add warp_loss with that weight."""
    dataset = load_dataset(Path(config.dataset))
    torch.manual_seed(config.seed)
    chosen: list[int] = []
    if kind == "reference":
        generator, chosen = reference_generator_for(dataset, config, references, coarse_blend)
    else:
        generator = UnetGenerator(generator_config_for(config, dataset.size_px), background_plate(dataset))
    run = prototype_run(config, dataset, generator)
    batches = Batches(run)
    scaler = torch.amp.GradScaler("cpu", enabled=False)

    def step() -> dict[str, float]:
        return _train_step(run, batches, scaler) if lambda_warp == 0 else warp_step(run, batches, lambda_warp)

    figures = train_within(run, step, budget_s)
    return save_prototype(run, kind, figures, references=chosen, lambda_warp=lambda_warp)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset")
    parser.add_argument("out")
    parser.add_argument("--generator", choices=GENERATORS, required=True)
    parser.add_argument("--minutes", type=float, required=True)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--references", type=int, default=6)
    parser.add_argument("--discriminator-scales", type=int, default=2)
    parser.add_argument("--coarse-blend", action="store_true", help="blend logits at a quarter of the side")
    parser.add_argument("--lambda-warp", type=float, default=0.0, help="weight of the warp loss (reference only)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    config = prototype_config(args.dataset, args.out, args.threads, args.discriminator_scales)
    figures = train_for(
        config, args.generator, args.minutes * 60.0, args.references, args.lambda_warp, args.coarse_blend
    )
    print(json.dumps(figures, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
