"""`live cameras`: list the webcams that open, with the size and frame rate they deliver."""

from __future__ import annotations

import argparse

from live.capture import list_cameras


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The `live cameras` options."""
    parser.add_argument("--max-index", type=int, default=10, help="try camera indices 0 .. N-1 (default 10)")


def run(args: argparse.Namespace) -> int:
    """Print one line per camera that opens, or one line saying none did."""
    cameras = list_cameras(args.max_index)
    if not cameras:
        print(f"no camera opened (tried indices 0-{args.max_index - 1}): plug one in, or close the program using it")
        return 0
    for camera in cameras:
        width_px, height_px = camera.size_px
        fps_text = f"{camera.fps:.1f} fps" if camera.fps else "fps not reported"
        print(f"camera {camera.index}: {width_px}x{height_px} @ {fps_text}  (live run --source {camera.index})")
    return 0
