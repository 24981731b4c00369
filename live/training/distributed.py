"""One code path for one process and for torchrun: process group, agreed stops, per-rank state."""

from __future__ import annotations

import hashlib
import json
import os
import signal
from pathlib import Path

import torch
import torch.distributed as distributed


def unwrap(module: torch.nn.Module) -> torch.nn.Module:
    """The network inside a DistributedDataParallel wrapper (the module itself when not wrapped)."""
    return getattr(module, "module", module)


def setup_distributed() -> tuple[int, int, torch.device]:
    """(rank, world size, device) from torchrun's environment; joins the process group when there are several."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    device = (
        torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        if torch.cuda.is_available()
        else torch.device("cpu")
    )
    if world_size > 1 and not distributed.is_initialized():
        distributed.init_process_group("nccl" if device.type == "cuda" else "gloo")
    if device.type == "cuda":
        torch.cuda.set_device(device)
    return rank, world_size, device


def gather_random_states(random: torch.Generator, world_size: int) -> list[torch.Tensor]:
    """Every rank's sampling RNG state (a collective call: all ranks must make it)."""
    if world_size == 1:
        return [random.get_state()]
    gathered: list = [None] * world_size
    distributed.all_gather_object(gathered, random.get_state())
    return gathered


def agreed_stop(requested: bool, world_size: int, device: torch.device) -> bool:
    """Stop only when all ranks stop at the same step (a rank leaving alone would hang the others)."""
    if world_size == 1:
        return requested
    flag = torch.tensor([1.0 if requested else 0.0], device=device)
    distributed.all_reduce(flag, op=distributed.ReduceOp.MAX)
    return bool(flag.item() > 0)


def write_rank_digest(generator: torch.nn.Module, rank: int, step: int, out: Path) -> None:
    """Each rank records a digest of its generator weights, so identical replicas can be checked."""
    digest = hashlib.sha256()
    for tensor in unwrap(generator).state_dict().values():
        digest.update(tensor.detach().cpu().numpy().tobytes())
    (out / "ranks").mkdir(parents=True, exist_ok=True)
    (out / "ranks" / f"{rank}.json").write_text(json.dumps({"step": step, "generator_sha256": digest.hexdigest()}))


class StopRequest:
    """SIGINT/SIGTERM ask the loop to stop after the current step; the loop then saves and exits."""

    def __init__(self) -> None:
        self.requested = False
        self._previous: dict = {}

    def __enter__(self) -> StopRequest:
        for signal_number in (signal.SIGINT, signal.SIGTERM):
            self._previous[signal_number] = signal.signal(signal_number, self._handle)
        return self

    def _handle(self, signal_number: int, frame: object) -> None:
        self.requested = True

    def __exit__(self, *exc_info: object) -> None:
        for signal_number, handler in self._previous.items():
            signal.signal(signal_number, handler)
