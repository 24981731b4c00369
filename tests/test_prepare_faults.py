"""`live prepare` on hostile input: crop sizes out of range, consent that says nothing, and failures part-way,
each one line (exit 2) with no dataset, half-made or otherwise, left behind (issue 27, faults 8 and 10)."""

from __future__ import annotations

import errno
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

import live.offline.prepare as prepare_module
from live.cli import main
from live.errors import UsageError
from live.formats.consent import MINIMUM_WORDS, check_consent
from live.formats.dataset import CROP_SIZES_PX

REPOSITORY = Path(__file__).resolve().parents[1]
CONSENT = "Jon Peirce, GPL-3.0 PsychoPy recording, test fixture"


def _write_clip(path: Path, frames: list[np.ndarray]) -> Path:
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 25.0, (width, height))
    for frame in frames:
        writer.write(frame)
    writer.release()
    return path


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first 8 frames of the shipped training clip (one face, looking at the camera)."""
    capture = cv2.VideoCapture(str(REPOSITORY / "data" / "jwp_intro.mp4"))
    frames = [capture.read()[1] for _ in range(8)]
    capture.release()
    return _write_clip(tmp_path_factory.mktemp("clip") / "clip.mp4", frames)


def _refused(argv: list[str], capsys: pytest.CaptureFixture[str], words: str) -> str:
    """Run `live prepare ...`: exit 2 with one error line containing `words`; that line."""
    assert main(["prepare", *argv]) == 2
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if "error" in line]  # (not the progress bars)
    assert "Traceback" not in err and len(errors) == 1, err
    assert errors[0].startswith("live prepare: error:") and words in errors[0], errors
    return errors[0]


def _leftovers(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.iterdir())


@pytest.mark.parametrize("size_px", [65536, 2048, 48, 16, 0, -64])
def test_crop_sizes_out_of_range_are_refused_before_anything_is_made(
    clip: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], size_px: int
) -> None:
    out = tmp_path / "made" / "dataset"
    message = _refused([str(clip), "--out", str(out), "--consent", CONSENT, "--size", str(size_px)], capsys, "--size")
    assert f"{CROP_SIZES_PX[0]} to {CROP_SIZES_PX[-1]}" in message
    assert _leftovers(tmp_path) == []


@pytest.mark.parametrize(
    "consent",
    ["\u200b", "\u00a0", "\x1b[0m", "\u3164\u3164\u3164", "ok", "Jon Peirce", "a b c d", "Jon Peirce\n# Fake section"],
)
def test_consent_without_visible_words_is_refused(
    clip: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], consent: str
) -> None:
    out = tmp_path / "dataset"
    message = _refused([str(clip), "--out", str(out), "--consent", consent, "--size", "64"], capsys, "--consent")
    assert f"at least {MINIMUM_WORDS} words" in message
    assert not out.exists()


def test_check_consent_keeps_visible_statements() -> None:
    assert check_consent("  Jane Doe, avatar for her own calls, 2026-11-22 \u00a0") == (
        "Jane Doe, avatar for her own calls, 2026-11-22"
    )
    assert check_consent("张伟同意用于自己的通话") == "张伟同意用于自己的通话"  # no spaces: each character a word
    assert check_consent("Zoë Ørsted, für Videoanrufe") == "Zoë Ørsted, für Videoanrufe"
    with pytest.raises(UsageError, match="control or invisible characters .U\\+202E"):
        check_consent("Jane Doe \u202eevil text")
    with pytest.raises(UsageError, match="^--consent-file"):
        check_consent("x", option="--consent-file")


def _fail_on_plate(path: Path, frames_bgr: list[np.ndarray]) -> None:
    raise OSError(errno.ENOSPC, "No space left on device", str(path))


def _fail_on_third_frame(real):
    calls = []

    def write(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:
            raise UsageError("cannot write frame 3: free some disk space or give a writable --out")
        return real(*args, **kwargs)

    return write


@pytest.mark.parametrize("failure", ["plate (OSError)", "third frame (UsageError)"])
def test_a_failure_part_way_leaves_no_half_made_dataset(
    clip: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, failure: str
) -> None:
    if failure.startswith("plate"):
        monkeypatch.setattr(prepare_module, "write_plate", _fail_on_plate)
        words = "No space left on device"
    else:
        monkeypatch.setattr(prepare_module, "write_frame_files", _fail_on_third_frame(prepare_module.write_frame_files))
        words = "cannot write frame 3"
    out = tmp_path / "new" / "dataset"
    _refused([str(clip), "--out", str(out), "--consent", CONSENT, "--size", "64"], capsys, words)
    assert _leftovers(tmp_path) == [], "the partial dataset and the folders made for it are removed"


def test_out_that_holds_files_or_is_a_file_is_refused(
    clip: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("mine")
    _refused([str(clip), "--out", str(busy), "--consent", CONSENT, "--size", "64"], capsys, "files in it")
    assert _leftovers(busy) == ["notes.txt"] and (busy / "notes.txt").read_text() == "mine"
    a_file = tmp_path / "file"
    a_file.write_text("mine")
    _refused([str(clip), "--out", str(a_file), "--consent", CONSENT, "--size", "64"], capsys, "is a file")
    assert a_file.read_text() == "mine"


def test_prepare_into_an_empty_folder_with_a_faceless_video_among_the_videos(
    clip: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wall = _write_clip(tmp_path / "wall.mp4", [np.full((120, 160, 3), 80 + value, np.uint8) for value in range(6)])
    out = tmp_path / "dataset"
    out.mkdir()
    padded_consent = f"  {CONSENT}\u00a0"
    assert main(["prepare", str(wall), str(clip), "--out", str(out), "--consent", padded_consent, "--size", "64"]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["consent"] == CONSENT, "stored without its outer spaces"
    assert [video["kept"] for video in manifest["videos"]] == [0, manifest["counts"]["frames"]]
    assert manifest["counts"]["frames"] > 0
    assert _leftovers(tmp_path) == ["dataset", "wall.mp4"], "no partial folder is left beside the dataset"
    assert len(list((out / "frames").glob("*.png"))) == manifest["counts"]["frames"]
