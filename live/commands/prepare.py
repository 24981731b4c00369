"""`live prepare VIDEO... --out DATASET --consent TEXT [--size 256]`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from live.commands.progress_options import add_log_argument, logging_progress
from live.formats.consent import CONSENT_EXAMPLE, MINIMUM_WORDS, check_consent
from live.formats.dataset import CROP_SIZES_PX, check_crop_size
from live.offline.prepare import PrepareConfig, prepare_dataset
from live.offline.recording_checks import look_at_recording, recording_problems
from live.offline.sidecar import sidecar_consent


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
        help=f"required: who consented, to what, and when, in at least {MINIMUM_WORDS} words ({CONSENT_EXAMPLE}); "
        "by default the one in the videos' `live record` sidecars (VIDEO.json)",
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
    add_log_argument(parser)


def warn_about_recordings(videos: list[Path]) -> None:
    """One warning line per problem of the recordings (live.offline.recording_checks): too dark, too short,
    faceless, two faces. Videos that cannot be read are left to prepare_dataset, which names them."""
    readable = [video for video in videos if video.is_file()]
    looks = [look_at_recording(video) for video in readable]
    for line in recording_problems(looks) if looks and len(looks) == len(videos) else []:
        print(f"warning: {line}", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    config = PrepareConfig(
        videos=tuple(args.videos),
        out=args.out,
        consent=args.consent,
        size_px=args.size,
        skip_hands=not args.keep_hands,
    )
    # (prepare_dataset checks both again) before the recordings are looked at
    check_consent(sidecar_consent(args.videos, args.consent))
    check_crop_size(args.size)
    with logging_progress(args):
        warn_about_recordings(list(args.videos))
        manifest = prepare_dataset(config)
    counts = manifest.counts
    print(f"wrote {args.out}: {counts['frames']} frames ({counts['train']} train, {counts['val']} val)")
    return 0
