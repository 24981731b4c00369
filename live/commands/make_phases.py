"""The phases of `live make` (live/commands/make.py), each timed against the budget and recorded in the work folder."""

from __future__ import annotations

import argparse
import io
import json
import math
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stdout
from pathlib import Path

from live.commands.drive_eval import fit_response
from live.commands.make_options import MakeOptions, device_line, say
from live.errors import UsageError
from live.face.retarget import RetargetConfig
from live.formats.dataset import read_manifest, sha256_of_file
from live.formats.replacing import replacing
from live.offline.eval_report import store_in_card, write_strip
from live.offline.evaluate import EvalConfig, evaluate
from live.offline.make_plan import PlanInputs, later_phases_s, machine_factor, make_plan
from live.offline.make_state import PHASES, WorkFolder, building
from live.offline.make_summary import summarise, summary_lines
from live.offline.prepare import PrepareConfig, prepare_dataset
from live.offline.recording_checks import (
    MINIMUM_USABLE_S,
    look_at_recording,
    recording_problems,
    usable_seconds_of_dataset,
)
from live.progress import current_log_path, duration_text, progress_prefix

INTERRUPTED_EXIT_CODE = 130
FACT_KEYS = ("frames", "frame_megapixels", "detect_s", "step_seconds", "step_shares", "threads")
MINIMUM_TRAINING_S = 30.0  # a budget that leaves less for training is refused
DEVICE = "auto"  # ONNX Runtime: CUDA when it can run, else the CPU (said in one line)


@contextmanager
def phase(folder: WorkFolder, name: str, options: MakeOptions) -> Iterator[None]:
    """Time a phase into the work folder (done only when the block ends without an error), with its header line
    and its progress lines prefixed by its name."""
    left_s = options.budget_s - folder.spent_s()
    number = PHASES.index(name) + 1
    say(f"== {name} ({number}/{len(PHASES)}), {duration_text(max(0.0, left_s))} of the budget left")
    started_s = time.perf_counter()
    folder.record(name, 0.0, done=False)
    finished = False
    try:
        with progress_prefix(f"make {name}: "):
            yield
        finished = True
    finally:
        folder.record(name, time.perf_counter() - started_s, done=finished)


def _looks(options: MakeOptions, folder: WorkFolder) -> dict:
    """The recordings' look and the step measurements (once; kept in the work folder). UsageError on a bad
    recording unless --force."""
    recorded = folder.phases.get("check", {}).get("facts", {})
    if folder.done("check") and set(FACT_KEYS) <= set(recorded):
        return recorded
    from live.training.recipe import RECIPE, choose_threads

    with phase(folder, "check", options):
        looks = [look_at_recording(video) for video in options.videos]
        problems = recording_problems(looks)
        if problems and not options.force:
            raise UsageError("; ".join(problems) + " (--force goes on anyway)")
        for problem in problems:
            say(f"warning (--force): {problem}")
        threads, step_seconds, threads_line = choose_threads(options.size_px, options.threads)
        if threads_line:
            say(threads_line)
        facts = {
            "frames": sum(look.frames for look in looks),
            "frame_megapixels": max(look.frame_size_px[0] * look.frame_size_px[1] for look in looks) / 1e6,
            "detect_s": max(look.detect_s for look in looks),
            "step_seconds": list(step_seconds),
            "threads": threads,
            "step_shares": [recipe.share for recipe in RECIPE],
        }
        folder.phases["check"] = {**folder.phases.get("check", {}), "facts": facts}
    return facts


def _plan_inputs(options: MakeOptions, facts: dict) -> PlanInputs:
    from live.io.sources import SourceConfig, VideoFileSource

    frames = []
    for clip in (options.fit_on, options.driver):
        with VideoFileSource(SourceConfig(str(clip))) as source:
            frames.append(source.frame_count)
    return PlanInputs(
        frames=int(facts["frames"]),
        frame_megapixels=float(facts["frame_megapixels"]),
        fit_frames=frames[0],
        driver_frames=frames[1],
        machine_factor=machine_factor(float(facts["detect_s"])),
        step_seconds=tuple(facts["step_seconds"]),
        step_shares=tuple(facts["step_shares"]),
    )


def _say_plan(options: MakeOptions, folder: WorkFolder, inputs: PlanInputs) -> None:
    remaining = tuple(name for name in PHASES if not folder.done(name))
    plan = make_plan(options.budget_s, folder.spent_s(), inputs, remaining)
    for line in plan.lines():
        say(line if options.steps is None else f"{line} (--steps {options.steps}: that many steps instead)")
    if options.steps is None and "train" in remaining and plan.train_s < MINIMUM_TRAINING_S:
        raise UsageError(
            f"--minutes {options.budget_s / 60:g} leaves {plan.train_s:.0f} s for training after the other phases: "
            f"give at least {math.ceil((plan.other_s + 4 * MINIMUM_TRAINING_S) / 60)} minutes"
        )


def _prepare(options: MakeOptions, folder: WorkFolder) -> Path:
    dataset = options.work / "dataset"
    if not folder.done("prepare"):
        with phase(folder, "prepare", options):
            if dataset.exists():
                shutil.rmtree(dataset)  # (an unfinished one: prepare builds beside it and renames)
            config = PrepareConfig(options.videos, dataset, options.consent, options.size_px)
            prepare_dataset(config)
    usable_s = usable_seconds_of_dataset(list(read_manifest(dataset).videos))
    if usable_s < MINIMUM_USABLE_S:
        message = (
            f"prepare kept about {usable_s:.0f} s of frames (sharp, one face, no hand over it), at least "
            f"{MINIMUM_USABLE_S:.0f} s are needed: record a minute or more"
        )
        if not options.force:
            raise UsageError(message + " (--force goes on anyway)")
        say(f"warning (--force): {message}")
    return dataset


