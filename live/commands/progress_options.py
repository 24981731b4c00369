"""`--log FILE` for the commands whose long steps show progress (live.progress)."""

from __future__ import annotations

import argparse
from contextlib import AbstractContextManager
from pathlib import Path

from live.progress import progress_log_to


def add_log_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--log",
        type=Path,
        metavar="FILE",
        help="when stdout is not a terminal, also append the progress lines to FILE (they go to stdout every "
        "15 s and at each step's end)",
    )


def logging_progress(args: argparse.Namespace) -> AbstractContextManager[None]:
    """Progress lines go to args.log too (when given) within the block."""
    return progress_log_to(args.log)
