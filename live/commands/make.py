"""`live make VIDEO --consent TEXT --minutes 30 --out models/NAME.onnx`: a recording to a running avatar within a
wall-clock budget (needs the `train` extra: torch).

It runs what the README's five commands do: prepare -> train -> export -> eval -> drive-eval --fit-response,
then a summary. Before anything long it looks at the recording (live.offline.recording_checks: too dark, too
short, faceless, two faces: one line, exit 2; --force goes on). The budget is split by a plan
(live.offline.make_plan); training gets what the other phases leave and runs the recipe of
live.training.recipe, its length re-estimated as it runs (live.training.recipe_run). Everything is kept in a
work folder beside the model (models/NAME.make/, live.offline.make_state): Ctrl-C stops in any phase and the
same command continues; another recording or option starts over from the first phase it changes. Progress
lines go to models/NAME.make.log when stdout is not a terminal.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from live.commands import make_phases
from live.commands.make_options import MakeOptions, check_out, say
from live.commands.make_phases import INTERRUPTED_EXIT_CODE
from live.errors import UsageError
from live.formats.consent import CONSENT_EXAMPLE, MINIMUM_WORDS, check_consent
from live.formats.dataset import check_crop_size, sha256_of_file
from live.offline.make_state import open_work_folder
from live.offline.sidecar import sidecar_consent
from live.progress import log_line, progress_log_to

REPOSITORY = Path(__file__).resolve().parents[2]
DEFAULT_DRIVER = REPOSITORY / "data" / "cremad_1001_HAP.flv"
DEFAULT_FIT_CLIP = REPOSITORY / "data" / "jwp_office.mp4"  # another person talking for 8 s
DEFAULT_AVATAR = REPOSITORY / "models" / "jwp.onnx"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("videos", nargs="+", type=Path, metavar="VIDEO", help="the recording(s) of the target")
    parser.add_argument(
        "--consent",
        default="",
        help=f"required: who consented, to what, and when, in at least {MINIMUM_WORDS} words ({CONSENT_EXAMPLE}); "
        "by default the one in the recording's `live record` sidecar (VIDEO.json)",
    )
    parser.add_argument("--out", type=Path, required=True, help="the model to write, models/NAME.onnx")
    parser.add_argument(
        "--minutes", type=float, default=30.0, help="wall-clock budget for everything, in minutes (default 30)"
    )
    parser.add_argument("--size", type=int, default=256, help="side of the head crop in pixels (default 256)")
    parser.add_argument(
        "--steps",
        type=int,
        default=None,
        help="for reproducibility: train exactly this many steps instead of what fits the budget (the result is "
        "then the same, bit for bit, however often it is stopped and continued)",
    )
    parser.add_argument(
        "--driver",
        type=Path,
        default=DEFAULT_DRIVER,
        help="a clip of another person the summary drives both avatars with "
        f"(default {DEFAULT_DRIVER.relative_to(REPOSITORY)})",
    )
    parser.add_argument(
        "--fit-on",
        type=Path,
        default=DEFAULT_FIT_CLIP,
        metavar="CLIP",
        help="a clip of another person talking, to fit the mouth, eye and mouth-corner responses on (as `live "
        f"drive-eval --fit-response`; default {DEFAULT_FIT_CLIP.relative_to(REPOSITORY)})",
    )
    parser.add_argument(
        "--compare",
        type=Path,
        default=DEFAULT_AVATAR,
        metavar="MODEL.onnx",
        help=f"the avatar the summary compares with (default {DEFAULT_AVATAR.relative_to(REPOSITORY)})",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=0,
        help="torch CPU threads (default 0: one or all of torch's, whichever a short measurement finds faster)",
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed of training")
    parser.add_argument(
        "--force", action="store_true", help="go on with a recording that is too dark, too short, faceless or crowded"
    )


def options_from(args: argparse.Namespace) -> MakeOptions:
    """The checked options; UsageError (one line) for what cannot run."""
    out = Path(args.out)
    if out.suffix != ".onnx":
        raise UsageError(f"--out {out}: the model file must end in .onnx")
    for video in args.videos:
        if not video.is_file():
            raise UsageError(f"video not found: {video}")
    for option, path in (("--driver", args.driver), ("--fit-on", args.fit_on), ("--compare", args.compare)):
        if not path.is_file():
            raise UsageError(f"{option} {path}: no such file; give {option} another file")
    if not args.minutes > 0:
        raise UsageError(f"--minutes {args.minutes}: give a budget of more than 0 minutes")
    if args.steps is not None and args.steps < 1:
        raise UsageError(f"--steps {args.steps}: give 1 or more")
    if args.threads < 0:
        raise UsageError(f"--threads {args.threads}: give 0 (measured) or more")
    check_crop_size(args.size)
    return MakeOptions(
        videos=tuple(args.videos),
        consent=check_consent(sidecar_consent(args.videos, args.consent)),
        out=out,
        budget_s=args.minutes * 60.0,
        size_px=args.size,
        steps=args.steps,
        driver=args.driver,
        fit_on=args.fit_on,
        compare=args.compare,
        threads=args.threads,
        seed=args.seed,
        force=args.force,
    )


def phase_inputs(options: MakeOptions) -> dict[str, dict]:
    """What each phase depends on (live.offline.make_state keys its work by them)."""
    videos = [sha256_of_file(video) for video in options.videos]
    training = {"steps": options.steps, "seed": options.seed}
    training |= {"minutes": options.budget_s / 60.0} if options.steps is None else {}
    return {
        "check": {"videos_sha256": videos},
        "prepare": {"consent": options.consent, "size": options.size_px},
        "train": training,
        "fit": {"fit_on_sha256": sha256_of_file(options.fit_on)},
        "summary": {"driver_sha256": sha256_of_file(options.driver), "compare_sha256": sha256_of_file(options.compare)},
    }


def run(args: argparse.Namespace) -> int:
    options = options_from(args)
    try:
        import live.training.recipe_run  # noqa: F401  (torch: before anything is written)
    except ImportError as error:
        raise UsageError(f"live make trains: it needs torch ({error}): pip install 'live[train]'") from error
    check_out(options)
    with progress_log_to(options.log):
        folder, notes = open_work_folder(options.work, phase_inputs(options))
        for note in notes:
            say(note)
        try:
            return make_phases.make(options, folder)
        except KeyboardInterrupt:
            say(f"live make: stopped; run the same command again to continue from {options.work}")
            return INTERRUPTED_EXIT_CODE
        except UsageError as error:
            log_line(f"live make: error: {error}")  # (the command line prints it)
            raise
