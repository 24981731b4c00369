"""The training recipe `live make` runs, the device it trains on, and how long its steps take on this machine.

The recipe follows tools/train_default.sh (the default avatar's): ngf 16, face weight 3, crop jitter 0.1 / 0.1
/ 3 degrees, then two phases, each at a constant learning rate for its first half and decaying linearly to 0
over its second half (TrainConfig.decay_start_fraction):
    main: 70% of the steps at 2e-4, L1 weight 100 (the default's long first run, 8000 steps of 12500);
    mouth: 30% from main's weights at 1e-4, L1 weight 400, eye and mouth L1 weight 10 and the local
        discriminator on eye and mouth patches at 20 (the default's mouth phase, 3000 steps).
The shares come from that recipe's step counts; they were not measured per minute of budget.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from live.training.batches import Batch
from live.training.config import TrainConfig
from live.training.local_discriminator import LocalDiscriminator, WithLocalDiscriminator
from live.training.losses import build_discriminator
from live.training.networks import UnetGenerator
from live.training.run_state import TrainingRun
from live.training.train import _train_step, generator_config_for

COMMON_SETTINGS: dict[str, object] = {
    "ngf": 16,
    "face_weight": 3.0,
    "region_weight": 3.0,
    "augment_shift": 0.1,
    "augment_scale": 0.1,
    "augment_rotate_deg": 3.0,
    "decay_start_fraction": 0.5,
}


@dataclass(frozen=True, slots=True)
class RecipePhase:
    """One training run of the recipe: its name (and folder), its share of the steps, its own settings."""

    name: str
    share: float
    settings: tuple[tuple[str, object], ...]


RECIPE = (
    RecipePhase("main", 0.7, (("learning_rate", 2e-4), ("lambda_l1", 100.0))),
    RecipePhase(
        "mouth",
        0.3,
        (("learning_rate", 1e-4), ("lambda_l1", 400.0), ("region_weight", 10.0), ("local_discriminator", 20.0)),
    ),
)
PROBE_WARMUP_STEPS = 4  # the first steps are slower (measured: 0.58 s against 0.31 s at 256 px)
PROBE_STEPS = 6
PROBE_MOST_S = 8.0  # per recipe phase


def phase_config(phase: RecipePhase, dataset: Path, out: Path, steps: int, threads: int, seed: int) -> TrainConfig:
    """The TrainConfig of one recipe phase (checkpoints every 100 steps; init_from is set by the caller)."""
    settings = {**COMMON_SETTINGS, **dict(phase.settings)}
    return TrainConfig(
        dataset=str(dataset),
        out=str(out),
        steps=steps,
        threads=threads,
        seed=seed,
        checkpoint_every=100,
        sample_every=50,
        **settings,  # type: ignore[arg-type]
    )


def training_device_line() -> str:
    """Where `live train` runs here, in words: the CUDA GPU torch finds, or the CPU and why."""
    if torch.cuda.is_available():
        return f"training on CUDA ({torch.cuda.get_device_name(0)}, found by torch {torch.__version__})"
    reason = "torch was built without CUDA" if torch.version.cuda is None else "torch finds no CUDA GPU"
    return f"training on the CPU, {torch.get_num_threads()} threads ({reason})"


class _RandomBatches:
    """Batches of random tensors of a dataset's shape: what a step costs, without a dataset."""

    def __init__(self, size_px: int, device: torch.device, local: bool) -> None:
        shape = (1, 3, size_px, size_px)
        self.batch = Batch(
            torch.rand(shape, device=device) * 2 - 1,
            torch.rand(shape, device=device) * 2 - 1,
            torch.ones((1, 1, size_px, size_px), device=device),
            torch.rand(shape, device=device) * 2 - 1,
            torch.full((1, 3, 2), size_px / 2, device=device) if local else None,
        )

    def sample(self, run: TrainingRun) -> Batch:
        return self.batch


