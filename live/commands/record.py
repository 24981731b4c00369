"""`live record --out me.mp4 --consent TEXT [--source 0] [--no-window]`: a guided recording to make an avatar from.

A window walks the person through about two minutes of prompts (read the consent aloud, a neutral face, head
turns, blinks, smiles, a grin, the mouth wide open, brows up, a frown, a passage read aloud) while a meter shows
`live prepare`'s coverage bins filling; the video is written at the camera's size, and NAME.mp4.json beside it
(consent, prompt timeline, coverage, neutral frame), which `live prepare` reads.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from live.formats.consent import CONSENT_EXAMPLE, MINIMUM_WORDS
from live.ui.record_session import RecordConfig, record


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, required=True, help="the video to write (.mp4: H.264 CRF 14; .avi: MJPEG)")
    parser.add_argument(
        "--consent",
        default="",
        help=f"required: who consents, to what, and when, in at least {MINIMUM_WORDS} words ({CONSENT_EXAMPLE}); "
        "the first prompt asks to read it aloud",
    )
    parser.add_argument(
        "--source", default="0", help="webcam index, or a video file or named pipe to take the frames from (default: 0)"
    )
    parser.add_argument("--width", type=int, default=0, help="camera width to request in pixels (default: its own)")
    parser.add_argument("--height", type=int, default=0, help="camera height to request in pixels (default: its own)")
    parser.add_argument("--fps", type=float, default=0.0, help="camera frame rate to request (default: its own)")
    parser.add_argument(
        "--no-window", action="store_true", help="no window: the prompts and conditions go to the log only"
    )
    parser.add_argument(
        "--size", type=int, default=256, help="the head crop `live prepare --size` will cut (default 256)"
    )
    parser.add_argument(
        "--max-frames", type=int, default=0, help="stop after this many frames (default 0: at the script's end)"
    )
    parser.add_argument(
        "--end-screen",
        type=float,
        default=20.0,
        metavar="SECONDS",
        help="longest stay of the end screen; a key or closing the window ends it sooner (default 20)",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace an existing --out video")


def run(args: argparse.Namespace) -> int:
    config = RecordConfig(
        out=args.out,
        consent=args.consent,
        source=args.source,
        window=not args.no_window,
        max_frames=args.max_frames,
        size_px=args.size,
        width_px=args.width,
        height_px=args.height,
        fps=args.fps,
        end_screen_s=args.end_screen,
        overwrite=args.overwrite,
    )
    result = record(config)
    print(f"wrote {result.video} ({result.sidecar.frames} frames) and its sidecar {result.video}.json")
    print(
        f"next: live make {result.video} --minutes 30 --out models/NAME.onnx, or live prepare {result.video} "
        "--out DATASET (the consent and the neutral face come from the sidecar)"
    )
    return 0
