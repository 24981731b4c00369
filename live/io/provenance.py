"""Recordings that say they are synthetic: a C2PA manifest signed into a finished .mp4 or .avi.

The manifest holds a `c2pa.actions` assertion with one `c2pa.created` action whose digitalSourceType is IPTC's
trainedAlgorithmicMedia (made by a trained model), the software and its version (claim_generator_info and the
action's softwareAgent), and an `org.live.model` assertion: the model's name, the sha256 of the model file and
the sha256 of the UTF-8 bytes of its card's consent statement (the statement itself is not in the file).

Signing reads the closed recording and writes the signed copy to a temporary file beside it, flushed to disk,
then renamed over it: a signing that fails leaves the unsigned recording as it was. No timestamp authority is
asked (nothing goes over the network), so the signature carries no trusted time. WebM is no C2PA format
(c2pa-python 0.38 refuses it): a .webm recording is left unsigned, and says so.
"""

from __future__ import annotations

import hashlib
import io
import os
import stat
import tempfile
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import BinaryIO

from live.errors import UsageError
from live.formats.card import ModelCard
from live.io.c2pa_keys import SigningCredentials, load_credentials

SIGNED_FORMATS = {".mp4": "video/mp4", ".avi": "video/x-msvideo"}  # what the C2PA SDK embeds a manifest in
UNSIGNED_FORMATS = {".webm": "C2PA does not support .webm"}  # recordings left unsigned, and why
TRAINED_ALGORITHMIC_MEDIA = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
MODEL_ASSERTION = "org.live.model"
SOFTWARE = "live"


@dataclass(frozen=True, slots=True)
class SigningConfig:
    """Whether recordings are signed, and with which certificate chain and key (PEM files; the CLI names the
    development pair when the user gives none)."""

    enabled: bool = False
    certificate_path: Path | None = None
    key_path: Path | None = None

    def __post_init__(self) -> None:
        if self.enabled and (self.certificate_path is None or self.key_path is None):
            raise ValueError("SigningConfig: signing needs a certificate_path and a key_path")


@dataclass(frozen=True, slots=True)
class ModelClaim:
    """What a recording says about the model that made it: its name and the sha256 (hex) of the model file
    and of its consent statement (None when the card has none)."""

    name: str
    model_sha256: str
    consent_sha256: str | None


class SigningError(Exception):
    """A recording could not be signed: one line naming the file and the cause (the recording is kept)."""


def file_sha256(path: Path) -> str:
    """The sha256 of a file's bytes, in hex."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def text_sha256(text: str) -> str:
    """The sha256 of a text's UTF-8 bytes, in hex."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def model_claim(model_path: Path, card: ModelCard) -> ModelClaim:
    """The claim about the model at `model_path` (its card: `card`)."""
    consent = card.provenance.get("consent")
    consent_sha256 = text_sha256(consent) if isinstance(consent, str) and consent else None
    return ModelClaim(name=card.name, model_sha256=file_sha256(model_path), consent_sha256=consent_sha256)


def software_version() -> str:
    """The installed version of live ("unknown" when it runs from a folder that was never installed)."""
    try:
        return metadata.version(SOFTWARE)
    except metadata.PackageNotFoundError:
        return "unknown"


def manifest_definition(claim: ModelClaim, title: str) -> dict:
    """The manifest a recording is signed with (c2pa-python's Builder definition)."""
    software = {"name": SOFTWARE, "version": software_version()}
    created = {"action": "c2pa.created", "digitalSourceType": TRAINED_ALGORITHMIC_MEDIA, "softwareAgent": software}
    model = {"name": claim.name, "model_sha256": claim.model_sha256, "consent_sha256": claim.consent_sha256}
    return {
        "claim_generator_info": [software],
        "title": title,
        "assertions": [
            {"label": "c2pa.actions", "data": {"actions": [created]}},
            {"label": MODEL_ASSERTION, "data": model},
        ],
    }


def unsigned_reason(path: Path) -> str | None:
    """Why a recording at `path` is not signed (its format), or None when it can be."""
    suffix = path.suffix.lower()
    if suffix in SIGNED_FORMATS:
        return None
    return UNSIGNED_FORMATS.get(suffix, f"C2PA does not support {suffix or 'files without a suffix'}")


