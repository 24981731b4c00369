"""`live prepare` on a video without a usable face: one line, and no empty dataset folders left behind (issue 12)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from live.cli import main


def test_a_video_without_a_face_leaves_no_folders(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    video = tmp_path / "wall.mp4"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (160, 120))
    for value in range(10):
        writer.write(np.full((120, 160, 3), 80 + value, dtype=np.uint8))
    writer.release()
    out = tmp_path / "dataset"
    exit_code = main(["prepare", str(video), "--out", str(out), "--consent", "a test of an empty wall", "--size", "64"])
    errors = [line for line in capsys.readouterr().err.splitlines() if "error" in line]  # (no progress bars)
    assert exit_code == 2
    assert errors == [
        "live prepare: error: no usable face in any frame of the given videos: use a video where one face looks at"
        " the camera"
    ]
    assert not out.exists()
