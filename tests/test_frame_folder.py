"""`--output DIR/`: lossless PNG frames, never mixed with another run's."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from live.errors import UsageError
from live.io.sinks import open_sink, parse_output


def test_frames_are_written_losslessly_at_the_output_size(tmp_path: Path) -> None:
    config = parse_output(f"{tmp_path / 'frames'}/", badge=False)
    assert config.kind == "frames"
    frames_bgr = [np.random.default_rng(seed).integers(0, 256, (48, 64, 3), dtype=np.uint8) for seed in range(3)]
    with open_sink(config, (64, 48)) as sink:
        for image_bgr in frames_bgr:
            sink.write(image_bgr)
        sink.close()
    written = sorted((tmp_path / "frames").glob("*.png"))
    assert [path.name for path in written] == ["000000.png", "000001.png", "000002.png"]
    for path, image_bgr in zip(written, frames_bgr, strict=True):
        assert np.array_equal(cv2.imread(str(path)), image_bgr)


def test_a_folder_holding_frames_or_a_file_is_refused(tmp_path: Path) -> None:
    used = tmp_path / "used"
    used.mkdir()
    cv2.imwrite(str(used / "000000.png"), np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(UsageError, match="already holds .png files"):
        open_sink(parse_output(f"{used}/"), (8, 8))
    (tmp_path / "file").write_text("x")
    with pytest.raises(UsageError, match="it is a file"):
        open_sink(parse_output(f"{tmp_path / 'file'}/"), (8, 8))
