"""What a recording's C2PA manifest says, and whether it holds: read with c2pa-python, offline.

Validation states (c2pa-python's): "Invalid" when a hash, the signature or the manifest's structure fails (the
file was changed after it was signed, or was signed wrongly); "Valid" when all of those hold but the signer's
certificate is on no trust list given (a self-made certificate always is); "Trusted" when, in addition, the
certificate chains to a trust anchor given with `trust_anchors_pem`. Nothing is fetched from the network: no
remote manifest, no OCSP.
"""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass, field
from pathlib import Path

from live.io.provenance import MODEL_ASSERTION

UNTRUSTED_SIGNER = "signingCredential.untrusted"
INTACT_STATES = ("Valid", "Trusted")
# The JUMBF UUID of a C2PA manifest store ("c2pa" + ISO's suffix): in every file that holds a manifest.
MANIFEST_STORE_UUID = bytes.fromhex("6332706100110010800000aa00389b71")
_CHUNK_BYTES = 1 << 20


@dataclass(frozen=True, slots=True)
class ProvenanceReport:
    """A file's C2PA manifest in brief.

    state: "unsigned" (no manifest), "unsupported" (a format C2PA does not cover), or the SDK's validation state
    ("Invalid", "Valid", "Trusted"); reason: one line for the first two and for a manifest that cannot be read;
    actions: (action, digitalSourceType) of the active manifest; model: its org.live.model assertion;
    failures: "code: explanation" of each failed check of the active manifest."""

    path: Path
    state: str
    reason: str = ""
    claim_generator: str = ""
    actions: tuple[tuple[str, str], ...] = ()
    model: dict = field(default_factory=dict)
    signer_subject: str = ""
    signer_issuer: str = ""
    failures: tuple[str, ...] = ()

    @property
    def intact(self) -> bool:
        """Signed, and unchanged since: every check held except, at most, the signer's trust."""
        untrusted_only = all(failure.startswith(UNTRUSTED_SIGNER + ":") for failure in self.failures)
        return self.state in INTACT_STATES and untrusted_only


def read_provenance(path: Path, trust_anchors_pem: str | None = None) -> ProvenanceReport:
    """The report of the file at `path` (OSError when it cannot be opened)."""
    import c2pa

    verify = {"remote_manifest_fetch": False, "ocsp_fetch": False}
    settings: dict = {"verify": verify}
    if trust_anchors_pem is not None:
        settings["trust"] = {"trust_anchors": trust_anchors_pem}
        verify["verify_trust"] = True
    mime_type = mimetypes.guess_type(path.name)[0]
    with open(path, "rb") as stream:
        try:
            context = c2pa.Context(c2pa.Settings.from_dict(settings))
            reader = c2pa.Reader.try_create(mime_type, stream, context=context)
        except c2pa.C2paError.NotSupported:
            return ProvenanceReport(path, "unsupported", f"C2PA does not support {path.suffix or 'this file'}")
        except c2pa.C2paError as error:
            if _holds_manifest_store(path):
                return ProvenanceReport(path, "Invalid", f"its manifest cannot be read: {error}")
            return ProvenanceReport(path, "unsigned", f"no C2PA manifest (and C2PA cannot parse the file: {error})")
        if reader is None:
            return ProvenanceReport(path, "unsigned", "no C2PA manifest")
        with reader:
            return _report(path, reader)


def _holds_manifest_store(path: Path) -> bool:
    """Whether the file's bytes hold a C2PA manifest store (looked for where the SDK cannot parse the file)."""
    overlap = len(MANIFEST_STORE_UUID) - 1
    tail = b""
    with open(path, "rb") as file:
        while chunk := file.read(_CHUNK_BYTES):
            if MANIFEST_STORE_UUID in tail + chunk:
                return True
            tail = chunk[-overlap:]
    return False


def _report(path: Path, reader) -> ProvenanceReport:
    """The report from an open c2pa.Reader."""
    import json

    store = json.loads(reader.json())
    label = store.get("active_manifest")
    manifest = store.get("manifests", {}).get(label, {})
    assertions = {assertion.get("label", ""): assertion.get("data", {}) for assertion in manifest.get("assertions", [])}
    actions = next((data for name, data in assertions.items() if name.startswith("c2pa.actions")), {})
    failed = ((store.get("validation_results") or {}).get("activeManifest") or {}).get("failure", [])
    subject, issuer = _certificate_names(reader, label)
    return ProvenanceReport(
        path=path,
        state=str(store.get("validation_state") or "Invalid"),
        claim_generator=", ".join(_generator(info) for info in manifest.get("claim_generator_info", [])),
        actions=tuple(
            (str(action.get("action", "")), str(action.get("digitalSourceType", "")))
            for action in actions.get("actions", [])
        ),
        model=dict(assertions.get(MODEL_ASSERTION, {})),
        signer_subject=subject,
        signer_issuer=issuer,
        failures=tuple(f"{failure.get('code', '')}: {failure.get('explanation', '')}" for failure in failed),
    )


def _generator(info: dict) -> str:
    """ "live 0.1.0 (c2pa_rs 0.91.3)" from one claim_generator_info entry."""
    others = ", ".join(f"{key.rsplit('.', 1)[-1]} {value}" for key, value in info.items() if "." in key)
    name = f"{info.get('name', '?')} {info.get('version', '')}".strip()
    return f"{name} ({others})" if others else name


def _certificate_names(reader, label: str | None) -> tuple[str, str]:
    """The signing certificate's subject and issuer ("CN=..., O=..."), from the SDK's crJSON report."""
    import json

    for manifest in json.loads(reader.crjson()).get("manifests", []):
        if manifest.get("label") == label:
            info = (manifest.get("signature") or {}).get("certificateInfo") or {}
            return _distinguished_name(info.get("subject")), _distinguished_name(info.get("issuer"))
    return "", ""


def _distinguished_name(names: dict | None) -> str:
    return ", ".join(f"{key}={value}" for key, value in (names or {}).items())
