"""`live run --model models/NAME.onnx --source 0 --output window --output vcam`

Drive the avatar from a webcam, a video file or a folder of images, to a
preview window, a virtual camera and/or video files, with a live dashboard and
a final summary. Exit 0 at the end of input, `q`, Ctrl-C or SIGTERM; 1 when a
stage fails; 2 for a usage error.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from contextlib import ExitStack
from pathlib import Path

import numpy as np
from rich.console import Console

from live.commands import c2pa_options as c2pa
from live.commands import output_checks as checks
from live.commands import pipeline_options as options
from live.commands.web_options import add_web_arguments, web_config, with_sink_notes
from live.engines.generator import DEVICES, GeneratorSessionConfig
from live.errors import UsageError
from live.face.alignment import crop_box_px
from live.face.retarget import RETARGET_MODES, RetargetConfig
from live.io.sinks import SinkConfig, parse_output
from live.io.sources import Source, SourceConfig, open_source, source_kind
from live.io.video_writer import VideoWriteError
from live.pipeline.run import PipelineConfig, open_stages, run_pipeline
from live.pipeline.stats import PipelineReport
from live.pipeline.threads import StageError
from live.ui.dashboard import Dashboard, print_final_summary

DEFAULT_OUTPUT_FPS = 30.0
MIN_FPS, MAX_FPS = 1.0, 240.0  # what --fps may ask of a camera or give an image folder
DISCLOSURE_REMINDER = (
    "reminder: --no-badge removes the AI badge; tell everyone who sees this video that the face is AI-generated"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The `live run` options."""
    parser.add_argument("--model", type=Path, required=True, help="an .onnx generator written by `live export`")
    parser.add_argument("--source", default="0", help="webcam index, video file or folder of images (default: 0)")
    parser.add_argument(
        "--width", type=int, default=0, help="camera width to request in pixels (the actual one is reported)"
    )
    parser.add_argument("--height", type=int, default=0, help="camera height to request in pixels")
    parser.add_argument(
        "--fps",
        type=float,
        default=0.0,
        help="camera frame rate to request; frame rate of an image folder (default 30)",
    )
    parser.add_argument(
        "--no-pace", action="store_true", help="video file / folder: run as fast as possible, every frame rendered"
    )
    parser.add_argument(
        "--output",
        action="append",
        metavar="OUTPUT",
        help="window, vcam, web (a browser page), or a file (.mp4, .avi); repeat for several (default: window)",
    )
    parser.add_argument("--vcam-size", default="1280x720", metavar="WxH", help="virtual camera size (default 1280x720)")
    parser.add_argument(
        "--vcam-fit",
        choices=("fill", "letterbox"),
        default="fill",
        help="fill: crop the avatar's frame to the camera's aspect around the head, no black bars (default); "
        "letterbox: the whole frame, with black bars",
    )
    parser.add_argument(
        "--vcam-device", default=None, help="virtual camera device (e.g. /dev/video10; default: the first free one)"
    )
    parser.add_argument(
        "--no-badge", action="store_true", help="remove the 'AI' badge from file and virtual camera outputs"
    )
    add_web_arguments(parser)
    c2pa.add_c2pa_arguments(parser)
    parser.add_argument("--device", choices=DEVICES, default="auto", help="where the generator runs (default auto)")
    parser.add_argument("--threads", type=int, default=0, help="CPU threads for one generator run (0: automatic)")
    options.add_generator_workers_argument(parser)
    options.add_render_arguments(parser)
    options.add_background_arguments(parser)
    parser.add_argument(
        "--retarget",
        choices=RETARGET_MODES,
        default=None,
        help="off: raw driver landmarks; pose; full: pose + expression",
    )
    parser.add_argument(
        "--calibration",
        default=None,
        metavar="FILE",
        help="driver calibration JSON: loaded if it exists, written after calibrating",
    )
    add_retarget_arguments(parser)
    parser.add_argument("--max-frames", type=int, default=0, help="stop after this many input frames (0: no limit)")


