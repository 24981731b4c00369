"""A training run's state: what a checkpoint holds, and restoring it exactly (--resume)."""

from __future__ import annotations

import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from live.errors import UsageError
from live.formats.dataset import Dataset
from live.training.checkpoints import load_checkpoint
from live.training.config import TrainConfig
from live.training.distributed import unwrap


@dataclass
class TrainingRun:
    """The networks, optimisers and sampling state of one process's training run."""

    config: TrainConfig
    dataset: Dataset
    generator: torch.nn.Module
    discriminator: torch.nn.Module
    generator_optimizer: torch.optim.Optimizer
    discriminator_optimizer: torch.optim.Optimizer
    schedulers: list
    random: torch.Generator
    device: torch.device
    rank: int
    world_size: int
    step: int = 0


def training_state(run: TrainingRun, random_states: list[torch.Tensor]) -> dict:
    """Everything a checkpoint holds to continue the run exactly."""
    return {
        "step": run.step,
        "config": asdict(run.config),
        "generator_config": unwrap(run.generator).config.to_dict(),
        "generator": unwrap(run.generator).state_dict(),
        "discriminator": unwrap(run.discriminator).state_dict(),
        "generator_optimizer": run.generator_optimizer.state_dict(),
        "discriminator_optimizer": run.discriminator_optimizer.state_dict(),
        "schedulers": [scheduler.state_dict() for scheduler in run.schedulers],
        "random_per_rank": random_states,
        "torch_random": torch.get_rng_state(),
    }


# What --resume reads beyond the generator (training_state writes them all).
RESUME_KEYS = (
    "discriminator",
    "generator_optimizer",
    "discriminator_optimizer",
    "schedulers",
    "random_per_rank",
    "torch_random",
)
# Settings that may change between an interrupted run and its --resume.
RESUMABLE_CHANGES = ("out", "dataset", "threads", "checkpoint_every", "sample_every", "keep_last", "steps")


def _check_same_settings(config: TrainConfig, saved: dict, path: Path) -> None:
    """--resume continues exactly only with the run's own settings: refuse others, naming them."""
    current = asdict(config)
    changed = [
        f"--{key.replace('_', '-')} {current[key]} (the run has {saved[key]})"
        for key in current
        if key not in RESUMABLE_CHANGES and key in saved and saved[key] != current[key]
    ]
    if Path(saved.get("dataset", config.dataset)).resolve() != Path(config.dataset).resolve():
        changed.append(f"dataset {config.dataset} (the run has {saved['dataset']})")
    if saved.get("steps", config.steps) != config.steps:
        print(
            f"note: --steps {config.steps} (the run had {saved['steps']}): "
            "the learning-rate decay now follows the new length",
            file=sys.stderr,
        )
    if changed:
        raise UsageError(
            f"--resume with other settings than {path.parent.parent}/config.json: {'; '.join(changed)}: "
            "repeat the run's settings"
        )


def _load_same_architecture(run: TrainingRun, path: Path, what: str, fix: str) -> dict:
    """The checkpoint at path, refused in one line (what ... fix) when its generator is another architecture."""
    state = load_checkpoint(path)
    expected = unwrap(run.generator).config.to_dict()
    if state.get("generator_config") != expected:
        raise UsageError(
            f"{what} of another architecture ({state.get('generator_config')}, this run is {expected}): {fix}"
        )
    return state


def restore(run: TrainingRun, path: Path) -> None:
    """Load a checkpoint into the run, refusing one of other settings or another architecture."""
    state = _load_same_architecture(run, path, f"{path} is a checkpoint", "use a new --out or the same settings")
    if missing := [key for key in RESUME_KEYS if key not in state]:
        raise UsageError(f"{path} cannot be resumed (it lacks {', '.join(missing)}): delete it to use the one before")
    _check_same_settings(run.config, state.get("config", {}), path)
    try:
        unwrap(run.generator).load_state_dict(state["generator"])
        unwrap(run.discriminator).load_state_dict(state["discriminator"])
    except RuntimeError as error:
        raise UsageError(f"{path} does not fit this network ({str(error).splitlines()[0]}): use a new --out") from error
    run.generator_optimizer.load_state_dict(state["generator_optimizer"])
    run.discriminator_optimizer.load_state_dict(state["discriminator_optimizer"])
    for scheduler, scheduler_state in zip(run.schedulers, state["schedulers"]):
        scheduler.load_state_dict(scheduler_state)
    run.step = int(state["step"])
    random_states = state["random_per_rank"]
    if len(random_states) == run.world_size:
        run.random.set_state(random_states[run.rank])
    else:  # another number of processes: a fresh, distinct stream per rank
        run.random.manual_seed(run.config.seed * 1000 + run.rank + 7919 * run.step)
    torch.set_rng_state(state["torch_random"])


def initialise_from(run: TrainingRun, path: Path) -> str:
    """Start a new run from another run's weights (--init-from): same architecture, this run's settings,
    fresh optimisers and step 0. The discriminator is taken too when it has the same layers. Says what it took."""
    if not path.is_file():
        raise UsageError(f"--init-from {path}: no such checkpoint; give a RUN/checkpoints/step_N.pt file")
    state = _load_same_architecture(
        run, path, f"--init-from {path}: a generator", "give the same --ngf and a dataset of the same --size"
    )
    unwrap(run.generator).load_state_dict(state["generator"])
    try:
        unwrap(run.discriminator).load_state_dict(state["discriminator"])
    except RuntimeError:
        return f"generator from {path} (step {state['step']}); its discriminator has other layers: a new one"
    return f"generator and discriminator from {path} (step {state['step']})"
