"""Expression on a dataset's own frames (`live drive-eval MODEL --dataset DATASET`): each frame's stored
sketch (drawn from its own landmarks, i.e. `--retarget off`) drives the generator, MediaPipe measures the
output, and eye opening, mouth opening and smile are correlated with the real frame's (no lag: same frame).
The generator paints over each frame's own plate crop, the plate's head bent onto the frame's face with
`head_follow` (live.offline.body_plates), as `live eval` does.
On training frames it shows whether the generator learned to draw the expressions at all; on validation
frames, whether it draws them for sketches it never saw."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from live.engines.generator import GeneratorSession, GeneratorSessionConfig
from live.engines.landmarks import LandmarkConfig, LandmarkDetector
from live.face.expression import measure_series
from live.formats.dataset import load_dataset
from live.offline.body_plates import frame_plates
from live.offline.expression import best_lag_correlation

EXPRESSION_MEASURES = ("eye", "mouth", "smile")


def dataset_correlations(
    model_path: Path, dataset_path: Path, split: str = "val", device: str = "cpu", head_follow: bool = True
) -> dict:
    """Per measure, Pearson r of real vs generated over the split's frames; and the share of outputs with a face."""
    dataset = load_dataset(Path(dataset_path))
    indices = dataset.indices(split)
    plates, _ = frame_plates(dataset, indices, np.empty((0,)), body_follow=False, head_follow=head_follow)
    size = (dataset.size_px, dataset.size_px)
    found: list[np.ndarray | None] = []
    with (
        GeneratorSession(GeneratorSessionConfig(Path(model_path), device)) as session,
        LandmarkDetector(LandmarkConfig(static_image_mode=True)) as checker,
    ):
        for index, plate in zip(indices, plates):
            plate_crop = cv2.warpAffine(
                plate, dataset.transforms[index], size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
            )
            found.append(checker.detect(session.generate(dataset.sketches_bgr[index], plate_bgr=plate_crop)))
    real = measure_series(
        [dataset.landmarks_px[index] if face is not None else None for index, face in zip(indices, found)]
    )
    generated = measure_series(found)
    correlations = {
        name: None if (r := best_lag_correlation(real[name], generated[name], max_lag=0)) is None else round(r, 3)
        for name in EXPRESSION_MEASURES
    }
    share = sum(face is not None for face in found) / max(1, len(found))
    return {
        "dataset": str(dataset_path),
        "split": split,
        "frames": len(indices),
        "correlation": correlations,
        "faces_found": round(share, 3),
    }
