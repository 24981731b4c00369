"""`live make`'s training: the recipe's phases (live.training.recipe) in a given time or a given number of steps,
continued where it stopped after Ctrl-C.

Each phase trains in two calls of `train`: its first half at a constant learning rate, then its second half,
the rate decaying linearly to 0. With a time, the phase's length is re-estimated before every step of the first
half from a smoothed rate of the steps so far (live.progress.SmoothedRate) and the time left; it is fixed when
the first half ends (length = twice that step), so the decay is whole. Changing the length only moves the end
of the constant part, which has already run as it would have. With `steps`, every length is fixed from the
start and the result is the same as an uninterrupted run of the same command, bit for bit.

FOLDER/recipe.json records, per phase, its fixed length, where its decay starts and whether it is done,
and the measured seconds per step; it is replaced whole after every change.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from rich.console import Console

from live.errors import UsageError
from live.formats.replacing import replacing
from live.progress import SmoothedRate, progress_prefix
from live.training.checkpoints import latest_checkpoint
from live.training.config import TrainConfig
from live.training.recipe import RECIPE, phase_config
from live.training.train import TrainResult, train

STATE_NAME = "recipe.json"
CONSTANT = "learning rate constant"
MINIMUM_STEPS = 2  # per phase: one step at a constant rate, one decaying
OVERRUN_SHARE = 0.03  # a decay that runs this share of the training time past the deadline stops there


@dataclass
class PhaseState:
    """One phase's progress: steps (its length, once fixed), decay_from (its constant part's end), done, and the
    step where a decay stopped at the deadline (None: it ran whole)."""

    name: str
    steps: int | None = None
    decay_from: int | None = None
    provisional_steps: int | None = None
    init_from: str = ""
    done: bool = False
    stopped_at: int | None = None


@dataclass
class RecipeState:
    phases: list[PhaseState]
    seconds_per_step: list[float]  # per phase: the short measurement first, then each run's smoothed rate


@dataclass(frozen=True, slots=True)
class RecipeRequest:
    """dataset, folder (one run folder per phase inside); steps: the total length (reproducible) or None: from
    seconds, the training time left from now; step_seconds: each phase's measured seconds per step."""

    dataset: Path
    folder: Path
    steps: int | None
    seconds: float | None
    step_seconds: tuple[float, ...]
    threads: int = 0
    seed: int = 0


@dataclass(frozen=True, slots=True)
class RecipeResult:
    """The last phase's run folder and checkpoint; interrupted: a signal stopped it (run again to continue)."""

    run_folder: Path
    checkpoint: Path | None
    interrupted: bool
    steps: tuple[int, ...] = field(default_factory=tuple)


def fixed_lengths(total_steps: int) -> list[int]:
    """Each phase's steps when the total is given: its share, at least MINIMUM_STEPS."""
    if total_steps < MINIMUM_STEPS * len(RECIPE):
        raise UsageError(f"--steps {total_steps}: give at least {MINIMUM_STEPS * len(RECIPE)}")
    lengths = [max(MINIMUM_STEPS, round(phase.share * total_steps)) for phase in RECIPE[:-1]]
    return [*lengths, max(MINIMUM_STEPS, total_steps - sum(lengths))]


def load_state(folder: Path, step_seconds: tuple[float, ...]) -> RecipeState:
    path = folder / STATE_NAME
    if not path.is_file():
        return RecipeState([PhaseState(phase.name) for phase in RECIPE], list(step_seconds))
    try:
        data = json.loads(path.read_text())
        return RecipeState([PhaseState(**item) for item in data["phases"]], list(data["seconds_per_step"]))
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise UsageError(f"{path} is damaged ({error!r}): delete {folder} to train again") from error


def save_state(folder: Path, state: RecipeState) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    with replacing(folder / STATE_NAME) as temporary:
        temporary.write_text(json.dumps(asdict(state), indent=1))


