"""The target's real fine detail, the reference of `live drive-eval`'s detail ratio.

The ratio is the mean Laplacian variance of the output's face box over a driver clip (live.offline.image_metrics)
divided by that of the target's real faces: the held-out frames of a dataset as recorded, when one is given, or
else the face of the model's plate. The plate is the median of the training frames, so its face is softer than a
real frame's (on jwp_intro its Laplacian variance is lower than the real frames'): give --dataset for the figure
that `live eval` can be compared with.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from live.engines.generator import GeneratorSession, GeneratorSessionConfig
from live.engines.landmarks import LandmarkConfig, LandmarkDetector
from live.errors import UsageError
from live.face.head_plate import in_plate
from live.formats.dataset import load_dataset
from live.offline.image_metrics import face_laplacian_variance


def dataset_face_detail(dataset_path: Path) -> float:
    """Mean face-box Laplacian variance of a dataset's held-out frames as recorded (their own landmarks)."""
    dataset = load_dataset(Path(dataset_path))
    indices = dataset.indices("val")
    if indices.size == 0:
        raise UsageError(f"{dataset_path} has no held-out frames to take the real face's detail from")
    variances = [
        face_laplacian_variance(dataset.native_frame(i), in_plate(dataset.landmarks_px[i], dataset.transforms[i]))
        for i in indices
    ]
    return float(np.mean(variances))


def plate_face_detail(model_path: Path, device: str = "cpu") -> float:
    """Face-box Laplacian variance of the model's plate (its face found by MediaPipe, static-image mode)."""
    with GeneratorSession(GeneratorSessionConfig(Path(model_path), device)) as session:
        plate_bgr = session.plate_bgr
    with LandmarkDetector(LandmarkConfig(static_image_mode=True)) as detector:
        landmarks_px = detector.detect(plate_bgr)
    if landmarks_px is None:
        raise UsageError(f"no face found on the plate of {model_path}: give --dataset for the real face's detail")
    return face_laplacian_variance(plate_bgr, landmarks_px)


def detail_reference(model_path: Path, dataset_path: Path | None, device: str = "cpu") -> tuple[str, float]:
    """(what the reference is, its Laplacian variance): the dataset's held-out frames, or the plate's face."""
    if dataset_path is not None:
        return f"held-out frames of {dataset_path}", dataset_face_detail(dataset_path)
    return f"the plate of {model_path} (median of the training frames)", plate_face_detail(model_path, device)


def detail_figures(output_detail: list[float], reference: tuple[str, float]) -> dict:
    """A driver clip's detail figures: the output faces' mean Laplacian variance (frames with a face) and its ratio
    to the reference's; None where no output had a face."""
    variances = [value for value in output_detail if np.isfinite(value)]
    name, reference_variance = reference
    if not variances:
        return {"output_laplacian_variance": None, "reference": name, "ratio": None}
    mean = float(np.mean(variances))
    ratio = mean / reference_variance if reference_variance > 0 else None
    return {
        "output_laplacian_variance": round(mean, 3),
        "reference": name,
        "reference_laplacian_variance": round(reference_variance, 3),
        "ratio": None if ratio is None else round(ratio, 3),
    }


def median_detail(reports: list[dict]) -> dict:
    """The median detail ratio over drivers' reports (None where none has one)."""
    ratios = [report["detail"]["ratio"] for report in reports if report["detail"]["ratio"] is not None]
    return {"ratio": round(float(np.median(ratios)), 3) if ratios else None}


def detail_line(report: dict) -> str:
    """One printed line: a driver's detail ratio and what it is measured against."""
    detail, name = report["detail"], Path(str(report["driver"])).name
    ratio = "-" if detail["ratio"] is None else f"{detail['ratio']:.3f}"
    return f"detail ratio (output face / {detail['reference']}), {name}: {ratio}"
