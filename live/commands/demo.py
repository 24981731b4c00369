"""`live demo`: the shipped default avatar driven by the shipped clip (or `--source 0`, a webcam).

Writes demo.mp4 (driver | sketch | avatar side by side) and a PNG contact
strip, prints the summary table, and opens the preview window when a display
exists. Runs on a machine with no camera, display or GPU.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from contextlib import ExitStack
from pathlib import Path

import cv2
import numpy as np
from rich.console import Console

from live.commands import c2pa_options as c2pa
from live.commands.output_checks import check_distinct_paths, key_color_note
from live.commands.pipeline_options import add_background_arguments, background_config, pipeline_config
from live.commands.run import DEFAULT_OUTPUT_FPS
from live.engines.generator import DEVICES, GeneratorSessionConfig
from live.errors import UsageError
from live.face.retarget import RETARGET_MODES, RetargetConfig
from live.io.sinks import SinkConfig, display_problem, open_sink
from live.io.sources import SourceConfig, open_source, source_kind
from live.io.video_writer import check_video_path
from live.pipeline.presenter import Output
from live.pipeline.run import open_stages, run_pipeline
from live.pipeline.threads import StageError
from live.ui.dashboard import Dashboard, print_final_summary

REPOSITORY = Path(__file__).resolve().parents[2]
DEFAULT_MODEL = REPOSITORY / "models" / "jwp.onnx"
DEFAULT_CLIP = REPOSITORY / "data" / "jwp_office.mp4"
PANEL_HEIGHT_PX = 256
STRIP_FRAMES = 6
STRIP_MAX_WIDTH_PX = 1024  # the contact strip (README picture) is scaled down to this width


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The `live demo` options."""
    parser.add_argument(
        "--model", type=Path, default=DEFAULT_MODEL, help=f"avatar model (default: the shipped {DEFAULT_MODEL.name})"
    )
    parser.add_argument(
        "--source",
        default=str(DEFAULT_CLIP),
        help="driving video, image folder or webcam index "
        "(default: the shipped clip, not in the avatar's training frames)",
    )
    parser.add_argument(
        "--out", type=Path, default=Path("demo.mp4"), help="side-by-side video to write (default demo.mp4)"
    )
    parser.add_argument("--strip", type=Path, default=None, help="contact strip PNG (default: OUT with _strip.png)")
    parser.add_argument(
        "--no-window", action="store_true", help="do not open the preview window even when a display exists"
    )
    parser.add_argument(
        "--no-pace", action="store_true", help="render every frame as fast as possible instead of in real time"
    )
    parser.add_argument("--device", choices=DEVICES, default="auto", help="where the generator runs (default auto)")
    parser.add_argument("--retarget", choices=RETARGET_MODES, default="full", help="retargeting mode (default full)")
    parser.add_argument(
        "--max-frames", type=int, default=0, help="stop after this many input frames (0: the whole clip)"
    )
    add_background_arguments(parser)
    c2pa.add_c2pa_arguments(parser)