class _ConstantPart:
    """stop_when of a phase's constant part with a deadline: stops at half of the length that fits the time
    left (this phase's steps at its smoothed rate, the later phases' at theirs, scaled alike, and the start of
    each later call of `train`, timed on this one's: loading the dataset, building the networks)."""

    def __init__(self, state: RecipeState, index: int, deadline_s: float, provisional_steps: int) -> None:
        self.state, self.index, self.deadline_s = state, index, deadline_s
        self.limit = provisional_steps // 2
        self.rate = SmoothedRate()
        self.called_s = time.perf_counter()
        self.start_s: float | None = None  # how long this call of `train` took to start
        self.length = self._length(0, self.called_s)

    def seconds_per_step(self) -> float:
        return self.rate.seconds_per_unit or self.state.seconds_per_step[self.index]

    def _length(self, step: int, now_s: float) -> int:
        """The phase's length that fits the time left, seen from `step` at now_s."""
        seconds = self.seconds_per_step()
        scale = seconds / self.state.seconds_per_step[self.index]
        share = RECIPE[self.index].share
        later = range(self.index + 1, len(RECIPE))
        later_s = sum(RECIPE[k].share / share * self.state.seconds_per_step[k] * scale for k in later)
        starts_s = (self.start_s or 0.0) * (1 + 2 * len(later))  # this phase's decay, both parts of later ones
        left_s = max(0.0, self.deadline_s - now_s - starts_s)
        return max(MINIMUM_STEPS, int((left_s + step * seconds) / (seconds + later_s)))

    def __call__(self, step: int) -> bool:
        now_s = time.perf_counter()
        if self.start_s is None:
            self.start_s = now_s - self.called_s
        self.rate.update(step, now_s)
        self.length = self._length(step, now_s)
        return step >= self.expected_end_step()

    def expected_end_step(self) -> int:
        return max(1, min(self.limit, self.length // 2))


class _Decay:
    """stop_when of a phase's decay with a deadline: stops when the time is over by OVERRUN_SHARE of it."""

    def __init__(self, deadline_s: float, grace_s: float, steps: int) -> None:
        self.deadline_s, self.grace_s, self.steps = deadline_s, grace_s, steps
        self.rate = SmoothedRate()

    def __call__(self, step: int) -> bool:
        now_s = time.perf_counter()
        self.rate.update(step, now_s)
        return now_s > self.deadline_s + self.grace_s

    def expected_end_step(self) -> int:
        return self.steps


def _train(
    config: TrainConfig, part: str, stop_at_step: int | None = None, stop_when=None, console: Console | None = None
) -> TrainResult:
    """One call of `train` (resuming its run when it has a checkpoint), its progress named by phase and part."""
    resume = latest_checkpoint(Path(config.out) / "checkpoints") is not None
    with progress_prefix(f"{Path(config.out).name}, {part}, "):
        return train(config, resume=resume, console=console, stop_at_step=stop_at_step, stop_when=stop_when)


def run_recipe(request: RecipeRequest, console: Console | None = None) -> RecipeResult:
    """Train every phase not done yet; returns early (interrupted) when a signal stops a run."""
    state = load_state(request.folder, request.step_seconds)
    lengths = fixed_lengths(request.steps) if request.steps is not None else None
    started_s = time.perf_counter()
    deadline_s = started_s + (request.seconds or 0.0)
    grace_s = OVERRUN_SHARE * (request.seconds or 0.0)
    for index, progress in enumerate(state.phases):
        if progress.done:
            continue
        if index and not progress.init_from:
            previous = latest_checkpoint(request.folder / RECIPE[index - 1].name / "checkpoints")
            progress.init_from = str(previous)
        if lengths is not None and progress.steps is None:
            progress.steps, progress.decay_from = lengths[index], int(lengths[index] * 0.5)
        if not _constant_part(request, state, index, deadline_s, console):
            return _result(request, state, interrupted=True)
        if not _decay(request, state, index, deadline_s, grace_s, console):
            return _result(request, state, interrupted=True)
    return _result(request, state, interrupted=False)


def _constant_part(
    request: RecipeRequest, state: RecipeState, index: int, deadline_s: float, console: Console | None
) -> bool:
    """Train the phase's constant part if it has not run; False when a signal stopped it."""
    progress = state.phases[index]
    if progress.decay_from is not None and progress.steps is not None and request.steps is None:
        return True
    if request.steps is not None:
        if progress.decay_from == 0 or _at_least(request, index, progress.decay_from):
            return True
        config = _phase_config(request, state, index, progress.steps)
        result = _train(config, CONSTANT, stop_at_step=progress.decay_from, console=console)
        return not result.interrupted
    if progress.provisional_steps is None:
        remaining_s = max(0.0, deadline_s - time.perf_counter())
        progress.provisional_steps = 4 * max(MINIMUM_STEPS, math.ceil(remaining_s / state.seconds_per_step[index]))
        save_state(request.folder, state)
    stop_when = _ConstantPart(state, index, deadline_s, progress.provisional_steps)
    config = _phase_config(request, state, index, progress.provisional_steps)
    result = _train(config, CONSTANT, stop_when=stop_when, console=console)
    state.seconds_per_step[index] = stop_when.seconds_per_step()
    if not result.interrupted:
        progress.decay_from = result.step
        progress.steps = max(MINIMUM_STEPS, round(result.step / 0.5))
    save_state(request.folder, state)
    return not result.interrupted


def _at_least(request: RecipeRequest, index: int, step: int) -> bool:
    """Whether the phase's run has a checkpoint at `step` or later."""
    checkpoint = latest_checkpoint(request.folder / RECIPE[index].name / "checkpoints")
    return checkpoint is not None and int(checkpoint.stem.split("_")[1]) >= step


def _decay(
    request: RecipeRequest, state: RecipeState, index: int, deadline_s: float, grace_s: float, console: Console | None
) -> bool:
    """Train the phase's decaying part to its length; False when a signal stopped it."""
    progress = state.phases[index]
    stop_when = None if request.steps is not None else _Decay(deadline_s, grace_s, progress.steps)
    config = _phase_config(request, state, index, progress.steps)
    result = _train(config, "learning rate decaying", stop_when=stop_when, console=console)
    if stop_when is not None and stop_when.rate.seconds_per_unit:
        state.seconds_per_step[index] = stop_when.rate.seconds_per_unit
    if not result.interrupted:
        progress.done = True
        progress.stopped_at = result.step if result.step < progress.steps else None
    save_state(request.folder, state)
    return not result.interrupted


def _phase_config(request: RecipeRequest, state: RecipeState, index: int, steps: int) -> TrainConfig:
    """The phase's TrainConfig of `steps` steps, started from the previous phase's weights (init_from)."""
    phase = RECIPE[index]
    config = phase_config(phase, request.dataset, request.folder / phase.name, steps, request.threads, request.seed)
    return replace(config, init_from=state.phases[index].init_from)


def _result(request: RecipeRequest, state: RecipeState, interrupted: bool) -> RecipeResult:
    folder = request.folder / RECIPE[-1].name
    steps = tuple(progress.steps or 0 for progress in state.phases)
    return RecipeResult(folder, latest_checkpoint(folder / "checkpoints"), interrupted, steps)
