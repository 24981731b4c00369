"""What `live prepare` takes from the sidecars `live record` writes (live.formats.sidecar): the consent, when
--consent is not given, and the neutral face: the frame recorded at the neutral prompt instead of the clips'
median face. Without a sidecar the median stays, checked to look neutral (live.face.coverage.neutral_problem:
the lips closed, no smile against the clip's own range), with one line saying so when it does not.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from live.errors import UsageError
from live.face.coverage import neutral_problem
from live.formats.dataset import FrameEntry
from live.formats.sidecar import read_sidecar, sidecar_path


def sidecar_consent(videos: tuple[Path, ...] | list[Path], consent: str) -> str:
    """`consent` when given; otherwise the consent of the videos' sidecars (UsageError when they differ), or
    `consent` as it is when none has a sidecar (live.formats.consent then says it is required)."""
    if consent.strip():
        return consent
    statements = {sidecar.consent for video in videos if Path(video).is_file() and (sidecar := read_sidecar(video))}
    if len(statements) > 1:
        raise UsageError("the recordings' sidecars hold different consent statements: give one with --consent")
    return statements.pop() if statements else consent


def dataset_neutral(
    videos: tuple[Path, ...], frames: list[FrameEntry], landmarks_px: np.ndarray
) -> tuple[np.ndarray, str | None]:
    """The dataset's neutral face ((478, 3) crop landmarks) and a line for the terminal (None: nothing to say):
    the first sidecar's neutral frame among the kept frames (or the kept frame nearest it within its prompt);
    otherwise the median of the training frames (of all when none is for training), checked to look neutral."""
    notes = []
    for video_index, video in enumerate(videos):
        sidecar = read_sidecar(video)
        if sidecar is None or sidecar.neutral_frame is None:
            continue
        span = sidecar.span("neutral")
        low, high = (span.start_frame, span.end_frame) if span else (sidecar.neutral_frame, sidecar.neutral_frame + 1)
        kept = [
            (abs(entry.frame_index - sidecar.neutral_frame), row)
            for row, entry in enumerate(frames)
            if entry.video == video_index and low <= entry.frame_index < high
        ]
        if kept:
            row = min(kept)[1]
            picked = f"frame {frames[row].frame_index} of {Path(video).name}, recorded at its neutral prompt"
            return np.asarray(landmarks_px[row]), f"neutral face: {picked} ({sidecar_path(video).name})"
        notes.append(f"{Path(video).name}'s neutral prompt left no frame in the dataset (blurred, or a hand over it)")
    train = np.array([entry.split == "train" for entry in frames])
    median = np.median(landmarks_px[train] if train.any() else landmarks_px, axis=0)
    problem = neutral_problem(median, landmarks_px)
    if problem:
        notes.append(
            f"the median face, the avatar's neutral, does not look neutral: {problem}; the avatar will show it at "
            "rest (`live record` keeps a neutral face of its own)"
        )
    return median, "; ".join(notes) or None
