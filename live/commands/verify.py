"""`live verify FILE`: print a recording's C2PA manifest (what made it, with which model, who signed it) and
whether it still holds.

Exit 0 only when the file is signed and unchanged since: validation state "Trusted", or "Valid" where the one
failed check is the signer's trust (a self-made certificate, such as the development one `live run` makes, is on
no trust list). Such a signature proves the file is as it was signed by whoever holds that key; it does not prove
who that is. Exit 1 when the file is unsigned, changed, or its manifest is invalid; 2 for a usage error.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from live.errors import UsageError
from live.io.c2pa_read import INTACT_STATES, UNTRUSTED_SIGNER, ProvenanceReport, read_provenance

STATE_LINES = {
    "unsigned": "unsigned",
    "unsupported": "unsigned",
    "Invalid": "INVALID: changed after it was signed, or its manifest does not hold",
    "Valid": "signed and unchanged since; the signer's certificate is on no trust list (self-made?): "
    "this proves the file is as signed by whoever holds that key, not who that is",
    "Trusted": "signed and unchanged since, by a signer whose certificate chains to a given trust anchor",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The `live verify` options."""
    parser.add_argument("file", type=Path, help="a recording (.mp4, .avi) written by `live run` or `live demo`")
    parser.add_argument(
        "--trust-anchors",
        type=Path,
        default=None,
        metavar="PEM",
        help="CA certificates (PEM) to trust: a signer chaining to one reports Trusted (default: none, offline)",
    )


def _printable(value: object) -> str:
    """A manifest's string as plain text: control characters (a terminal escape) shown as \\xNN."""
    return "".join(character if character.isprintable() else f"\\x{ord(character):02x}" for character in str(value))


def _check_readable(path: Path, option: str) -> None:
    if not path.exists():
        raise UsageError(f"{option}{path}: no such file")
    if not path.is_file():
        raise UsageError(f"{option}{path}: not a file; name a recording")
    if not os.access(path, os.R_OK):
        raise UsageError(f"{option}{path}: not readable (permission)")


def report_lines(report: ProvenanceReport) -> list[str]:
    """What `live verify` prints for one file."""
    if report.state in INTACT_STATES and not report.intact:  # a failure beyond the signer's trust
        state = STATE_LINES["Invalid"]
    else:
        state = STATE_LINES.get(report.state, STATE_LINES["Invalid"])
    lines = [f"{_printable(report.path)}: {state}" + (f": {_printable(report.reason)}" if report.reason else "")]
    if report.state in ("unsigned", "unsupported"):
        return lines
    lines.append(f"  validation state: {_printable(report.state)}")
    if report.claim_generator:
        lines.append(f"  claim generator: {_printable(report.claim_generator)}")
    for action, source_type in report.actions:
        lines.append(f"  action: {_printable(action)}, digitalSourceType {_printable(source_type) or '(none)'}")
    if report.model:
        model = report.model
        consent = model.get("consent_sha256") or "(the model's card has no consent statement)"
        lines.append(f"  model: {_printable(model.get('name', '?'))}")
        lines.append(f"  model sha256: {_printable(model.get('model_sha256', '?'))}")
        lines.append(f"  consent statement sha256: {_printable(consent)}")
    if report.signer_subject:
        lines.append(f"  signer: {_printable(report.signer_subject)}; issuer: {_printable(report.signer_issuer)}")
    for failure in report.failures:  # the signer's trust, or what no longer holds
        lines.append(f"  {'trust' if failure.startswith(UNTRUSTED_SIGNER) else 'failed'}: {_printable(failure)}")
    return lines


def run(args: argparse.Namespace) -> int:
    """Print the file's manifest and validation; 0 when signed and intact, 1 otherwise."""
    _check_readable(args.file, "")
    anchors = None
    if args.trust_anchors is not None:
        _check_readable(args.trust_anchors, "--trust-anchors ")
        anchors = args.trust_anchors.read_text(encoding="utf-8", errors="replace")
    report = read_provenance(args.file, anchors)
    for line in report_lines(report):
        print(line)
    return 0 if report.intact else 1
