"""`live make`'s options, its lines (stdout, and the log), and the checks made before anything is written."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from live.errors import UsageError
from live.formats.dataset import sha256_of_file
from live.offline.make_state import installed_sha256
from live.progress import log_line


@dataclass(frozen=True, slots=True)
class MakeOptions:
    """The checked options of `live make` (live/commands/make.py)."""

    videos: tuple[Path, ...]
    consent: str
    out: Path
    budget_s: float
    size_px: int
    steps: int | None
    driver: Path
    fit_on: Path
    compare: Path
    threads: int
    seed: int
    force: bool

    @property
    def work(self) -> Path:
        return self.out.with_name(self.out.stem + ".make")

    @property
    def log(self) -> Path:
        return self.out.with_name(self.out.stem + ".make.log")

    @property
    def model_name(self) -> str:
        return self.out.name


def say(line: str) -> None:
    """A line of `live make` on stdout, and in its log when stdout is not a terminal."""
    print(line, flush=True)
    log_line(line)


def device_line() -> str:
    """Where training and ONNX Runtime run here, in one line."""
    import onnxruntime

    from live.engines.devices import device_problem
    from live.training.recipe import training_device_line

    has_cuda = "CUDAExecutionProvider" in onnxruntime.get_available_providers()
    problem = device_problem("cuda") if has_cuda else "this onnxruntime has no CUDA provider"
    rendering = "on CUDA" if problem is None else f"on the CPU (CUDA: {problem.split(';')[0]})"
    return f"device: {training_device_line()}; eval and fitting with ONNX Runtime {rendering}"


def check_out(options: MakeOptions) -> None:
    """--out may be replaced only when it is the model the work folder installed there (nothing else is lost)."""
    installed = installed_sha256(options.work)
    if options.out.exists() and (not options.out.is_file() or sha256_of_file(options.out) != installed):
        raise UsageError(f"--out {options.out} exists and was not made by this `live make`: give another --out")
