"""`live export RUN --out models/NAME.onnx` (needs the `train` extra)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from live.errors import UsageError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_folder", type=Path, metavar="RUN", help="a folder made by `live train`")
    parser.add_argument(
        "--out", type=Path, required=True, help="the .onnx file to write (NAME.md is written beside it)"
    )
    parser.add_argument(
        "--notes",
        type=Path,
        default=None,
        help="a text/Markdown file of notes for the card (what was tried, why these settings)",
    )


def run(args: argparse.Namespace) -> int:
    try:
        from live.training.export_run import export_run
        from live.training.onnx_export import ExportError
    except ImportError as error:
        raise UsageError(f"export needs torch and onnx ({error}): pip install 'live[train]'") from error
    notes = _read_notes(args.notes) if args.notes is not None else ""
    try:
        card, difference = export_run(args.run_folder, args.out, notes=notes)
    except ExportError as error:
        print(f"live export: error: {error}", file=sys.stderr)
        return 1
    print(
        f"wrote {args.out} ({card.size_px}x{card.size_px}, ngf {card.architecture['ngf']}, "
        f"step {card.training['steps_done']}); ORT vs torch max abs difference {difference:.1e}; "
        f"card {args.out.with_suffix('.md')}"
    )
    return 0


def _read_notes(path: Path) -> str:
    """The --notes file's text; UsageError when it is missing, unreadable or not UTF-8 text."""
    if not path.is_file():
        raise UsageError(f"--notes {path}: no such file")
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) else "not UTF-8 text"
        raise UsageError(f"--notes {path}: cannot read it ({reason}): give a readable UTF-8 text file") from error
