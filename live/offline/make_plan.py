"""`live make`'s plan: how a wall-clock budget is split across its phases.

Every phase but training takes a time estimated from the frames it works on: the recording's frames
(prepare), its held-out frames (eval, 15%), the clips of other people (fit: three drives of its clip;
summary: two models driven by its clip),
the dataset's (loading it: each training run, export and eval). The seconds per frame were measured on a
2-core AMD EPYC (2026-12, live make on data/clm_cap12.mp4 at 256 px) and are scaled by how long MediaPipe took
on this machine while the recording was looked at (`RecordingLook.detect_s` against REFERENCE_DETECT_S).
Training gets the rest; its steps follow from a short measurement of a step (live.training.recipe) and are
re-estimated as it runs. The plan is made again after each phase from the seconds really spent.
"""

from __future__ import annotations

from dataclasses import dataclass

from live.progress import duration_text

REFERENCE_DETECT_S = 0.006  # MediaPipe face mesh on one 400x300 frame, static-image mode, on that machine
PREPARE_S_PER_FRAME = 0.022
LOAD_S_PER_FRAME = 0.004
EVAL_S_PER_HELD_OUT_FRAME = 0.03  # and per megapixel of the video's frames (SSIM over whole frames, mostly):
EVAL_S_PER_HELD_OUT_MEGAPIXEL = 1.0
DRIVE_S_PER_FRAME = 0.03
EXPORT_S = 2.0
TRAINING_CALLS = 4  # two recipe phases, each run in two parts (constant, then decaying learning rate)
VALIDATION_SHARE = 0.15
SLOWEST_MACHINE_FACTOR = 8.0
LATER_PHASES = ("export", "eval", "fit", "summary")


@dataclass(frozen=True, slots=True)
class PlanInputs:
    """What the estimates depend on: the recording's frames (all videos) and their size, the fitting and driver
    clips' frames, the machine factor (this machine's MediaPipe time over REFERENCE_DETECT_S) and each recipe
    phase's seconds per step with its share of the steps."""

    frames: int
    frame_megapixels: float
    fit_frames: int
    driver_frames: int
    machine_factor: float
    step_seconds: tuple[float, ...]
    step_shares: tuple[float, ...]


def machine_factor(detect_s: float) -> float:
    """This machine's speed against the reference, from a MediaPipe time (clipped to 1/4 .. 8)."""
    return min(SLOWEST_MACHINE_FACTOR, max(0.25, detect_s / REFERENCE_DETECT_S))


def phase_estimates_s(inputs: PlanInputs) -> dict[str, float]:
    """Seconds each phase but training is expected to take (training: its dataset loads only)."""
    factor, frames = inputs.machine_factor, inputs.frames
    load_s = frames * LOAD_S_PER_FRAME * factor
    held_out_s = EVAL_S_PER_HELD_OUT_FRAME + EVAL_S_PER_HELD_OUT_MEGAPIXEL * inputs.frame_megapixels
    return {
        "prepare": frames * PREPARE_S_PER_FRAME * factor,
        "train_loads": TRAINING_CALLS * load_s,
        "export": EXPORT_S * factor + load_s,
        "eval": frames * VALIDATION_SHARE * held_out_s * factor + load_s,
        "fit": 3 * inputs.fit_frames * DRIVE_S_PER_FRAME * factor,
        "summary": 2 * inputs.driver_frames * DRIVE_S_PER_FRAME * factor,
    }


@dataclass(frozen=True, slots=True)
class Plan:
    """budget_s: the whole budget; spent_s: already spent (earlier runs and phases); estimates_s: the phases
    still to run (but training); train_s: what training gets; steps: the steps that fit in train_s; other_s: the
    time spent and expected outside the training steps (loading its data included)."""

    budget_s: float
    spent_s: float
    estimates_s: dict[str, float]
    train_s: float
    steps: int
    other_s: float

    def lines(self) -> list[str]:
        parts = [f"{phase} {duration_text(seconds)}" for phase, seconds in self.estimates_s.items()]
        spent = f"{duration_text(self.spent_s)} spent, " if self.spent_s >= 1 else ""
        return [
            f"plan for {duration_text(self.budget_s)}: {spent}training {duration_text(self.train_s)} "
            f"(about {self.steps} steps, re-estimated as it runs); " + ", ".join(parts)
        ]


def make_plan(budget_s: float, spent_s: float, inputs: PlanInputs, remaining: tuple[str, ...]) -> Plan:
    """The plan for the phases in `remaining` (names of PHASES) with budget_s - spent_s left."""
    estimates = phase_estimates_s(inputs)
    shown = {phase: estimates[phase] for phase in ("prepare", *LATER_PHASES) if phase in remaining}
    train_s = budget_s - spent_s - sum(shown.values())
    if "train" in remaining:
        train_s -= estimates["train_loads"]
    seconds_per_step = sum(share * seconds for share, seconds in zip(inputs.step_shares, inputs.step_seconds))
    steps = max(0, int(train_s / seconds_per_step)) if seconds_per_step > 0 else 0
    return Plan(budget_s, spent_s, shown, max(0.0, train_s), steps, budget_s - train_s)


def later_phases_s(inputs: PlanInputs) -> float:
    """Seconds the phases after training are expected to take."""
    estimates = phase_estimates_s(inputs)
    return sum(estimates[phase] for phase in LATER_PHASES)
