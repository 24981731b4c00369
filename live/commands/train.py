"""`live train DATASET --out RUN [--ngf N] [--steps N] [--resume]` (needs the `train` extra: torch)."""

from __future__ import annotations

import argparse
from dataclasses import fields

from live.types import UsageError

_DEFAULTS = {
    "ngf": 16, "ndf": 32, "steps": 2000, "batch_size": 1, "learning_rate": 2e-4, "lambda_l1": 100.0, "face_weight": 3.0,
    "checkpoint_every": 200, "keep_last": 3, "sample_every": 200, "seed": 0, "threads": 0,
    "augment_shift": 0.02, "augment_scale": 0.03, "augment_rotate_deg": 2.0,
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dataset", help="a folder made by `live prepare`")
    parser.add_argument("--out", required=True, help="run folder: config.json, checkpoints/, samples/, tensorboard/")
    parser.add_argument("--resume", action="store_true", help="continue the run in --out exactly where its last checkpoint left it")
    for name, default in _DEFAULTS.items():
        parser.add_argument("--" + name.replace("_", "-"), type=type(default), default=default, help=f"(default {default})")
    parser.add_argument("--flip", action="store_true", help="random horizontal flips (off: a fixed scene is not symmetric)")
    parser.add_argument("--no-plate", action="store_true", help="paint the whole frame instead of the person over a background plate")


def run(args: argparse.Namespace) -> int:
    try:
        from live.training.train import TrainConfig, train
    except ImportError as error:
        raise UsageError(f"training needs torch ({error}): pip install 'live[train]'") from error
    names = {field.name for field in fields(TrainConfig)}
    values = {name: getattr(args, name) for name in _DEFAULTS if name in names}
    config = TrainConfig(dataset=args.dataset, out=args.out, flip=args.flip, use_plate=not args.no_plate, **values)
    train(config, resume=args.resume)
    return 0
