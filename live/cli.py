"""Drive a trained face avatar from your webcam in real time; make, measure and benchmark your own avatar.

The `live` command has one subcommand per module in live/commands; each command module has
`add_arguments(parser)` and `run(args) -> int`.
Usage errors (UsageError) print one line and exit 2.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import NoReturn

from live.errors import UsageError

# name -> (module, one-line help). Modules are imported only when their command runs,
# so `live run` never imports torch.
COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("live.commands.run", "drive an avatar from a webcam, video or image folder"),
    "demo": ("live.commands.demo", "run the shipped avatar on the shipped driving clip"),
    "cameras": ("live.commands.cameras", "list the cameras that open"),
    "record": ("live.commands.record", "record yourself, guided by prompts and a coverage meter, to make an avatar"),
    "prepare": ("live.commands.prepare", "turn videos of a consenting target into a dataset"),
    "train": ("live.commands.train", "train a pix2pix generator on a dataset"),
    "export": ("live.commands.export", "export a training run to ONNX with its model card"),
    "eval": ("live.commands.eval", "measure a model's quality on held-out frames"),
    "drive-eval": ("live.commands.drive_eval", "measure how well a model follows driver clips (expression, pose)"),
    "make": ("live.commands.make", "turn a recording into a running avatar within a time budget"),
    "bench": ("live.commands.bench", "measure speed: stages, pipeline vs sequential loop, latency"),
    "verify": ("live.commands.verify", "check a recording's C2PA manifest: signed as AI-generated, unchanged since"),
}


class _Parser(argparse.ArgumentParser):
    """Argument errors as one line (what is wrong, where to look), exit 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The top-level parser; with `command`, only that subcommand's arguments are added."""
    parser = _Parser(prog="live", description=__doc__.splitlines()[0])
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True, parser_class=_Parser)
    for name, (module_name, help_text) in COMMANDS.items():
        subparser = subparsers.add_parser(name, help=help_text, description=help_text)
        if name == command:
            importlib.import_module(module_name).add_arguments(subparser)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `live` console script."""
    argv = sys.argv[1:] if argv is None else argv
    command = next((word for word in argv if not word.startswith("-")), None)
    if command not in COMMANDS:
        command = None
    parser = build_parser(command)
    args = parser.parse_args(argv)
    module = importlib.import_module(COMMANDS[args.command][0])
    try:
        return int(module.run(args) or 0)
    except UsageError as error:
        print(f"live {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"live {args.command}: interrupted", file=sys.stderr)
        return 130