def sign_recording(path: Path, claim: ModelClaim | None, config: SigningConfig) -> str:
    """Sign the finished recording at `path` in place; one line saying what was done (signed, or not signed for
    its format or --no-c2pa). SigningError (one line; the unsigned recording is kept) when it cannot be signed.

    claim: what the recording says about its model (may be None only where nothing is signed)."""
    if reason := unsigned_reason(path):
        return f"{path}: not signed: {reason}"
    if not config.enabled or config.certificate_path is None or config.key_path is None:
        return f"{path}: not signed (--no-c2pa)"
    if claim is None:
        raise ValueError("sign_recording: a recording is signed with a claim about its model")
    import c2pa  # a native library: loaded only when a recording is signed

    started_s = time.perf_counter()
    try:
        credentials = load_credentials(config.certificate_path, config.key_path)
        _sign_in_place(Path(os.path.realpath(path)), SIGNED_FORMATS[path.suffix.lower()], claim, credentials)
    except (UsageError, c2pa.C2paError) as error:
        raise SigningError(f"{path}: not signed (C2PA): {error}; the unsigned recording is kept") from error
    except OSError as error:
        reason = error.strerror or str(error)
        raise SigningError(f"{path}: not signed (C2PA): {reason}; the unsigned recording is kept") from error
    elapsed_s = time.perf_counter() - started_s
    return f"{path}: signed (C2PA, trainedAlgorithmicMedia) in {elapsed_s:.2f} s; check it with `live verify`"


def check_signing(config: SigningConfig, labels: tuple[str, str] = ("--c2pa-cert", "--c2pa-key")) -> None:
    """UsageError (one line) unless C2PA signs with these credentials: tried on an 8x8 PNG in memory, so that a
    certificate the SDK refuses (no digitalSignature key usage or no suitable extended key usage, a CA, expired)
    is reported before a run instead of after it."""
    import c2pa
    import cv2
    import numpy as np

    if not config.enabled or config.certificate_path is None or config.key_path is None:
        return
    credentials = load_credentials(config.certificate_path, config.key_path, labels)
    image = io.BytesIO(cv2.imencode(".png", np.zeros((8, 8, 3), dtype=np.uint8))[1].tobytes())
    claim = ModelClaim(name="check", model_sha256="0" * 64, consent_sha256=None)
    try:
        _sign_stream(image, io.BytesIO(), "image/png", manifest_definition(claim, "check.png"), credentials)
    except c2pa.C2paError as error:
        raise UsageError(
            f"{labels[0]} {config.certificate_path}: C2PA does not sign with it ({error}); give a signing "
            "certificate (digitalSignature key usage, emailProtection or C2PA claim-signing extended key usage)"
        ) from error


def _sign_in_place(target: Path, mime_type: str, claim: ModelClaim, credentials: SigningCredentials) -> None:
    """Sign `target` into a temporary file beside it, flush that to disk, rename it over `target`."""
    descriptor, temporary_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".signing", dir=target.parent)
    temporary = Path(temporary_name)
    try:
        with os.fdopen(descriptor, "w+b") as signed, open(target, "rb") as source:
            _sign_stream(source, signed, mime_type, manifest_definition(claim, target.name), credentials)
            signed.flush()
            os.fsync(signed.fileno())
        os.chmod(temporary, stat.S_IMODE(os.stat(target).st_mode))
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    _sync_folder(target.parent)


def _sign_stream(
    source: BinaryIO, signed: BinaryIO, mime_type: str, manifest: dict, credentials: SigningCredentials
) -> None:
    """Write `source` with the manifest signed into it to `signed` (c2pa.C2paError when the SDK refuses)."""
    import c2pa

    info = c2pa.C2paSignerInfo(credentials.algorithm, credentials.certificate_chain_pem, credentials.key_pem, None)
    with c2pa.Signer.from_info(info) as signer, c2pa.Builder(manifest) as builder:
        builder.sign(signer, mime_type, source, signed)


def _sync_folder(folder: Path) -> None:
    """Flush the folder's entry for the renamed file to disk (POSIX; Windows has no folder handles)."""
    if os.name != "posix":
        return
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
