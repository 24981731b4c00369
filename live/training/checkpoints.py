"""Atomic checkpoints: temporary file + rename, keep the last K, load with weights_only=True."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import torch

from live.errors import UsageError

CHECKPOINT_GLOB = "step_*.pt"


def checkpoint_path(folder: Path, step: int) -> Path:
    return folder / f"step_{step:08d}.pt"


def save_checkpoint(folder: Path, step: int, state: dict, keep_last: int) -> Path:
    """Write `state` for `step` atomically and delete all but the newest `keep_last` checkpoints."""
    folder.mkdir(parents=True, exist_ok=True)
    path = checkpoint_path(folder, step)
    temporary = path.with_name(path.name + ".partial")
    torch.save(state, temporary)
    with open(temporary, "rb") as handle:
        os.fsync(handle.fileno())
    os.replace(temporary, path)
    for old in list_checkpoints(folder)[:-keep_last]:
        old.unlink(missing_ok=True)
    return path


def list_checkpoints(folder: Path) -> list[Path]:
    """Complete checkpoints, oldest first (partial files are never listed)."""
    return sorted(folder.glob(CHECKPOINT_GLOB)) if folder.is_dir() else []


# What every checkpoint of `live train` holds (run_state.training_state); export reads these.
CHECKPOINT_KEYS = ("step", "generator_config", "generator")  # what --init-from needs; export also reads "config"


def load_error_reason(error: BaseException, most_characters: int = 160) -> str:
    """Why a checkpoint did not load, in a few words on one line (EOFError() has no message; torch's refusal of
    a pickle is a paragraph that suggests loading it unsafely)."""
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    if isinstance(error, EOFError):
        return "the file ends early: empty or cut short"
    if isinstance(error, pickle.UnpicklingError):
        return "damaged, or holding objects other than tensors and plain containers"
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    reason = f"{type(error).__name__}: {lines[0]}" if lines else type(error).__name__
    return reason if len(reason) <= most_characters else reason[: most_characters - 3] + "..."


def load_checkpoint(path: Path) -> dict:
    """Load a checkpoint safely (tensors and plain containers only); UsageError (one line) for a file that is
    empty, unreadable, damaged or not a checkpoint of `live train`."""
    fix = "delete it to use the run's previous checkpoint, or train again"
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    # torch.load refuses untrusted pickles (weights_only) but any bytes may fail with any error in its unpickler
    # (KeyError, UnpicklingError, ValueError, zip errors, ...): each one means "not a checkpoint".
    except Exception as error:
        raise UsageError(f"cannot load checkpoint {path} ({load_error_reason(error)}): {fix}") from error
    if not isinstance(state, dict):
        raise UsageError(f"{path} is not a checkpoint of `live train` (it holds a {type(state).__name__}): {fix}")
    if missing := [key for key in CHECKPOINT_KEYS if key not in state]:
        raise UsageError(f"{path} is not a checkpoint of `live train` (it lacks {', '.join(missing)}): {fix}")
    return state


def latest_checkpoint(folder: Path) -> Path | None:
    """The newest complete checkpoint in a folder, or None."""
    found = list_checkpoints(folder)
    return found[-1] if found else None
