"""`live bench --model M.onnx --source CLIP [--seconds 20] [--json OUT.json]`

Measure speed side by side in one run: the generator alone (and pix2pix's unet_256 when torch is
installed), landmarks / retarget / sketch alone, the threaded pipeline against a sequential loop
of the same stages, and the pipeline paced at 30 fps (latency, drops, CPU, memory, first output); then the
web output beside the virtual camera in one paced run, watched by a headless Chromium (latency, encode, CPU).
Takes about 4x --seconds. Prints a table; --json writes every figure with the machine's description.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

from rich.console import Console

from live.bench.measure import BenchConfig, run_bench
from live.bench.report import print_bench_table, result_json
from live.bench.web_cost import measure_web_beside_vcam, web_table
from live.commands.pipeline_options import add_generator_workers_argument
from live.engines.generator import DEVICES
from live.engines.landmarks import LandmarkConfig
from live.errors import UsageError

NON_TERMINAL_WIDTH = 130


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The `live bench` options."""
    parser.add_argument("--model", type=Path, required=True, help="an .onnx generator written by `live export`")
    parser.add_argument(
        "--source", required=True, help="a video file or folder of images with a face (looped as needed)"
    )
    parser.add_argument(
        "--seconds", type=float, default=20.0, help="time per phase in seconds (default 20; the run takes about 4x)"
    )
    parser.add_argument(
        "--json", type=Path, metavar="OUT.json", help="write every figure and the machine's description here"
    )
    parser.add_argument("--device", choices=DEVICES, default="auto", help="where the generator runs (default auto)")
    parser.add_argument(
        "--threads", type=int, default=0, help="CPU threads for one generator run (0: the default of `live run`)"
    )
    add_generator_workers_argument(parser)
    parser.add_argument(
        "--detect-width",
        type=int,
        default=None,
        metavar="PX",
        help="downscale frames to this width for MediaPipe (0: full size; default: as `live run`)",
    )
    parser.add_argument("--fps", type=float, default=30.0, help="input rate of the paced phase (default 30)")
    parser.add_argument(
        "--no-reference", action="store_true", help="do not export and time pix2pix unet_256 (which needs torch)"
    )


def bench_config(args: argparse.Namespace) -> BenchConfig:
    """The frozen bench configuration from the command line."""
    if args.threads < 0 or args.generator_workers < 0 or (args.detect_width is not None and args.detect_width < 0):
        raise UsageError("--threads, --generator-workers and --detect-width must be 0 or more")
    landmarks = (
        LandmarkConfig()
        if args.detect_width is None
        else dataclasses.replace(LandmarkConfig(), detect_width_px=args.detect_width)
    )
    return BenchConfig(
        model_path=args.model,
        source_text=args.source,
        seconds_per_phase=args.seconds,
        device=args.device,
        intra_op_threads=args.threads,
        generator_workers=args.generator_workers,
        landmarks=landmarks,
        paced_fps=args.fps,
        reference=not args.no_reference,
    )


def run(args: argparse.Namespace) -> int:
    """Run every phase, print the table, write the JSON."""
    config = bench_config(args)
    console = Console()
    console = console if console.is_terminal else Console(width=NON_TERMINAL_WIDTH)  # logs keep whole rows

    def progress(text: str) -> None:
        print(f"live bench: {text}", file=sys.stderr, flush=True)

    data = result_json(run_bench(config, progress=progress))
    progress("web output beside the virtual camera, paced (a headless Chromium watches)")
    data["web_beside_vcam"] = measure_web_beside_vcam(config)
    print_bench_table(data, console)
    console.print(web_table(data["web_beside_vcam"]))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(data, indent=1, allow_nan=False) + "\n")
        print(f"wrote {args.json}")
    return 0