def _train(options: MakeOptions, folder: WorkFolder, inputs: PlanInputs, dataset: Path) -> Path | None:
    """Train (or continue); the last checkpoint's run folder, None when Ctrl-C stopped it."""
    from live.training.recipe import RECIPE
    from live.training.recipe_run import RecipeRequest, run_recipe

    run_folder = options.work / "train"
    if folder.done("train"):
        return run_folder / RECIPE[-1].name  # (as run_recipe returns it: the last phase's run)
    seconds = options.budget_s - folder.spent_s() - later_phases_s(inputs)
    with phase(folder, "train", options):
        threads = options.threads or int(folder.phases["check"]["facts"]["threads"])  # (0: as measured then)
        request = RecipeRequest(
            dataset, run_folder, options.steps, max(1.0, seconds), inputs.step_seconds, threads, options.seed
        )
        result = run_recipe(request)
        if result.interrupted:
            raise KeyboardInterrupt
    return result.run_folder


def _export(options: MakeOptions, folder: WorkFolder, run_folder: Path) -> Path:
    exported = options.work / "export"
    if not folder.done("export"):
        from live.training.export_run import export_run

        with phase(folder, "export", options), building(exported) as temporary:
            export_run(run_folder, temporary / options.model_name)
    return exported / options.model_name


def _copy_model(model: Path, folder: Path) -> Path:
    """Copy a model and its card page into folder."""
    shutil.copy2(model, folder / model.name)
    shutil.copy2(model.with_suffix(".md"), folder / model.with_suffix(".md").name)
    return folder / model.name


def _eval(options: MakeOptions, folder: WorkFolder, model: Path, dataset: Path) -> tuple[Path, dict]:
    evaluated = options.work / "eval"
    if not folder.done("eval"):
        with phase(folder, "eval", options), building(evaluated) as temporary:
            copy = _copy_model(model, temporary)
            result = evaluate(EvalConfig(copy, dataset, device=DEVICE))
            say(f"eval: {result.report['provider']} ({result.report['frames']} held-out frames)")
            store_in_card(copy, result.report)
            write_strip(result, temporary / "strip.png")
            (temporary / "eval.json").write_text(json.dumps(result.report, indent=1, allow_nan=False) + "\n")
    return evaluated / options.model_name, json.loads((evaluated / "eval.json").read_text())


def _fit(options: MakeOptions, folder: WorkFolder, model: Path) -> Path:
    fitted = options.work / "fit"
    if not folder.done("fit"):
        with phase(folder, "fit", options):
            with building(fitted) as temporary:
                copy = _copy_model(model, temporary)
                arguments = argparse.Namespace(model=copy, clips=[options.fit_on], device=DEVICE, fit_response="all")
                with redirect_stdout(io.StringIO()) as printed:  # its lines name the copy: said with the final path
                    try:
                        fit_response(arguments, RetargetConfig())
                    except UsageError as error:  # an avatar too rough to measure: it runs without corrections
                        print(f"responses not fitted ({error}): {options.out} runs without these corrections")
            for line in printed.getvalue().splitlines():
                say(line.replace(str(copy), str(fitted / options.model_name)))
    return fitted / options.model_name


def _summary(options: MakeOptions, folder: WorkFolder, model: Path, eval_report: dict) -> dict:
    path = options.work / "summary.json"
    if not folder.done("summary"):
        with phase(folder, "summary", options):
            summary = summarise(eval_report, model, options.compare, options.driver, DEVICE)
            with replacing(path) as temporary:
                temporary.write_text(json.dumps(summary, indent=1, allow_nan=False) + "\n")
    return json.loads(path.read_text())


def _install(options: MakeOptions, folder: WorkFolder, model: Path) -> None:
    """The model and its card page to --out (each replaced whole)."""
    options.out.parent.mkdir(parents=True, exist_ok=True)
    with replacing(options.out.with_suffix(".md")) as temporary:
        shutil.copy2(model.with_suffix(".md"), temporary)
    with replacing(options.out) as temporary:
        shutil.copy2(model, temporary)
    folder.phases["install"] = {"sha256": sha256_of_file(options.out)}
    folder.save()


def make(options: MakeOptions, folder: WorkFolder) -> int:
    """Every phase not done yet, then the summary; 130 when Ctrl-C stopped training (saved: run again)."""
    say(device_line())
    facts = _looks(options, folder)
    inputs = _plan_inputs(options, facts)
    _say_plan(options, folder, inputs)
    dataset = _prepare(options, folder)
    try:
        run_folder = _train(options, folder, inputs, dataset)
    except KeyboardInterrupt:
        say(f"live make: training stopped and saved; run the same command again to continue ({options.work})")
        return INTERRUPTED_EXIT_CODE
    exported = _export(options, folder, run_folder)
    evaluated, eval_report = _eval(options, folder, exported, dataset)
    fitted = _fit(options, folder, evaluated)
    summary = _summary(options, folder, fitted, eval_report)
    _install(options, folder, fitted)
    say(f"== wrote {options.out} in {duration_text(folder.spent_s())} of {duration_text(options.budget_s)}")
    for line in summary_lines(summary, options.out, options.work / "eval" / "strip.png", options.compare):
        say(line)
    log = current_log_path()
    if log is not None and log.exists():
        say(f"progress log: {log}")
    return 0
