"""`live eval MODEL.onnx DATASET [--split val] [--json OUT.json] [--strip OUT.png] [--store-in-card]`."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rich.console import Console

from live.commands.pipeline_options import add_render_arguments
from live.commands.progress_options import add_log_argument, logging_progress
from live.engines.generator import DEVICES
from live.errors import UsageError
from live.offline.eval_report import dataset_note, results_table, store_in_card, write_strip
from live.offline.evaluate import SPLITS, EvalConfig, evaluate


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", type=Path, metavar="MODEL.onnx", help="a model written by `live export`")
    parser.add_argument(
        "dataset",
        type=Path,
        metavar="DATASET",
        help="the dataset folder (`live prepare`) the model was trained on (else --other-dataset)",
    )
    parser.add_argument(
        "--split", choices=SPLITS, default="val", help="frames to evaluate on (default val: held out from training)"
    )
    parser.add_argument("--json", type=Path, metavar="OUT.json", help="write every number to this JSON file")
    parser.add_argument(
        "--strip",
        type=Path,
        metavar="OUT.png",
        help="write rows of sketch | real | generated | nearest frame for 6 frames",
    )
    parser.add_argument(
        "--store-in-card",
        action="store_true",
        help="store a summary in the model card (rewrites MODEL.onnx and MODEL.md; needs onnx)",
    )
    parser.add_argument(
        "--other-dataset",
        action="store_true",
        help="score a dataset other than the one the model was trained on (its card names it); such figures are "
        "not the model's and are never stored in the card",
    )
    parser.add_argument("--device", choices=DEVICES, default="auto", help="ONNX Runtime device (default auto)")
    parser.add_argument(
        "--compare",
        action="append",
        default=[],
        metavar="NAME=FOLDER",
        help="also score other outputs of the same frames (FOLDER/NNNNNN.png by frame number, the video's size)",
    )
    parser.add_argument(
        "--no-body-follow",
        action="store_true",
        help="keep the plate's person still (default: moved to each real frame's body, as `live run` moves it)",
    )
    add_render_arguments(parser)
    add_log_argument(parser)


def run(args: argparse.Namespace) -> int:
    if args.store_in_card and args.other_dataset:
        raise UsageError(
            "--store-in-card with --other-dataset: figures on a dataset the model was not trained on are never "
            "stored in its card; drop one of them"
        )
    compare = []
    for text in args.compare:
        name, separator, folder = text.partition("=")
        if not separator or not name or not Path(folder).is_dir():
            raise UsageError(f"--compare {text!r}: give NAME=FOLDER with an existing folder of NNNNNN.png frames")
        compare.append((name, Path(folder)))
    config = EvalConfig(
        args.model,
        args.dataset,
        args.split,
        args.device,
        tuple(compare),
        not args.no_body_follow,
        not args.no_eye_warp,
        not args.no_head_follow,
        not args.no_corner_warp,
        args.other_dataset,
    )
    with logging_progress(args):
        result = evaluate(config)
    Console().print(results_table(result.report))
    note = dataset_note(result.report)
    if note:
        print(note)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result.report, indent=1, allow_nan=False) + "\n")
        print(f"wrote {args.json}")
    if args.strip:
        write_strip(result, args.strip)
        print(f"wrote {args.strip}")
    if args.store_in_card:
        store_in_card(args.model, result.report)
        print(f"stored the metrics in the card of {args.model} and {args.model.with_suffix('.md')}")
    return 0
