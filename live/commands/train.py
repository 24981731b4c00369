"""`live train DATASET --out RUN [--steps N] [--resume] ...` (needs the `train` extra: torch).

Every option but the two paths comes from a field of TrainConfig (live/training/config.py), with its default
and help text, so the two cannot disagree. TrainConfig itself imports no torch.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import MISSING, fields
from pathlib import Path

from live.errors import UsageError
from live.progress import progress_log_to
from live.training.config import TrainConfig

INTERRUPTED_EXIT_CODE = 130  # what shells expect after Ctrl-C: `live train ... && live export ...` stops here
_PATH_FIELDS = ("dataset", "out")
TRAIN_LOG_NAME = "train.log"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dataset", help="a folder made by `live prepare`")
    parser.add_argument(
        "--out",
        required=True,
        help="run folder: config.json, checkpoints/, samples/, tensorboard/ (and train.log, the progress lines, when "
        "stdout is not a terminal)",
    )
    parser.add_argument(
        "--resume", action="store_true", help="continue the run in --out exactly where its last checkpoint left it"
    )
    for spec in fields(TrainConfig):
        if spec.name in _PATH_FIELDS:
            continue
        help_text = spec.metadata.get("help", "")
        flag = "--" + spec.name.replace("_", "-")
        if spec.type in (bool, "bool"):
            if spec.default:
                negated = spec.metadata.get("flag") or "--no-" + flag[2:]
                parser.add_argument(negated, dest=spec.name, action="store_false", help=f"off: {help_text}")
            else:
                parser.add_argument(flag, dest=spec.name, action="store_true", help=help_text)
            continue
        kind = {"int": int, "float": float, "str": str}.get(str(spec.type), spec.type)
        suffix = " (with --resume: the run's own)" if spec.name == "steps" else ""
        parser.add_argument(flag, type=kind, default=None, help=f"{help_text} (default {spec.default}){suffix}")


def _run_steps(run_folder: Path) -> int | None:
    """The training length recorded in an existing run's config.json (None without one)."""
    try:
        return int(json.loads((run_folder / "config.json").read_text())["train"]["steps"])
    except FileNotFoundError:
        return None
    except (KeyError, ValueError, TypeError) as error:
        raise UsageError(f"{run_folder}/config.json is damaged ({error!r}): give --steps") from error


def config_from_arguments(args: argparse.Namespace) -> TrainConfig:
    """The TrainConfig the options describe (options left out keep TrainConfig's defaults)."""
    values = {
        spec.name: getattr(args, spec.name)
        for spec in fields(TrainConfig)
        if spec.name not in _PATH_FIELDS and getattr(args, spec.name) is not None
    }
    if "steps" not in values and args.resume and (steps := _run_steps(Path(args.out))) is not None:
        values["steps"] = steps
    missing = [spec.name for spec in fields(TrainConfig) if spec.default is MISSING and spec.name not in _PATH_FIELDS]
    assert not missing, f"TrainConfig fields without a default cannot be options: {missing}"
    return TrainConfig(dataset=args.dataset, out=args.out, **values)


def run(args: argparse.Namespace) -> int:
    config = config_from_arguments(args)
    try:
        from live.training.train import train
    except ImportError as error:
        raise UsageError(f"training needs torch ({error}): pip install 'live[train]'") from error
    with progress_log_to(Path(args.out) / TRAIN_LOG_NAME):  # lines there when stdout is not a terminal
        result = train(config, resume=args.resume)
    if result.interrupted:
        print(
            f"live train: interrupted at step {result.step}/{result.steps}, saved {result.last_checkpoint}; "
            f"continue with: live train {args.dataset} --out {args.out} --resume",
            file=sys.stderr,
        )
        return INTERRUPTED_EXIT_CODE
    return 0
