"""`live prepare VIDEO... --out DATASET --consent TEXT [--size 256]`."""

from __future__ import annotations

import argparse
from pathlib import Path

from live.formats.consent import CONSENT_EXAMPLE, MINIMUM_WORDS
from live.formats.dataset import CROP_SIZES_PX
from live.offline.prepare import PrepareConfig, prepare_dataset


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "videos",
        nargs="+",
        type=Path,
        metavar="VIDEO",
        help="recordings of the target (one face, looking at the camera)",
    )
    parser.add_argument("--out", type=Path, required=True, help="dataset folder to create")
    parser.add_argument(
        "--consent",
        default="",
        help=f"required: who consented, to what, and when, in at least {MINIMUM_WORDS} words ({CONSENT_EXAMPLE})",
    )
    parser.add_argument(
        "--size",
        type=int,
        default=256,
        help=f"side of the square head crop in pixels: {', '.join(map(str, CROP_SIZES_PX))} (default 256; 512 for "
        "a GPU)",
    )
    parser.add_argument(
        "--keep-hands",
        action="store_true",
        help="keep frames with a hand over the face (by default they are skipped: the sketch cannot show a hand)",
    )


def run(args: argparse.Namespace) -> int:
    config = PrepareConfig(
        videos=tuple(args.videos),
        out=args.out,
        consent=args.consent,
        size_px=args.size,
        skip_hands=not args.keep_hands,
    )
    manifest = prepare_dataset(config)
    counts = manifest.counts
    print(f"wrote {args.out}: {counts['frames']} frames ({counts['train']} train, {counts['val']} val)")
    return 0
