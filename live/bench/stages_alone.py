"""`live bench`'s first phase: landmarks, retarget and sketch alone on the clip's first frames.

"retarget" is timed as the pipeline's retarget stage does it (live.pipeline.steps.SketchStep.place: the
retargeter, the head crop that follows it and the body's shift), and the sketches are drawn in that crop.
"""

from __future__ import annotations

import numpy as np

from live.bench.timing import time_calls
from live.errors import UsageError
from live.formats.sketch import draw_sketch
from live.io.sources import SourceConfig, open_source, source_kind
from live.pipeline.messages import Frame
from live.pipeline.run import Stages
from live.pipeline.stats import PipelineStats, TimingSummary, summarise
from live.pipeline.steps import BufferPool, SketchStep


def read_frames(text: str, count: int) -> tuple[list[np.ndarray], float]:
    """The first `count` frames of the clip and its frame rate (UsageError when it cannot be benched)."""
    if source_kind(text) == "camera":
        raise UsageError(f"--source {text}: bench needs a repeatable input, a video file or a folder of images")
    source = open_source(SourceConfig(text))
    try:
        frames: list[np.ndarray] = []
        while len(frames) < count and (image_bgr := source.read()) is not None:
            frames.append(image_bgr)
    finally:
        source.close()
    if not frames:
        raise UsageError(f"--source {text}: no frames could be read")
    return frames, source.fps


def measure_stages(
    stages: Stages, frames_bgr: list[np.ndarray], fps: float, budget_s: float
) -> tuple[dict[str, TimingSummary], list[np.ndarray]]:
    """Landmarks, retarget and sketch alone on the frames (in a loop); returns their timings and the sketches."""
    landmarks: list[np.ndarray | None] = [None] * len(frames_bgr)

    def track(index: int) -> None:
        landmarks[index % len(frames_bgr)] = stages.detector.detect(frames_bgr[index % len(frames_bgr)])

    landmarks_ms = time_calls(track, budget_s / 2)
    faces = [face for face in landmarks if face is not None]
    if not faces:
        raise UsageError(
            f"no face found in the first {len(frames_bgr)} frames of the source: bench needs a clip with a face"
        )
    size_px, version = stages.card.size_px, stages.card.sketch_format_version
    placing = SketchStep(
        stages.retargeter, size_px, BufferPool(size_px), PipelineStats("bench"), body=stages.body_follower
    )
    images = [image for image, face in zip(frames_bgr, landmarks) if face is not None]
    targets: list[np.ndarray] = [stages.card.neutral_landmarks_px] * len(faces)

    def retarget(index: int) -> None:  # as the pipeline's retarget stage: with the head crop and the body's shift
        frame = Frame(index, 0.0, images[index % len(faces)], index / fps)
        targets[index % len(faces)] = placing.place(frame, faces[index % len(faces)])[1]

    retarget_ms = time_calls(retarget, budget_s / 4)
    sketches_bgr = [np.zeros((size_px, size_px, 3), dtype=np.uint8) for _ in targets]

    def sketch(index: int) -> None:
        draw_sketch(targets[index % len(targets)], size_px, sketches_bgr[index % len(targets)], version)

    sketch_ms = time_calls(sketch, budget_s / 4, min_calls=len(targets))
    return {
        "landmarks": summarise(landmarks_ms),
        "retarget": summarise(retarget_ms),
        "sketch": summarise(sketch_ms),
    }, sketches_bgr
