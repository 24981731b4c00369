"""Behaviour is unchanged by refactoring: an unpaced render of the shipped avatar gives the recorded frames,
byte for byte.

The digests in tests/data/jwp_office_frames.json were recorded before the code was reorganised. MediaPipe's
and ONNX Runtime's CPU kernels differ between instruction sets and versions, so the comparison is exact only
on a machine kind and library versions that recorded them (the file holds one recording per machine kind,
tools/record_frames.py); elsewhere the test is skipped and says why.
"""

from __future__ import annotations

import hashlib
import json
import platform
import subprocess
import sys
from pathlib import Path

import cv2
import pytest

REPOSITORY = Path(__file__).resolve().parents[1]
REFERENCE = REPOSITORY / "tests" / "data" / "jwp_office_frames.json"


def _machine() -> dict[str, str]:
    lines = Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").exists() else []
    flags = next((line.split(":", 1)[1].split() for line in lines if line.startswith("flags")), [])
    model = next((line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")), "")
    return {
        "cpu_model": model,
        "cpu_flags_sha256": hashlib.sha256(" ".join(sorted(flags)).encode()).hexdigest(),
        "machine": platform.machine(),
    }


def _versions() -> dict[str, str]:
    import mediapipe
    import onnxruntime

    return {"onnxruntime": onnxruntime.__version__, "mediapipe": mediapipe.__version__, "opencv": cv2.__version__}


def recording_for_this_machine(reference: dict) -> dict | None:
    """The recording made on this machine kind with these library versions, if there is one."""
    machine, versions = _machine(), _versions()
    matching = [
        record for record in reference["recordings"] if (record["machine"], record["versions"]) == (machine, versions)
    ]
    return matching[0] if matching else None


def test_unpaced_render_matches_the_recorded_frames(tmp_path: Path) -> None:
    reference = json.loads(REFERENCE.read_text())
    recording = recording_for_this_machine(reference)
    if recording is None:
        kinds = [f"{record['machine']['cpu_model']} {record['versions']}" for record in reference["recordings"]]
        pytest.skip(f"digests were recorded on {kinds} only")
    out = tmp_path / "frames"
    command = [sys.executable, "-m", "live", "run", "--model", str(REPOSITORY / "models" / "jwp.onnx")]
    command += ["--source", str(REPOSITORY / "data" / "jwp_office.mp4"), "--no-pace", "--output", f"{out}/"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    digests = [hashlib.sha256(cv2.imread(str(path)).tobytes()).hexdigest() for path in sorted(out.glob("*.png"))]
    assert len(digests) == len(recording["frames"]) > 0
    changed = [index for index, (got, want) in enumerate(zip(digests, recording["frames"])) if got != want]
    assert not changed, f"{len(changed)} of {len(digests)} frames differ from the recording, first {changed[:5]}"
