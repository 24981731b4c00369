"""`live drive-eval MODEL.onnx CLIP [CLIP ...] [--retarget full] [--no-shape-clamp] [--json OUT.json]`.

`--fit-response` measures, instead, the mouth and eye openings and the mouth-corner lifts the avatar draws
against those asked (live.face.mouth_response, live.face.eye_warp, live.face.corner_warp) and stores the
curves in the model's card.

Each driver's detail ratio is the output face's Laplacian variance over the target's real face's
(live.offline.detail_reference: the --dataset's held-out frames, or else the plate's face).

How well the avatar follows each driver clip (live.offline.expression): Pearson
correlations driver vs output for eye opening, mouth opening, smile, yaw and
pitch, the same for the retargeted landmarks (clamp on / off), faces found on the
output, jitter ratio and the share of frames outside the training range. With
several clips, a last row gives the median of each column. --dataset adds the
self-reenactment figures on a dataset's own frames (live.offline.expression_dataset); --response
what the generator draws for the eye and mouth openings its sketch asks for (live.offline.response).
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

from rich.console import Console

from live.commands.pipeline_options import add_render_arguments, render_switches
from live.commands.progress_options import add_log_argument, logging_progress
from live.engines.generator import GeneratorSession, GeneratorSessionConfig
from live.errors import UsageError
from live.face.corner_warp import CornerResponse, fit_corner_response
from live.face.eye_warp import EyeResponse
from live.face.mouth_response import MouthResponse
from live.face.retarget import RETARGET_MODES, RetargetConfig
from live.offline.detail_reference import detail_figures, detail_line, detail_reference, median_detail
from live.offline.drive_strip import strip_row, write_strip
from live.offline.expression import (
    DriveConfig,
    drive,
    drive_table,
    evaluate_drive,
    median_report,
)
from live.offline.expression_dataset import dataset_correlations
from live.offline.response import (
    fit_driven_responses,
    paired_corner_lifts,
    response_curves,
    response_lines,
    store_corner_response,
    store_responses,
)
from live.progress import progress_prefix


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", type=Path, metavar="MODEL.onnx", help="a model written by `live export`")
    parser.add_argument("clips", type=Path, nargs="*", metavar="CLIP", help="driver videos (one face each)")
    parser.add_argument("--retarget", choices=RETARGET_MODES, default="full", help="as `live run --retarget`")
    parser.add_argument("--no-shape-clamp", action="store_true", help="as `live run --no-shape-clamp`")
    parser.add_argument("--mouth-from-neutral", action="store_true", help="as `live run --mouth-from-neutral`")
    parser.add_argument("--no-mouth-response", action="store_true", help="as `live run --no-mouth-response`")
    parser.add_argument("--no-teeth", action="store_true", help="as `live run --no-teeth`")
    parser.add_argument(
        "--calibration",
        type=Path,
        metavar="FILE",
        help="the driver's neutral, as written by `live run --calibration FILE` (default: calibrate on each clip's "
        "first second, as `live run` does)",
    )
    add_render_arguments(parser)
    parser.add_argument(
        "--fit-response",
        nargs="?",
        const="all",
        choices=("all", "corners"),
        help="drive the avatar with the clips, fit the mouth and eye openings and the mouth-corner lifts it draws "
        "against those its sketch asks for, and store the curves in the model's card (then `live run` corrects "
        "the mouth, lids and corners by them); `--fit-response corners`: only the corners' curve, driving with "
        "the card's other corrections as `live run` does",
    )
    parser.add_argument("--json", type=Path, metavar="OUT.json", help="write every figure to this JSON file")
    parser.add_argument("--device", default="cpu", help="ONNX Runtime device (default cpu)")
    parser.add_argument(
        "--dataset",
        type=Path,
        metavar="DATASET",
        help="also correlate real vs generated on this dataset's train and val frames (their own sketches)",
    )
    parser.add_argument(
        "--response",
        action="store_true",
        help="also render the target's neutral with each eye and mouth opening of its training range and measure "
        "what the generator draws (asked vs drawn, slope)",
    )
    parser.add_argument(
        "--strip",
        type=Path,
        metavar="OUT.png",
        help="write driver | avatar at each driver's neutral, closed-eye, smile, open-mouth and most-teeth frames",
    )
    add_log_argument(parser)


def check_arguments(args: argparse.Namespace) -> None:
    """One-line UsageErrors for what cannot be measured."""
    if args.fit_response and not args.clips:
        raise UsageError("--fit-response needs driver clips")
    taken = [f"--{name}" for name in ("strip", "json", "dataset") if getattr(args, name) is not None]
    flags = ("response", "no_eye_warp", "no_corner_warp", "no_head_follow", "no_mouth_response", "no_teeth")
    taken += ["--" + flag.replace("_", "-") for flag in flags if getattr(args, flag)]
    if args.fit_response and taken:
        raise UsageError(
            f"--fit-response only fits and stores the curves: drop {', '.join(taken)}, and measure "
            "in a second `live drive-eval` run"
        )
    if not args.clips and not args.response:
        raise UsageError("give driver clips to measure, or --response")
    if args.strip is not None and not args.clips:
        raise UsageError("--strip needs driver clips")
    missing = [str(clip) for clip in args.clips if not clip.is_file()]
    if missing:
        raise UsageError(f"no such driver clip: {', '.join(missing)}; give video files")
    if args.calibration is not None and not args.calibration.is_file():
        raise UsageError(
            f"--calibration {args.calibration}: no such file; write one with `live run --source NEUTRAL_CLIP "
            f"--model MODEL --output OUT.mp4 --calibration {args.calibration}`"
        )


def run(args: argparse.Namespace) -> int:
    check_arguments(args)
    retarget = RetargetConfig(
        mode=args.retarget,
        shape_clamp=not args.no_shape_clamp,
        mouth_from_closed=not args.mouth_from_neutral,
        mouth_response=not args.no_mouth_response,
        teeth=not args.no_teeth,
        calibration_path=None if args.calibration is None else str(args.calibration),
    )
    with logging_progress(args):
        return fit_response(args, retarget) if args.fit_response else measure(args, retarget)


def measure(args: argparse.Namespace, retarget: RetargetConfig) -> int:
    """Drive the avatar with every clip and print (and write) the figures."""
    reports, rows = [], []
    reference = detail_reference(args.model, args.dataset, args.device) if args.clips else None
    for clip in args.clips:
        config = DriveConfig(
            args.model,
            clip,
            retarget,
            args.device,
            **render_switches(args),
        )
        record = drive(config, keep_images=args.strip is not None)
        reports.append({**evaluate_drive(config, record), "detail": detail_figures(record.output_detail, reference)})
        if args.strip is not None:
            rows.append(strip_row(record))
    if args.strip is not None:
        write_strip(rows, [clip.name for clip in args.clips], args.strip)
        print(f"wrote {args.strip}")
    own_frames = {}
    if args.dataset is not None:
        for split in ("train", "val"):
            own_frames[split] = dataset_correlations(
                args.model, args.dataset, split, args.device, not args.no_head_follow
            )
            print(f"{split} frames of {args.dataset} (own sketches): {own_frames[split]['correlation']}")
    response = response_curves(args.model, args.device) if args.response else {}
    for line in response_lines(response) if response else []:
        print(line)
    table_rows = reports + ([{**median_report(reports), "detail": median_detail(reports)}] if len(reports) > 1 else [])
    if table_rows:
        Console(width=200).print(drive_table(table_rows))
    for report in reports:
        print(detail_line(report))
    if args.json:
        median = table_rows[-1] if table_rows else None
        figures = {"drivers": reports, "median": median, "own_frames": own_frames, "response": response}
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(figures, indent=1, allow_nan=False) + "\n")
        print(f"wrote {args.json}")
    return 0


def curve_text(curve: MouthResponse | EyeResponse | CornerResponse) -> str:
    """asked->drawn pairs of a fitted curve."""
    return ", ".join(f"{asked:.3f}->{drawn:.3f}" for asked, drawn in zip(curve.asked, curve.drawn))


def fit_response(args: argparse.Namespace, retarget: RetargetConfig) -> int:
    """--fit-response: drive with every clip three times (live.offline.response), then store the curves in the card."""

    passes = iter(range(1, 4))

    def drive_clips(mouth: MouthResponse | None, eye: EyeResponse | None) -> list[tuple[list, list, list]]:
        clip_retarget = replace(retarget, mouth_response=mouth is not None)  # None: the mouth as the generator draws it
        configs = [
            DriveConfig(
                args.model,
                clip,
                clip_retarget,
                args.device,
                eye_warp=eye is not None,
                eye_response=eye,
                mouth_response=mouth,
                corner_warp=False,
            )
            for clip in args.clips
        ]
        with progress_prefix(f"fit-response pass {next(passes)} of 3: "):
            return [(record.driver, record.target, record.output) for record in map(drive, configs)]

    with GeneratorSession(GeneratorSessionConfig(args.model, args.device)) as session:
        neutral_px = session.card.neutral_landmarks_px
    if args.fit_response == "corners":
        configs = [DriveConfig(args.model, clip, retarget, args.device, corner_warp=False) for clip in args.clips]
        records = [(record.driver, record.target, record.output) for record in map(drive, configs)]
        corner = fit_corner_response(*paired_corner_lifts(records, neutral_px))
        store_corner_response(args.model, corner, [clip.name for clip in args.clips])
        print(f"mouth-corner lift response stored in {args.model}'s card (asked->drawn): {curve_text(corner)}")
        return 0
    fitted = fit_driven_responses(drive_clips, neutral_px)
    store_responses(args.model, fitted, [clip.name for clip in args.clips])
    (mouth_before, smile_before), (mouth_after, smile_after) = (
        fitted.without_mouth_correction,
        fitted.with_mouth_correction,
    )
    verdict = "stored" if fitted.mouth is not None else "not kept (no correction)"
    print(
        f"mouth response {verdict}: mouth / smile r on the clips {mouth_before:.3f} / {smile_before:.3f} without it, "
        f"{mouth_after:.3f} / {smile_after:.3f} with it"
    )
    for name, curve in (("mouth", fitted.mouth), ("eye", fitted.eye), ("mouth-corner lift", fitted.corner)):
        if curve is not None:
            print(f"{name} response stored in {args.model}'s card (asked->drawn): {curve_text(curve)}")
    print(f"eye warp strength {fitted.eye.strength:.2f}")
    return 0
