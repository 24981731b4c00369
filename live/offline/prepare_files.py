"""The files `live prepare` writes for each kept frame, and its summary table."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import cv2
import numpy as np
from rich.table import Table
from rich.text import Text

from live.errors import UsageError
from live.face.teeth import teeth_share
from live.formats.dataset import MANIFEST_NAME, VideoEntry
from live.formats.sketch import draw_sketch


def write_frame_files(
    out: Path,
    file_name: str,
    context_bgr: np.ndarray,
    landmarks_px: np.ndarray,
    margin_px: int,
    native_bgr: np.ndarray | None,
) -> float:
    """frames/ (the crop with its context margin), sketches/ (drawn with the teeth share measured on that crop)
    and, for a validation frame, native/ (the frame at its own size); the teeth share; UsageError when a write
    fails."""
    size_px = context_bgr.shape[0] - 2 * margin_px
    teeth = teeth_share(context_bgr, landmarks_px[:, :2] + margin_px)
    files = {"frames": context_bgr, "sketches": draw_sketch(landmarks_px, size_px, teeth_share=teeth)}
    if native_bgr is not None:
        files["native"] = native_bgr
    for folder, image in files.items():
        path = out / folder / file_name
        if not cv2.imwrite(str(path), image):
            raise UsageError(f"cannot write {path}: free some disk space or give a writable --out")
    return teeth


def summary_table(videos: list[VideoEntry], size_px: int) -> Table:
    """One row per video: its frames kept, split and skipped (with why), and its usual crop side."""
    table = Table(title="live prepare: frames kept and skipped")
    for column in ("video", "size px", "frames", "kept", "train", "val", "skipped (why)", "usual crop side px"):
        table.add_column(column)
    for video in videos:
        skipped = ", ".join(f"{count} {reason}" for reason, count in sorted(video.skipped.items())) or "none"
        transform = np.array(video.neutral_transform if video.neutral_transform is not None else np.nan)
        side = f"{size_px / np.sqrt(abs(np.linalg.det(transform[:, :2]))):.0f}" if transform.ndim == 2 else "-"
        size = "x".join(str(value) for value in video.frame_size_px)
        counts = (video.frames_total, video.kept, video.train, video.val)
        table.add_row(Text(video.name), size, *(str(count) for count in counts), skipped, side)  # no markup
    return table


def check_new_dataset_folder(out: Path) -> None:
    """UsageError unless `out` can become a new dataset: absent or an empty folder, in a writable place."""
    if (out / MANIFEST_NAME).exists():
        raise UsageError(f"{out} already holds a dataset: choose another --out or delete it first")
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} is a file: give a folder for the dataset")
    if out.is_dir() and any(out.iterdir()):
        raise UsageError(f"--out {out} is a folder with files in it: choose another --out or empty it first")
    existing = next(folder for folder in (out, *out.parents) if folder.exists())
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        raise UsageError(f"--out {out}: cannot write in {existing}; give a writable --out")


@contextmanager
def building_folder(out: Path) -> Iterator[Path]:
    """A new folder beside `out` to build a dataset in (`NAME.partial-*`): renamed to `out` when the block ends
    without an error; removed otherwise, with the parent folders it made, so `out` is whole or absent. An
    OSError (a full disk) becomes a one-line UsageError."""
    made = [folder for folder in out.parents if not folder.exists()]
    building, finished = None, False
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        building = Path(tempfile.mkdtemp(prefix=f"{out.name}.partial-", dir=out.parent))
        yield building
        if out.is_dir():
            out.rmdir()  # the empty folder given as --out (check_new_dataset_folder)
        os.replace(building, out)
        finished = True
    except OSError as error:
        raise UsageError(
            f"cannot write the dataset {out}: {error.strerror or error}; free some disk space or give a writable --out"
        ) from error
    finally:
        if not finished:
            _remove_unfinished(building, made)


def _remove_unfinished(building: Path | None, made: list[Path]) -> None:
    """Delete a dataset left unfinished and the parent folders made for it (the innermost first, while empty)."""
    if building is not None:
        shutil.rmtree(building, ignore_errors=True)  # (best effort: the error that stopped the build is raised)
    for folder in made:
        if not folder.is_dir() or any(folder.iterdir()):
            break
        folder.rmdir()
