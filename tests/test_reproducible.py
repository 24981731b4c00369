"""An unpaced render of a recording does not depend on the machine's speed: two runs give the same video."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from live.cli import main

CLIP = Path(__file__).resolve().parents[1] / "data" / "jwp_office.mp4"


def read_frames(path: Path) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    capture.release()
    return frames


def test_two_unpaced_renders_are_identical(tmp_path: Path) -> None:
    model = Path(__file__).resolve().parents[1] / "models" / "jwp.onnx"
    outputs = []
    for name in ("first.mp4", "second.mp4"):
        out = tmp_path / name
        assert (
            main(
                [
                    "run",
                    "--model",
                    str(model),
                    "--source",
                    str(CLIP),
                    "--no-pace",
                    "--max-frames",
                    "90",
                    "--no-badge",
                    "--output",
                    str(out),
                ]
            )
            == 0
        )
        outputs.append(read_frames(out))
    assert len(outputs[0]) == len(outputs[1]) == 90
    for index, (first, second) in enumerate(zip(*outputs)):
        assert np.array_equal(first, second), f"frame {index} differs between two runs"
