"""Recordings say they are synthetic (C2PA, issue 30): `live run` signs its recording when it closes, `live verify`
reports the claim and fails a changed or unsigned file, a failed signing keeps the unsigned recording, and the
development certificate is made once, under XDG_CONFIG_HOME."""

from __future__ import annotations

import datetime
import hashlib
import re
import shutil
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from live.cli import main
from live.formats.card_file import update_card_data
from live.io import provenance
from live.io.c2pa_keys import C2PA_CLAIM_SIGNING, development_pair
from live.io.c2pa_read import read_provenance
from live.io.provenance import ModelClaim, SigningConfig, sign_recording
from live.io.video_writer import FRAGMENTED_MP4_FLAGS, VideoWriter

REPO = Path(__file__).resolve().parents[1]
CLIP = REPO / "data" / "jwp_office.mp4"
CONSENT = "Test Person, consented to this avatar for the test suite only, 2026-12-07"
FRAMES = 12


@pytest.fixture(scope="module")
def consented_model(tiny_model_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny model with a consent statement in its card's provenance."""
    path = tmp_path_factory.mktemp("consented") / "tiny.onnx"
    shutil.copy(tiny_model_path, path)
    update_card_data(path, lambda data: data.setdefault("provenance", {}).update(consent=CONSENT))
    return path


@pytest.fixture
def config_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh XDG_CONFIG_HOME for this test: the development pair is made in it."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    return tmp_path / "config"


def run_to(model: Path, out: Path, *extra: str) -> int:
    arguments = ["run", "--model", str(model), "--source", str(CLIP), "--device", "cpu", "--retarget", "off"]
    return main([*arguments, "--output", str(out), "--no-pace", "--max-frames", str(FRAMES), *extra])


def decoded_frame_count(path: Path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(video=0))


def frames_saved(summary: str) -> int:
    """ "OUT: N frames saved" from the final summary (its table may wrap lines)."""
    match = re.search(r"(\d+) frames\s+saved", summary)
    assert match, summary
    return int(match.group(1))


def verify(path: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, str]:
    capsys.readouterr()
    exit_code = main(["verify", str(path), *extra])
    captured = capsys.readouterr()
    return exit_code, captured.out + captured.err


def top_level_boxes(data: bytes) -> list[tuple[int, int, int, bytes]]:
    """(start, payload start, end, type) of each top-level box of an MP4 (the last may be cut short)."""
    boxes, offset = [], 0
    while offset + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[offset : offset + 8])
        header = 8
        if size == 1:
            size, header = struct.unpack(">Q", data[offset + 8 : offset + 16])[0], 16
        size = size or len(data) - offset
        boxes.append((offset, offset + header, offset + size, kind))
        offset += size
    return boxes


