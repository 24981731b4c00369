"""`live train DATASET --out RUN [--ngf N] [--steps N] [--resume]` (needs the `train` extra: torch)."""

from __future__ import annotations

import argparse
import json
from dataclasses import fields
from pathlib import Path

from live.errors import UsageError

DEFAULT_STEPS = 2000
_DEFAULTS = {
    "ngf": 16,
    "ndf": 32,
    "batch_size": 1,
    "learning_rate": 2e-4,
    "lambda_l1": 100.0,
    "face_weight": 3.0,
    "checkpoint_every": 200,
    "keep_last": 3,
    "sample_every": 200,
    "seed": 0,
    "threads": 0,
    "augment_shift": 0.02,
    "augment_scale": 0.03,
    "augment_rotate_deg": 2.0,
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dataset", help="a folder made by `live prepare`")
    parser.add_argument("--out", required=True, help="run folder: config.json, checkpoints/, samples/, tensorboard/")
    parser.add_argument(
        "--resume", action="store_true", help="continue the run in --out exactly where its last checkpoint left it"
    )
    parser.add_argument(
        "--steps",
        type=int,
        default=None,
        help=f"training length (default {DEFAULT_STEPS}; with --resume, the run's own)",
    )
    for name, default in _DEFAULTS.items():
        parser.add_argument(
            "--" + name.replace("_", "-"), type=type(default), default=default, help=f"(default {default})"
        )
    parser.add_argument(
        "--flip", action="store_true", help="random horizontal flips (off: a fixed scene is not symmetric)"
    )
    parser.add_argument(
        "--no-plate", action="store_true", help="paint the whole frame instead of the person over a background plate"
    )


def _run_steps(run_folder: Path) -> int:
    """The training length recorded in an existing run's config.json (DEFAULT_STEPS without one)."""
    try:
        return int(json.loads((run_folder / "config.json").read_text())["train"]["steps"])
    except FileNotFoundError:
        return DEFAULT_STEPS
    except (KeyError, ValueError, TypeError) as error:
        raise UsageError(f"{run_folder}/config.json is damaged ({error!r}): give --steps") from error


def run(args: argparse.Namespace) -> int:
    try:
        from live.training.train import TrainConfig, train
    except ImportError as error:
        raise UsageError(f"training needs torch ({error}): pip install 'live[train]'") from error
    args.steps = args.steps if args.steps is not None else _run_steps(Path(args.out)) if args.resume else DEFAULT_STEPS
    for name in ("ngf", "ndf", "steps", "batch_size", "checkpoint_every", "keep_last", "sample_every"):
        if getattr(args, name) < 1:
            raise UsageError(f"--{name.replace('_', '-')} {getattr(args, name)}: must be 1 or more")
    if args.learning_rate <= 0 or args.lambda_l1 < 0 or args.face_weight < 1 or args.threads < 0:
        raise UsageError("--learning-rate must be > 0, --lambda-l1 >= 0, --face-weight >= 1 and --threads >= 0")
    names = {field.name for field in fields(TrainConfig)}
    values = {name: getattr(args, name) for name in _DEFAULTS if name in names}
    config = TrainConfig(
        dataset=args.dataset, out=args.out, steps=args.steps, flip=args.flip, use_plate=not args.no_plate, **values
    )
    train(config, resume=args.resume)
    return 0