def add_retarget_arguments(parser: argparse.ArgumentParser) -> None:
    """The retargeting and smoothing options (defaults from RetargetConfig)."""
    tuning = parser.add_argument_group("retargeting and smoothing")
    tuning.add_argument("--no-smoothing", action="store_true", help="turn the One Euro filters off")
    for name, help_text in RETARGET_TUNING.items():
        tuning.add_argument(
            "--" + name.replace("_", "-"),
            type=float,
            default=None,
            help=f"{help_text} (default {getattr(RetargetConfig(), name)})",
        )
    tuning.add_argument(
        "--no-shape-clamp",
        action="store_true",
        help="let sketches leave the shapes the avatar was trained on (may smear features)",
    )
    tuning.add_argument(
        "--no-body-follow",
        action="store_true",
        help="keep the target's body still instead of moving it as the driver's body moves",
    )
    tuning.add_argument("--no-mouth-response", action="store_true", help="no mouth correction by the card's curve")
    tuning.add_argument("--no-teeth", action="store_true", help="do not draw the driver's teeth into the sketch")
    tuning.add_argument(
        "--mouth-from-neutral",
        action="store_true",
        help="move the lips only by the driver's change from its neutral, not from closed lips (the old behaviour:"
        " the avatar's mouth stays as open as its neutral's when the driver's lips are closed)",
    )


RETARGET_TUNING = {
    "pose_min_cutoff_hz": "head-pose smoothing: lower = steadier, more lag",
    "pose_beta": "head-pose smoothing: higher = less lag on fast moves",
    "expression_min_cutoff_hz": "expression smoothing: lower = steadier",
    "expression_beta": "expression smoothing: higher = less lag on fast mouth motion",
    "pose_margin_deg": "how far beyond the trained head angles the avatar may turn",
}


SWITCHED_OFF = {  # option -> the RetargetConfig field it turns off
    "no_smoothing": "smoothing",
    "no_shape_clamp": "shape_clamp",
    "mouth_from_neutral": "mouth_from_closed",
    "no_body_follow": "body_follow",
    "no_mouth_response": "mouth_response",
    "no_teeth": "teeth",
}


def parse_size(text: str) -> tuple[int, int]:
    """'1280x720' -> (1280, 720); UsageError otherwise."""
    width_text, _, height_text = text.lower().partition("x")
    if not (width_text.isdigit() and height_text.isdigit()) or int(width_text) < 16 or int(height_text) < 16:
        raise UsageError(f"--vcam-size {text}: give WIDTHxHEIGHT in pixels, e.g. 1280x720")
    return int(width_text), int(height_text)


def check_calibration_path(path: Path) -> None:
    """Fail before the run (exit 2), not mid-run, when a calibration file could not be written."""
    folder = path.parent if str(path.parent) else Path(".")
    if (
        path.is_dir()
        or not folder.is_dir()
        or not os.access(folder, os.W_OK)
        or (path.exists() and not os.access(path, os.W_OK))
    ):
        raise UsageError(
            f"--calibration {path}: cannot write there (missing folder or no permission); pass a writable file path"
        )


def retarget_config(args: argparse.Namespace) -> RetargetConfig:
    """RetargetConfig from --retarget (default: RetargetConfig's) and --calibration."""
    if args.calibration is not None:
        check_calibration_path(Path(args.calibration))
    values: dict[str, object] = {"calibration_path": args.calibration}
    if args.retarget is not None:
        values["mode"] = args.retarget
    values |= {name: getattr(args, name) for name in RETARGET_TUNING if getattr(args, name) is not None}
    values |= {field: False for option, field in SWITCHED_OFF.items() if getattr(args, option)}
    return RetargetConfig(**values)  # type: ignore[arg-type]


def run_pipeline_config(args: argparse.Namespace, is_camera: bool) -> PipelineConfig:
    """`live run`'s pipeline configuration from its options."""
    if args.threads < 0:
        raise UsageError("--threads must be 0 or more")
    if args.fps != 0.0 and not MIN_FPS <= args.fps <= MAX_FPS:  # also refuses nan and inf
        raise UsageError(f"--fps {args.fps:g}: give a frame rate from {MIN_FPS:g} to {MAX_FPS:g} (0: the default)")
    generator = GeneratorSessionConfig(model_path=args.model, device=args.device, intra_op_threads=args.threads)
    return options.pipeline_config(
        generator,
        retarget_config(args),
        pace=not args.no_pace,
        is_camera=is_camera,
        max_frames=args.max_frames,
        generator_workers=args.generator_workers,
        background=options.background_config(args),
        **options.render_switches(args),
    )


