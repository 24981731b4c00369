"""Atomic checkpoints: temporary file + rename, keep the last K, load with weights_only=True."""

from __future__ import annotations

import os
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


def load_checkpoint(path: Path) -> dict:
    """Load a checkpoint safely (tensors and plain containers only)."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, EOFError, OSError) as error:
        raise UsageError(
            f"cannot load checkpoint {path} ({str(error).splitlines()[0]}): delete it to resume from the previous one"
        ) from error


def latest_checkpoint(folder: Path) -> Path | None:
    """The newest complete checkpoint in a folder, or None."""
    found = list_checkpoints(folder)
    return found[-1] if found else None