def _probe_run(config: TrainConfig, size_px: int, device: torch.device) -> TrainingRun:
    generator = UnetGenerator(
        generator_config_for(config, size_px), torch.zeros((1, 3, size_px, size_px), device=device)
    ).to(device)
    discriminator = build_discriminator(config.discriminator_scales, config.ndf)
    if config.local_discriminator > 0:
        discriminator = WithLocalDiscriminator(discriminator, LocalDiscriminator(config.ndf, size_px))
    discriminator = discriminator.to(device)
    optimizers = [torch.optim.Adam(net.parameters(), lr=config.learning_rate) for net in (generator, discriminator)]
    random = torch.Generator().manual_seed(0)
    return TrainingRun(config, None, generator, discriminator, *optimizers, [], random, device, 0, 1)  # type: ignore[arg-type]


def _synchronised(device: torch.device) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter()


def seconds_per_step(config: TrainConfig, size_px: int, slower_than_s: float | None = None) -> float:
    """A short measurement of one training step of `config` on crops of size_px, on random tensors: up to
    PROBE_WARMUP_STEPS untimed steps, then up to PROBE_STEPS timed ones, each part cut short after
    PROBE_MOST_S / 2 (a busy machine: a step of seconds needs no warm-up and few samples); a first step slower
    than slower_than_s ends it there (the time of that step). Leaves torch's random state as it found it."""
    device = torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")
    if config.threads:
        torch.set_num_threads(config.threads)
    random_state = torch.get_rng_state()
    try:
        run = _probe_run(config, size_px, device)
        batches = _RandomBatches(size_px, device, config.local_discriminator > 0)
        scaler = torch.amp.GradScaler(device.type, enabled=device.type == "cuda")
        started_s = _synchronised(device)
        for step in range(PROBE_WARMUP_STEPS):
            _train_step(run, batches, scaler)  # type: ignore[arg-type]
            elapsed_s = _synchronised(device) - started_s
            if step == 0 and slower_than_s is not None and elapsed_s > slower_than_s:
                return elapsed_s
            if elapsed_s > PROBE_MOST_S / 2:
                break
        timed, started_s = 0, _synchronised(device)
        while timed < PROBE_STEPS and (timed == 0 or _synchronised(device) - started_s < PROBE_MOST_S / 2):
            _train_step(run, batches, scaler)  # type: ignore[arg-type]
            timed += 1
        return (_synchronised(device) - started_s) / timed
    finally:
        torch.set_rng_state(random_state)


def recipe_step_seconds(size_px: int, threads: int) -> tuple[float, ...]:
    """Measured seconds per step of each RECIPE phase on crops of size_px."""
    return tuple(
        seconds_per_step(phase_config(phase, Path("."), Path("."), 1000, threads, 0), size_px) for phase in RECIPE
    )


def choose_threads(size_px: int, threads: int) -> tuple[int, tuple[float, ...], str]:
    """(threads, seconds per step of each RECIPE phase, a line saying why): `threads` when given (or on a GPU),
    else the faster of one thread and all of torch's on this machine now (on a busy 2-core machine all cores
    measured ten times slower than one: 2.8 against 0.30 s a step at 256 px)."""
    every = torch.get_num_threads()
    if threads or every == 1 or torch.cuda.is_available():
        return threads, recipe_step_seconds(size_px, threads), ""
    main = RECIPE[0]
    one_s = seconds_per_step(phase_config(main, Path("."), Path("."), 1000, 1, 0), size_px)
    every_s = seconds_per_step(phase_config(main, Path("."), Path("."), 1000, every, 0), size_px, 3 * one_s)
    chosen = 1 if one_s <= every_s else every
    rest = recipe_step_seconds(size_px, chosen)[1:]
    line = f"training threads: {chosen} ({one_s:.3g} s a step with 1 thread, {every_s:.3g} s with {every})"
    return chosen, (min(one_s, every_s), *rest), line


def with_steps(config: TrainConfig, steps: int) -> TrainConfig:
    return replace(config, steps=steps)