def test_a_run_signs_its_recording_and_verify_reports_the_claim(
    consented_model: Path, config_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "avatar.mp4"
    assert run_to(consented_model, out) == 0
    summary = capsys.readouterr().out
    assert re.search(r"signed\s+\(C2PA, trainedAlgorithmicMedia\)", summary), summary
    exit_code, report = verify(out, capsys)
    assert exit_code == 0, report
    assert "validation state: Valid" in report and "INVALID" not in report
    assert "c2pa.created, digitalSourceType http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia" in (
        report
    )
    assert f"model sha256: {hashlib.sha256(consented_model.read_bytes()).hexdigest()}" in report
    assert f"consent statement sha256: {hashlib.sha256(CONSENT.encode()).hexdigest()}" in report
    assert "model: tiny-test" in report and "claim generator: live " in report
    assert "CN=live recording signer" in report and "CN=live development CA" in report
    data = out.read_bytes()
    assert CONSENT.encode() not in data and b"Test Person" not in data  # its hash only
    assert decoded_frame_count(out) == frames_saved(summary) > 0
    assert not [path.name for path in tmp_path.iterdir() if path.name.startswith(".")]  # no temporary file left


def test_one_flipped_byte_of_video_fails_verify(
    consented_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "avatar.mp4"
    assert run_to(consented_model, out) == 0
    assert verify(out, capsys)[0] == 0
    data = bytearray(out.read_bytes())
    mdats = [(start, end) for _, start, end, kind in top_level_boxes(bytes(data)) if kind == b"mdat"]
    start, end = max(mdats, key=lambda span: span[1] - span[0])  # the coded video of the largest fragment
    data[(start + end) // 2] ^= 0xFF
    tampered = tmp_path / "tampered.mp4"
    tampered.write_bytes(bytes(data))
    exit_code, report = verify(tampered, capsys)
    assert exit_code == 1, report
    assert "INVALID" in report and "validation state: Invalid" in report


def test_an_unsigned_recording_fails_verify(
    consented_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "avatar.mp4"
    assert run_to(consented_model, out, "--no-c2pa") == 0
    assert "not signed (--no-c2pa)" in " ".join(capsys.readouterr().out.split())
    exit_code, report = verify(out, capsys)
    assert (exit_code, report.splitlines()) == (1, [f"{out}: unsigned: no C2PA manifest"])


def test_a_recording_killed_with_9_plays_and_is_unsigned(
    tiny_model_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "avatar.mp4"
    command = [sys.executable, "-m", "live", "run", "--model", str(tiny_model_path), "--source", str(CLIP)]
    command += ["--device", "cpu", "--retarget", "off", "--output", str(out)]
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline_s = time.monotonic() + 120
        while not out.exists() and process.poll() is None:  # renamed into place once it holds a fragment
            assert time.monotonic() < deadline_s, "the run wrote no fragment"
            time.sleep(0.05)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == -signal.SIGKILL, process.stderr.read() if process.stderr else ""
    frames = 0
    with av.open(str(out)) as container:
        try:
            for _ in container.decode(video=0):
                frames += 1
        except av.FFmpegError:
            pass  # the fragment the kill cut short; a player stops there too
    assert frames >= 30
    exit_code, report = verify(out, capsys)
    assert exit_code == 1 and report.startswith(f"{out}: unsigned"), report
    cut = tmp_path / "cut.mp4"  # a kill in the middle of a fragment's header: C2PA cannot parse the file
    data = out.read_bytes()
    last_fragment = [start for start, _, _, kind in top_level_boxes(data) if kind == b"moof"][-1]
    cut.write_bytes(data[: last_fragment + 20])
    exit_code, report = verify(cut, capsys)
    assert exit_code == 1 and report.startswith(f"{cut}: unsigned: no C2PA manifest (and C2PA cannot parse"), report


def test_a_failed_signing_keeps_the_unsigned_recording_and_fails_the_run(
    consented_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import c2pa

    sign_stream = provenance._sign_stream

    def failing_sign(source, signed, mime_type, manifest, credentials) -> None:
        if mime_type != "video/mp4":  # the check before the run signs a small picture
            return sign_stream(source, signed, mime_type, manifest, credentials)
        signed.write(source.read(1000))  # a part of the signed copy is written, then the SDK fails
        raise c2pa.C2paError("Signature: the signer refused")

    monkeypatch.setattr(provenance, "_sign_stream", failing_sign)
    out = tmp_path / "avatar.mp4"
    assert run_to(consented_model, out) == 1
    captured = capsys.readouterr()
    errors = captured.err.strip().splitlines()
    assert errors == [
        f"live run: error: {out}: not signed (C2PA): Signature: the signer refused; the unsigned recording is kept"
    ]
    assert "the unsigned recording is kept" in " ".join(captured.out.split())  # the summary's note
    assert decoded_frame_count(out) == frames_saved(captured.out) > 0
    assert sorted(path.name for path in tmp_path.iterdir()) == ["avatar.mp4"]  # the partial signed copy is gone
    assert verify(out, capsys)[0] == 1


def test_credentials_c2pa_cannot_sign_with_are_refused_before_the_run(
    consented_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    certificate, _ = development_pair(tmp_path / "one")
    _, other_key = development_pair(tmp_path / "two")
    out = tmp_path / "avatar.mp4"
    options = ["--c2pa-cert", str(certificate), "--c2pa-key", str(other_key)]
    assert run_to(consented_model, out, *options) == 2
    error = capsys.readouterr().err.strip()
    assert (
        error == f"live run: error: --c2pa-key {other_key} is not the key of --c2pa-cert {certificate}: give the pair"
    )
    assert not out.exists()
    assert run_to(consented_model, out, "--c2pa-cert", str(tmp_path / "missing.pem"), "--c2pa-key", str(other_key)) == 2
    assert "--c2pa-cert" in capsys.readouterr().err and not out.exists()
    certificate, key = self_signed_without_key_usages(tmp_path)
    assert run_to(consented_model, out, "--c2pa-cert", str(certificate), "--c2pa-key", str(key)) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith(f"live run: error: --c2pa-cert {certificate}: C2PA does not sign with it"), error
    assert len(error.splitlines()) == 1 and not out.exists()


def self_signed_without_key_usages(folder: Path) -> tuple[Path, Path]:
    """A self-signed P-256 certificate without key usage or extended key usage, and its key."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "no usages")])
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
    builder = builder.serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=1))
    certificate_path, key_path = folder / "plain.pem", folder / "plain.key"
    certificate_path.write_bytes(builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return certificate_path, key_path


def test_a_given_certificate_signs_and_verifies_trusted_with_its_ca(
    consented_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    certificate, key = development_pair(tmp_path / "organisation")
    out = tmp_path / "avatar.mp4"
    assert run_to(consented_model, out, "--c2pa-cert", str(certificate), "--c2pa-key", str(key)) == 0
    exit_code, report = verify(out, capsys, "--trust-anchors", str(tmp_path / "organisation" / "ca.pem"))
    assert exit_code == 0 and "validation state: Trusted" in report, report
    other_ca = development_pair(tmp_path / "other")[0].with_name("ca.pem")
    exit_code, report = verify(out, capsys, "--trust-anchors", str(other_ca))
    assert exit_code == 0 and "validation state: Valid" in report, report  # intact, but not from that CA


def test_the_development_ca_is_made_once_with_the_c2pa_extensions(
    consented_model: Path, config_home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = config_home / "live" / "c2pa"
    assert run_to(consented_model, tmp_path / "first.mp4") == 0
    made = {name: (folder / name).read_bytes() for name in ("ca.pem", "signer.pem", "signer.key")}
    assert run_to(consented_model, tmp_path / "second.mp4") == 0
    assert {name: (folder / name).read_bytes() for name in made} == made  # reused, not made again
    assert (folder / "signer.key").stat().st_mode & 0o077 == 0
    reports = [verify(tmp_path / name, capsys)[1] for name in ("first.mp4", "second.mp4")]
    assert [line for line in reports[0].splitlines() if "issuer" in line] == [
        line for line in reports[1].splitlines() if "issuer" in line
    ]
    ca, signer = x509.load_pem_x509_certificate(made["ca.pem"]), x509.load_pem_x509_certificate(made["signer.pem"])
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert ca.extensions.get_extension_for_class(x509.KeyUsage).value.key_cert_sign
    assert not signer.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert signer.extensions.get_extension_for_class(x509.KeyUsage).value.digital_signature
    usages = set(signer.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
    assert {ExtendedKeyUsageOID.EMAIL_PROTECTION, C2PA_CLAIM_SIGNING} <= usages
    assert isinstance(signer.public_key(), ec.EllipticCurvePublicKey) and signer.public_key().curve.name == "secp256r1"
    assert signer.issuer == ca.subject


def test_verify_of_a_missing_file_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    exit_code, output = verify(tmp_path / "none.mp4", capsys)
    assert (exit_code, output.strip()) == (2, f"live verify: error: {tmp_path / 'none.mp4'}: no such file")


def test_webm_is_left_unsigned_and_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """VP9 with alpha in WebM, as PyAV writes it: the C2PA SDK has no WebM support."""
    path = tmp_path / "overlay.webm"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libvpx-vp9", rate=30)
        stream.width, stream.height, stream.pix_fmt = 64, 64, "yuva420p"
        for index in range(5):
            frame = av.VideoFrame.from_ndarray(np.full((64, 64, 4), index, dtype=np.uint8), format="rgba")
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    before = path.read_bytes()
    certificate, key = development_pair(tmp_path / "pair")
    claim = ModelClaim("tiny-test", "0" * 64, None)
    note = sign_recording(path, claim, SigningConfig(enabled=True, certificate_path=certificate, key_path=key))
    assert note == f"{path}: not signed: C2PA does not support .webm"
    assert path.read_bytes() == before
    exit_code, report = verify(path, capsys)
    assert (exit_code, report.strip()) == (1, f"{path}: unsigned: C2PA does not support .webm")


def test_avi_is_signed_and_a_changed_frame_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "avatar.avi"
    writer = VideoWriter(path, (64, 48), 30.0)
    for value in range(0, 200, 10):
        writer.write(np.full((48, 64, 3), value, dtype=np.uint8))
    writer.close()
    certificate, key = development_pair(tmp_path / "pair")
    claim = ModelClaim("tiny-test", "0" * 64, None)
    sign_recording(path, claim, SigningConfig(enabled=True, certificate_path=certificate, key_path=key))
    assert read_provenance(path).intact and decoded_frame_count(path) == 20
    data = bytearray(path.read_bytes())
    data[data.index(b"00dc") + 100] ^= 0xFF  # inside the first frame's JPEG data
    path.write_bytes(bytes(data))
    exit_code, report = verify(path, capsys)
    assert exit_code == 1 and "INVALID" in report, report


def ten_minute_recording(path: Path) -> None:
    """A 10-minute 640x480 recording as `live run` writes it: the shipped clip's first 2 s, encoded by the
    recording writer, then its packets muxed again 300 times (encoding 18,000 frames would take minutes)."""
    two_seconds = path.with_name("two_seconds.mp4")
    capture = cv2.VideoCapture(str(CLIP))
    writer = VideoWriter(two_seconds, (640, 480), 30.0)
    for _ in range(60):
        writer.write(cv2.resize(capture.read()[1], (640, 480)))
    writer.close()
    capture.release()
    with (
        av.open(str(two_seconds)) as source,
        av.open(str(path), "w", format="mp4", options={"movflags": FRAGMENTED_MP4_FLAGS}) as target,
    ):
        stream = source.streams.video[0]
        packets = [(bytes(packet), packet.pts, packet.dts, packet.is_keyframe) for packet in source.demux(stream)]
        packets = [entry for entry in packets if entry[0]]
        span = (packets[1][1] - packets[0][1]) * len(packets)
        out_stream = target.add_stream_from_template(stream)
        for repeat in range(300):
            for data, pts, dts, keyframe in packets:
                packet = av.Packet(data)
                packet.pts, packet.dts, packet.is_keyframe = pts + repeat * span, dts + repeat * span, keyframe
                packet.time_base, packet.stream = stream.time_base, out_stream
                target.mux(packet)


def test_a_ten_minute_recording_is_signed_and_verifies(tmp_path: Path) -> None:
    """A long recording (about twice the shipped avatar's bitrate) signs and stays intact. How long signing takes
    is a benchmark figure (docs/performance.md), not a test."""
    path = tmp_path / "ten_minutes.mp4"
    ten_minute_recording(path)
    with av.open(str(path)) as container:
        assert container.duration / av.time_base == pytest.approx(600.0, abs=0.1)
    certificate, key = development_pair(tmp_path / "pair")
    config = SigningConfig(enabled=True, certificate_path=certificate, key_path=key)
    sign_recording(path, ModelClaim("tiny-test", "0" * 64, None), config)
    assert read_provenance(path).intact
