"""Re-record tests/data/jwp_office_frames.json after an intended change of the rendered frames.

Usage: python tools/record_frames.py "why the frames changed"
The test tests/test_same_frames.py then holds every later refactoring to these frames, byte for byte.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2

REPOSITORY = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPOSITORY / "tests"))
from test_same_frames import REFERENCE, _machine, _versions  # noqa: E402


def main() -> None:
    if len(sys.argv) != 2:
        sys.exit('usage: python tools/record_frames.py "why the frames changed"')
    with tempfile.TemporaryDirectory() as folder:
        command = [sys.executable, "-m", "live", "run", "--model", str(REPOSITORY / "models" / "jwp.onnx")]
        command += ["--source", str(REPOSITORY / "data" / "jwp_office.mp4"), "--no-pace", "--output", f"{folder}/"]
        subprocess.run(command, check=True, capture_output=True)
        paths = sorted(Path(folder).glob("*.png"))
        digests = [hashlib.sha256(cv2.imread(str(path)).tobytes()).hexdigest() for path in paths]
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=REPOSITORY)
    record = {
        "what": "sha256 of each frame (BGR bytes, badge on) of `live run --model models/jwp.onnx --source "
        f"data/jwp_office.mp4 --no-pace --output DIR/`, recorded at {commit.stdout.strip()}: {sys.argv[1]}",
        "machine": _machine(),
        "versions": _versions(),
        "frames": digests,
    }
    REFERENCE.write_text(json.dumps(record, indent=1) + "\n")
    print(f"recorded {len(digests)} frame digests in {REFERENCE.relative_to(REPOSITORY)}")


if __name__ == "__main__":
    main()
