"""The files `live prepare` writes for each kept frame, and its summary table."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
from rich.table import Table

from live.errors import UsageError
from live.face.teeth import teeth_share
from live.formats.dataset import VideoEntry
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
        table.add_row(video.name, size, *(str(count) for count in counts), skipped, side)
    return table