def sink_configs(args: argparse.Namespace) -> list[SinkConfig]:
    """One SinkConfig per --output (UsageError for an unknown one); fps is set once the source is open."""
    vcam_size_px = parse_size(args.vcam_size)
    changes = {
        "vcam_size_px": vcam_size_px,
        "vcam_device": args.vcam_device,
        "badge": not args.no_badge,
        "vcam_fit": getattr(args, "vcam_fit", "fill"),
    }
    if hasattr(args, "web_port"):
        changes["web"] = web_config(args)
    return [dataclasses.replace(parse_output(text), **changes) for text in args.output or ["window"]]


def warn_skipped(source: Source) -> None:
    """One warning line for the frames the source skipped (the summary counts them too)."""
    if source.skipped:
        names = ", ".join(source.skipped[:3]) + (", ..." if len(source.skipped) > 3 else "")
        print(f"live run: warning: skipped {len(source.skipped)} unreadable frame(s): {names}", file=sys.stderr)
    if ended_early := getattr(source, "ended_early", None):  # a file that ended before its frame count
        print(f"live run: warning: {ended_early}", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    """Run the avatar; print the final summary; 0, or 1 when a stage failed. Every usage error that can be
    found before an output opens is raised before (see output_checks)."""
    kind = source_kind(args.source)
    config = run_pipeline_config(args, kind == "camera")
    configs = sink_configs(args)
    checks.check_distinct_paths(checks.run_paths(None if kind == "camera" else args.source, configs, args.calibration))
    checks.check_outputs(configs)
    signing = c2pa.signing_config(args, [sink_config.path for sink_config in configs if sink_config.path])
    console = Console()
    with ExitStack() as stack:
        source = stack.enter_context(open_source(SourceConfig(args.source, args.width, args.height, args.fps)))
        stages = stack.enter_context(open_stages(config))
        checks.check_model_template(stages.card)
        fps = source.fps or DEFAULT_OUTPUT_FPS  # files play at the source's rate; the virtual camera runs at it
        head_box = crop_box_px(np.asarray(stages.card.neutral_transform), stages.card.size_px)  # vcam keeps it in view
        alpha = config.background.kind == "transparent"  # PNG folders, .webm and web keep the matte
        configs = [dataclasses.replace(c, fps=fps, focus_box_px=head_box, alpha=alpha) for c in configs]
        outputs = checks.open_outputs(stack, configs, tuple(stages.card.plate_size_px))
        if note := checks.key_color_note(config.background, outputs, configs):
            print(f"live run: {note}", file=sys.stderr)
        config = dataclasses.replace(config, keep_alive_fps=fps)
        if args.no_badge:
            print(DISCLOSURE_REMINDER, file=sys.stderr)
        try:
            sink_lines = [output.sink.status_lines for output in outputs if hasattr(output.sink, "status_lines")]
            with Dashboard(console, status_lines=sink_lines) as dashboard:
                report = run_pipeline(config, source, outputs, stages, dashboard)
        except StageError as error:
            if isinstance(error.report, PipelineReport):
                report = checks.report_of_saved_frames(error.report, outputs)
                print_final_summary(with_sink_notes(report, outputs), console)
            message = error.cause if isinstance(error.cause, VideoWriteError) else error
            print(f"live run: error: {message}", file=sys.stderr)
            return 1
    notes, signed = c2pa.sign_recordings(outputs, args.model, stages.card, signing, "live run")  # once closed
    summary = with_sink_notes(report, outputs)
    print_final_summary(dataclasses.replace(summary, notes=summary.notes + notes), console)
    warn_skipped(source)
    if warning := checks.pace_warning(report, configs, not args.no_pace, kind):
        print(warning, file=sys.stderr)
    return 0 if signed else 1  # the recording is kept, unsigned: one error line said so
