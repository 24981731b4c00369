"""Re-record tests/data/jwp_office_frames.json after an intended change of the rendered frames.

Usage: python tools/record_frames.py "why the frames changed"
       python tools/record_frames.py --add-machine "why"   (the frames did not change: add this machine kind)
The test tests/test_same_frames.py then holds every later refactoring to these frames, byte for byte, on each
machine kind recorded. A change of the frames drops the other machine kinds' recordings (they are stale).
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

WHAT = (
    "sha256 of each frame (BGR bytes, badge on) of `live run --model models/jwp.onnx --source "
    "data/jwp_office.mp4 --no-pace --output DIR/`, one recording per machine kind and library versions"
)


def main() -> None:
    arguments = sys.argv[1:]
    add_machine = arguments[:1] == ["--add-machine"]
    arguments = arguments[1:] if add_machine else arguments
    if len(arguments) != 1:
        sys.exit('usage: python tools/record_frames.py [--add-machine] "why the frames changed"')
    with tempfile.TemporaryDirectory() as folder:
        command = [sys.executable, "-m", "live", "run", "--model", str(REPOSITORY / "models" / "jwp.onnx")]
        command += ["--source", str(REPOSITORY / "data" / "jwp_office.mp4"), "--no-pace", "--output", f"{folder}/"]
        subprocess.run(command, check=True, capture_output=True)
        paths = sorted(Path(folder).glob("*.png"))
        digests = [hashlib.sha256(cv2.imread(str(path)).tobytes()).hexdigest() for path in paths]
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=REPOSITORY)
    record = {
        "recorded": f"at {commit.stdout.strip()}: {arguments[0]}",
        "machine": _machine(),
        "versions": _versions(),
        "frames": digests,
    }
    others = json.loads(REFERENCE.read_text())["recordings"] if add_machine else []
    others = [item for item in others if (item["machine"], item["versions"]) != (record["machine"], record["versions"])]
    if add_machine and others and any(item["frames"] != digests for item in others):
        print("note: this machine's frames differ from the other recordings' (expected across instruction sets)")
    REFERENCE.write_text(json.dumps({"what": WHAT, "recordings": [*others, record]}, indent=1) + "\n")
    print(f"recorded {len(digests)} frame digests for this machine kind in {REFERENCE.relative_to(REPOSITORY)}")


if __name__ == "__main__":
    main()
