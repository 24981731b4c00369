"""`--c2pa-cert/--c2pa-key/--no-c2pa` on `live run` and `live demo`: the signing configuration, checked before
the run starts, and the signing of the recordings once they are closed (live.io.provenance)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable
from pathlib import Path

from live.errors import UsageError
from live.formats.card import ModelCard
from live.io.c2pa_keys import default_folder, development_pair
from live.io.provenance import (
    SIGNED_FORMATS,
    UNSIGNED_FORMATS,
    ModelClaim,
    SigningConfig,
    SigningError,
    check_signing,
    model_claim,
    sign_recording,
    unsigned_reason,
)
from live.pipeline.presenter import Output


def add_c2pa_arguments(parser: argparse.ArgumentParser) -> None:
    """The signing options."""
    group = parser.add_argument_group("provenance (C2PA): recordings are signed as AI-generated when they close")
    group.add_argument(
        "--c2pa-cert",
        type=Path,
        default=None,
        metavar="PEM",
        help="signing certificate chain (default: a development certificate made on first use in "
        "$XDG_CONFIG_HOME/live/c2pa)",
    )
    group.add_argument("--c2pa-key", type=Path, default=None, metavar="PEM", help="the private key of --c2pa-cert")
    group.add_argument("--no-c2pa", action="store_true", help="do not sign recordings")


def signing_config(args: argparse.Namespace, recording_paths: Iterable[Path]) -> SigningConfig:
    """The SigningConfig of the options, checked (UsageError, one line, before anything opens). Without
    --c2pa-cert, the development pair is made now when a recording will be signed and there is none yet."""
    certificate, key = args.c2pa_cert, args.c2pa_key
    if args.no_c2pa:
        if certificate is not None or key is not None:
            raise UsageError("--no-c2pa with --c2pa-cert/--c2pa-key: give one or the other")
        return SigningConfig(enabled=False)
    if (certificate is None) != (key is None):
        raise UsageError("--c2pa-cert and --c2pa-key go together: give both, or neither for the development pair")
    if certificate is not None:
        config = SigningConfig(enabled=True, certificate_path=certificate, key_path=key)
        check_signing(config)
        return config
    if not any(path.suffix.lower() in SIGNED_FORMATS for path in recording_paths):
        return SigningConfig(enabled=False)  # nothing to sign: no development pair is made
    certificate, key = development_pair(default_folder())
    config = SigningConfig(enabled=True, certificate_path=certificate, key_path=key)
    check_signing(config, ("the development certificate", "the development key"))
    return config


def finished_recordings(outputs: Iterable[Output]) -> list[Path]:
    """The video files of these outputs that hold frames and were written without a failure."""
    recordings = []
    for output in outputs:
        path = getattr(output.sink, "path", None)
        if path is None or Path(path).suffix.lower() not in SIGNED_FORMATS.keys() | UNSIGNED_FORMATS.keys():
            continue
        if getattr(output.sink, "frames_saved", 0) > 0 and not getattr(output.sink, "failure", None):
            recordings.append(Path(path))
    return recordings


def sign_recordings(
    outputs: Iterable[Output], model_path: Path, card: ModelCard, config: SigningConfig, command: str
) -> tuple[tuple[str, ...], bool]:
    """Sign the closed recordings of these outputs: (one note each for the summary, whether every one that
    could be signed was). A recording that could not be signed is kept unsigned, with one line on stderr."""
    notes, all_signed, claim = [], True, None
    for path in finished_recordings(outputs):
        try:
            if claim is None and config.enabled and unsigned_reason(path) is None:
                claim = _model_claim(model_path, card, path)
            notes.append(sign_recording(path, claim, config))
        except SigningError as error:
            notes.append(str(error))
            print(f"{command}: error: {error}", file=sys.stderr)
            all_signed = False
    return tuple(notes), all_signed


def _model_claim(model_path: Path, card: ModelCard, recording: Path) -> ModelClaim:
    """The model's claim; SigningError naming the recording when the model file cannot be read any more."""
    try:
        return model_claim(model_path, card)
    except OSError as error:
        reason = f"cannot read the model {model_path} ({error.strerror or error})"
        raise SigningError(f"{recording}: not signed (C2PA): {reason}; the unsigned recording is kept") from error
