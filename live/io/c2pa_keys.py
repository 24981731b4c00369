"""The key and certificate that sign recordings (C2PA): a development pair made on first use, or the user's own.

The development pair lives in `$XDG_CONFIG_HOME/live/c2pa` (default `~/.config/live/c2pa`): a CA certificate
(`ca.pem`, P-256, basicConstraints CA:TRUE, keyCertSign), and a signing certificate issued by it (`signer.pem`,
the signing certificate followed by the CA's) with its private key (`signer.key`, readable by its owner only).
The signing certificate has the extensions the C2PA trust model asks of one: digitalSignature key usage,
extendedKeyUsage emailProtection and c2pa-kp-claimSigning, not a CA. The CA's own private key is not kept:
nothing else can ever be issued under it. The folder is written whole to a temporary folder beside it and
renamed into place, so two runs starting at once end up with one pair.
"""

from __future__ import annotations

import datetime
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

from live.errors import UsageError

C2PA_CLAIM_SIGNING = ObjectIdentifier("1.3.6.1.4.1.62558.2.1")  # id-kp-c2pa-kp-claimSigning
CERTIFICATE_FILE, KEY_FILE, CA_FILE = "signer.pem", "signer.key", "ca.pem"
VALIDITY_DAYS = 3650
CLOCK_SKEW = datetime.timedelta(minutes=5)  # valid from a little before now: another machine's clock may lag
EC_ALGORITHMS = {"secp256r1": "es256", "secp384r1": "es384", "secp521r1": "es512"}


@dataclass(frozen=True, slots=True)
class SigningCredentials:
    """certificate_chain_pem: the signing certificate, then its issuers; key_pem: its private key;
    algorithm: the C2PA signing algorithm its key type takes (es256, es384, es512, ps256, ed25519)."""

    certificate_chain_pem: bytes
    key_pem: bytes
    algorithm: str


def default_folder() -> Path:
    """`$XDG_CONFIG_HOME/live/c2pa`, or `~/.config/live/c2pa` when XDG_CONFIG_HOME is unset or not absolute."""
    config_home = os.environ.get("XDG_CONFIG_HOME", "")
    base = Path(config_home) if os.path.isabs(config_home) else Path.home() / ".config"
    return base / "live" / "c2pa"


def development_pair(folder: Path) -> tuple[Path, Path]:
    """(certificate chain, key) of the development pair in `folder`, made there first when it has none;
    UsageError when the folder cannot be made."""
    certificate, key = folder / CERTIFICATE_FILE, folder / KEY_FILE
    if certificate.is_file() and key.is_file():
        return certificate, key
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
        try:
            _write_development_pair(staging)
            os.rename(staging, folder)  # refused when another run put its pair there first: that one is used
        except OSError:
            if not (certificate.is_file() and key.is_file()):
                raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    except OSError as error:
        reason = error.strerror or str(error)
        raise UsageError(
            f"cannot make the signing certificate in {folder}: {reason}; set XDG_CONFIG_HOME to a writable folder, "
            "give --c2pa-cert/--c2pa-key, or --no-c2pa"
        ) from error
    return certificate, key


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "self-made by live, unverified"),
        ]
    )


def _key_usage(*, digital_signature: bool = False, key_cert_sign: bool = False) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=digital_signature,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=key_cert_sign,
        crl_sign=key_cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _certificate(subject: x509.Name, public_key, issuer: x509.Name, issuer_key) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.timezone.utc)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - CLOCK_SKEW)
        .not_valid_after(now + datetime.timedelta(days=VALIDITY_DAYS))
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), critical=False)
    )


def _write_development_pair(folder: Path) -> None:
    """A new CA and a signing certificate issued by it, written into `folder` (the CA's key is dropped)."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("live development CA")  # nothing about the machine: the chain is in every signed file
    ca = (
        _certificate(ca_name, ca_key.public_key(), ca_name, ca_key)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(key_cert_sign=True), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    signer_key = ec.generate_private_key(ec.SECP256R1())
    signer = (
        _certificate(_name("live recording signer"), signer_key.public_key(), ca_name, ca_key)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(digital_signature=True), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION, C2PA_CLAIM_SIGNING]), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    ca_pem = ca.public_bytes(serialization.Encoding.PEM)
    (folder / CA_FILE).write_bytes(ca_pem)
    (folder / CERTIFICATE_FILE).write_bytes(signer.public_bytes(serialization.Encoding.PEM) + ca_pem)
    key_pem = signer_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    descriptor = os.open(folder / KEY_FILE, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as key_file:
        key_file.write(key_pem)


def _read(path: Path, label: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise UsageError(f"{label}: cannot read it ({error.strerror or error}); give a readable PEM file") from error


def _algorithm(private_key, key_label: str) -> str:
    if isinstance(private_key, ec.EllipticCurvePrivateKey) and private_key.curve.name in EC_ALGORITHMS:
        return EC_ALGORITHMS[private_key.curve.name]
    if isinstance(private_key, rsa.RSAPrivateKey):
        return "ps256"
    if isinstance(private_key, ed25519.Ed25519PrivateKey):
        return "ed25519"
    raise UsageError(f"{key_label}: C2PA signs with EC P-256/P-384/P-521, RSA or Ed25519 keys; give one")


def load_credentials(
    certificate_path: Path, key_path: Path, options: tuple[str, str] = ("--c2pa-cert", "--c2pa-key")
) -> SigningCredentials:
    """The certificate chain and key at these paths, checked: PEM, a key C2PA signs with, the key of the first
    certificate, which is not a CA. UsageError (one line naming the file and what to fix) otherwise.

    options: how the messages name the two files (the CLI's options by default)."""
    certificate_label, key_label = f"{options[0]} {certificate_path}", f"{options[1]} {key_path}"
    chain_pem, key_pem = _read(certificate_path, certificate_label), _read(key_path, key_label)
    try:
        certificates = x509.load_pem_x509_certificates(chain_pem)
    except ValueError as error:
        raise UsageError(f"{certificate_label}: not a PEM certificate ({error})") from error
    try:
        private_key = serialization.load_pem_private_key(key_pem, password=None)
    except (ValueError, TypeError) as error:
        raise UsageError(f"{key_label}: not an unencrypted PEM private key ({error})") from error
    algorithm = _algorithm(private_key, key_label)
    signing = certificates[0]
    if signing.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ) != private_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ):
        raise UsageError(f"{key_label} is not the key of {certificate_label}: give the pair")
    try:
        is_ca = signing.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        is_ca = False
    if is_ca:
        raise UsageError(f"{certificate_label}: the first certificate is a CA; give the signing certificate")
    return SigningCredentials(chain_pem, key_pem, algorithm)