def run(args: argparse.Namespace) -> int:
    """Run the demo; 0, or 1 when a stage failed."""
    if not args.model.is_file():
        raise UsageError(
            f"no avatar model at {args.model}: run the demo from a clone of the repository "
            "(models/ holds the default avatar) or pass --model"
        )
    is_camera = source_kind(args.source) == "camera"
    generator = GeneratorSessionConfig(model_path=args.model, device=args.device)
    retarget = RetargetConfig(mode=args.retarget)
    background = background_config(args)
    config = pipeline_config(
        generator,
        retarget,
        pace=not args.no_pace,
        is_camera=is_camera,
        max_frames=args.max_frames,
        background=background,
    )
    console = Console()
    strip_path = args.strip or args.out.with_name(args.out.stem + "_strip.png")
    paths = [("--out", args.out), ("--strip", strip_path)]
    check_distinct_paths(paths if is_camera else [("--source", Path(args.source)), *paths])
    check_video_path(args.out)
    signing = c2pa.signing_config(args, [args.out])
    with ExitStack() as stack:
        stages = stack.enter_context(open_stages(config))
        source = stack.enter_context(open_source(SourceConfig(args.source)))
        fps = source.fps or DEFAULT_OUTPUT_FPS
        avatar_size_px = tuple(stages.card.plate_size_px)
        outputs = [_side_by_side_file(stack, args.out, fps, source.size_px, avatar_size_px)]
        sink_configs = [SinkConfig(kind="file", path=args.out)]
        if not args.no_window and display_problem() is None:
            window = open_sink(SinkConfig(kind="window", fps=fps), avatar_size_px)
            stack.callback(window.close)
            outputs.append(Output(window, preview=True))
            sink_configs.append(SinkConfig(kind="window"))
        if note := key_color_note(background, outputs, sink_configs):
            print(f"live demo: {note}", file=sys.stderr)
        try:
            with Dashboard(console) as dashboard:
                report = run_pipeline(config, source, outputs, stages, dashboard)
        except StageError as error:
            if error.report is not None:
                print_final_summary(error.report, console)
            print(f"live demo: error: {error}", file=sys.stderr)
            return 1
    notes, signed = c2pa.sign_recordings(outputs, args.model, stages.card, signing, "live demo")  # once closed
    print_final_summary(dataclasses.replace(report, notes=report.notes + notes), console)
    frames = write_contact_strip(args.out, strip_path)
    console.print(f"wrote {args.out} (driver | sketch | avatar) and {strip_path} ({frames} frames)", markup=False)
    return 0 if signed else 1  # the recording is kept, unsigned: one error line said so


def _side_by_side_file(
    stack: ExitStack, path: Path, fps: float, driver_size_px: tuple[int, int], avatar_size_px: tuple[int, int]
) -> Output:
    """driver | sketch | avatar at the avatar's native height (at least PANEL_HEIGHT_PX)."""
    height_px = max(PANEL_HEIGHT_PX, avatar_size_px[1])
    panel_widths_px = [round(height_px * width / height) for width, height in (driver_size_px, avatar_size_px)]
    frame_size_px = (panel_widths_px[0] + height_px + panel_widths_px[1], height_px)
    sink = open_sink(SinkConfig(kind="file", path=path, fps=fps), frame_size_px)
    stack.callback(sink.close)
    return Output(sink, side_by_side_height_px=height_px)


def write_contact_strip(video_path: Path, strip_path: Path, count: int = STRIP_FRAMES) -> int:
    """Evenly spaced frames of the written video, stacked into one PNG; returns how many.
    Only the chosen frames are kept in memory (a long webcam demo can be minutes of video)."""
    capture = cv2.VideoCapture(str(video_path))
    try:
        total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
        wanted = set(np.linspace(0, total - 1, min(count, total)).astype(int).tolist()) if total > 0 else set()
        chosen = []
        for index in range(total):
            ok, frame = capture.read()
            if not ok:
                break
            if index in wanted:
                chosen.append(frame)
    finally:
        capture.release()
    if not chosen:
        raise UsageError(f"{video_path} holds no frames: the driver's face was never rendered")
    strip_path.parent.mkdir(parents=True, exist_ok=True)
    strip = np.vstack(chosen)
    if strip.shape[1] > STRIP_MAX_WIDTH_PX:  # the video is at the avatar's own size; the picture need not be
        scale = STRIP_MAX_WIDTH_PX / strip.shape[1]
        strip = cv2.resize(strip, (STRIP_MAX_WIDTH_PX, round(strip.shape[0] * scale)), interpolation=cv2.INTER_AREA)
    if not cv2.imwrite(str(strip_path), strip):
        raise UsageError(f"cannot write {strip_path}: give --strip a writable path ending in .png")
    return len(chosen)


__all__ = ["run", "add_arguments", "write_contact_strip"]
