"""`live eval`: self-reenactment of a model on a dataset's held-out frames, at the target's own size.

Each evaluation frame's own stored sketch (drawn from its own landmarks in its aligned head crop)
drives the generator over the plate warped into that crop; the crop is pasted back into the plate at
the frame's transform (live.pipeline.paste_back), exactly as `live run` does, and the result is compared
with the real frame as recorded: L1, PSNR, SSIM over the whole frame and over the face region
(live.formats.sketch.face_mask of the real frame's landmarks), AKD (mean distance between MediaPipe
landmarks found on the output and on the real frame, static-image mode on both), the rate of outputs
with a face, and temporal flicker. A nearest-frame baseline (the training frame whose landmarks are
nearest in the aligned crop, its stored crop pasted where the evaluated frame's head is) gets the same
metrics, so a model is judged against
"just look it up"; `compare` adds other outputs of the same frames (e.g. an older model's).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from rich.console import Console

from live.engines.generator import GeneratorSession, GeneratorSessionConfig
from live.engines.landmarks import LandmarkConfig, LandmarkDetector
from live.errors import UsageError
from live.face.corner_warp import CornerResponse, CornerWarp
from live.face.eye_warp import EyeResponse, EyeWarp
from live.face.head_plate import in_plate
from live.formats.card import ModelCard
from live.formats.dataset import Dataset, sha256_of_file
from live.formats.sketch import face_mask
from live.offline.body_plates import frame_plates
from live.offline.eval_checks import check_inputs, check_model
from live.offline.image_metrics import (
    DEFINITIONS,
    PSNR_CAP_DB,
    consecutive_pairs,
    detail_metrics,
    flicker_0_255,
    keypoint_distance_px,
    l1_0_255,
    nearest_landmark_frames,
    psnr_db,
    ssim,
)
from live.pipeline.paste_back import PasteBack
from live.progress import bar

SPLITS = ("train", "val")


@dataclass(frozen=True, slots=True)
class EvalConfig:
    """model_path: an ONNX file from `live export`; dataset_path: a `live prepare` folder; split: "val"
    (frames recorded at their own size are kept for it); compare: (name, folder) pairs of other outputs of the
    same frames, named by the frame's number in its video (NNNNNN.png), at the video's size. As `live run`:
    body_follow moves each frame's plate person to the real frame's body (live.offline.body_plates); eye_warp and
    corner_warp move the generated lids and mouth corners by the card's responses; head_follow bends the plate's
    head onto each frame's face (live.face.head_plate). other_dataset: score a dataset other than the one the card
    says the model was trained on (refused otherwise, live.offline.eval_checks)."""

    model_path: Path
    dataset_path: Path
    split: str = "val"
    device: str = "auto"
    compare: tuple[tuple[str, Path], ...] = ()
    body_follow: bool = True
    eye_warp: bool = True
    head_follow: bool = True
    corner_warp: bool = True
    other_dataset: bool = False


@dataclass(frozen=True)
class EvalResult:
    """The JSON-ready report and the images behind it (the target's own size), indexed like the evaluation frames."""

    report: dict
    sketches_bgr: np.ndarray
    real_bgr: np.ndarray
    generated_bgr: np.ndarray
    nearest_bgr: np.ndarray
    compared_bgr: dict[str, np.ndarray]


def evaluate(config: EvalConfig, console: Console | None = None) -> EvalResult:
    """Run the model and the nearest-frame baseline on the validation frames; UsageError on bad input."""
    console = console or Console(stderr=True)
    dataset, indices, train = check_inputs(config.model_path, config.dataset_path, config.split)
    videos = dataset.video_indices
    with GeneratorSession(GeneratorSessionConfig(Path(config.model_path), config.device)) as session:
        trained = check_model(session.card, config.model_path, config.dataset_path, dataset, config.other_dataset)
        real, pastes, plates, shifts, plate_crops = _plates(config, dataset, indices)
        crops, generator_ms = _generate(session, dataset, indices, plate_crops, console)
        provider, card = session.provider, session.card
    crops, switches = _warped(config, card, crops, dataset.landmarks_px[indices])
    nearest = train[nearest_landmark_frames(dataset.landmarks_px[indices], dataset.landmarks_px[train], None)]

    def pasted(crop: np.ndarray, k: int) -> np.ndarray:
        index = indices[k]
        return pastes[videos[index]].paste(crop, plate_crops[k], dataset.transforms[index], plate_bgr=plates[k])

    generated = np.stack([pasted(crop, k) for k, crop in enumerate(crops)])
    baseline = np.stack([pasted(dataset.images_bgr[j], k) for k, j in enumerate(nearest)])
    compared = {name: _read_outputs(Path(folder), dataset, indices) for name, folder in config.compare}
    found = _detect_faces({"real": real, "model": generated, "baseline": baseline, **compared}, console)
    masks = [native_face_mask(dataset, i) for i in indices]
    pairs = consecutive_pairs(videos[indices], _frame_indices(dataset, indices))
    real_flicker = flicker_0_255(real, pairs)

    scored = {}
    with bar(console, transient=True) as progress:  # (SSIM over whole frames: the longest part)
        task = progress.add_task("scoring", total=2 + len(compared))
        for name, images in {"model": generated, "baseline": baseline, **compared}.items():
            scored[name] = output_metrics(real, images, masks, found["real"], found[name], pairs, real_flicker)
            progress.advance(task)
    baseline_metrics = scored["baseline"]
    baseline_metrics["landmark_distance_px"] = _landmark_distance_px(dataset, indices, nearest)
    report = {
        "model_path": str(config.model_path),
        "model_sha256": sha256_of_file(Path(config.model_path)),
        "dataset": str(config.dataset_path),
        **trained,
        "split": config.split,
        "frames": int(indices.size),
        "size_px": dataset.size_px,
        "frame_size_px": [int(real.shape[2]), int(real.shape[1])],
        "provider": provider,
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "model": scored["model"],
        "nearest_frame_baseline": baseline_metrics,
        "compared": {name: {"folder": str(folder), **scored[name]} for name, folder in config.compare},
        "real_frames": {
            "face_found_rate": _rounded(_found_rate(found["real"])),
            "flicker_0_255": _rounded(real_flicker),
            "flicker_pairs": len(pairs),
        },
        "generator_ms_p50": _rounded(float(np.median(generator_ms))),
        **switches,
        "body_shifts_px": [None if shift is None else [round(v, 2) for v in shift] for shift in shifts],
        "landmarks": "MediaPipe face mesh, static_image_mode=True, on real, generated and baseline frames alike",
        "definitions": DEFINITIONS,
    }
    return EvalResult(report, dataset.sketches_bgr[indices], real, generated, baseline, compared)


def _plates(config: EvalConfig, dataset: Dataset, indices: np.ndarray) -> tuple:
    """The real frames, each video's PasteBack, each frame's plate (its person moved as `live run` moves it), the
    body shifts, and each plate in the frame's head crop."""
    real = np.stack([dataset.native_frame(i) for i in indices])
    pastes = [PasteBack(plate, dataset.size_px) for plate in dataset.plates_bgr]
    plates, shifts = frame_plates(dataset, indices, real, config.body_follow, config.head_follow)
    videos = dataset.video_indices
    crops = [pastes[videos[i]].plate_crop(dataset.transforms[i], plate_bgr=p) for i, p in zip(indices, plates)]
    return real, pastes, plates, shifts, crops


def _warped(config: EvalConfig, card: ModelCard, crops: np.ndarray, landmarks_px: np.ndarray) -> tuple:
    """The crops with the eye and corner warps `live run` would apply (each only with the card's response; asked:
    each frame's own landmarks, the sketch's), and what the run switched on."""
    eyes, corners = EyeResponse.from_card(card.eye_response), CornerResponse.from_card(card.corner_response)
    warps = {
        "eye_warp": EyeWarp(eyes) if config.eye_warp and eyes is not None else None,
        "corner_warp": CornerWarp(corners, card.neutral_landmarks_px) if config.corner_warp and corners else None,
    }
    for warp in filter(None, warps.values()):
        crops = np.stack([warp.apply(crop, landmarks) for crop, landmarks in zip(crops, landmarks_px)])
    applied = {name: warp is not None for name, warp in warps.items()}
    return crops, {"body_follow": config.body_follow, **applied, "head_follow": config.head_follow}


def _landmark_distance_px(dataset: Dataset, indices: np.ndarray, nearest: np.ndarray) -> float | None:
    """Mean distance (crop pixels) between each frame's landmarks and its nearest training frame's."""
    distances = [
        np.linalg.norm(dataset.landmarks_px[i, :, :2] - dataset.landmarks_px[j, :, :2], axis=1).mean()
        for i, j in zip(indices, nearest)
    ]
    return _rounded(float(np.mean(distances)))


def native_face_mask(dataset: Dataset, index: int) -> np.ndarray:
    """The face region of a frame at its video's size (the crop's landmarks taken back into the frame)."""
    height_px, width_px = dataset.plates_bgr[dataset.video_indices[index]].shape[:2]
    landmarks = in_plate(dataset.landmarks_px[index], dataset.transforms[index])
    return face_mask(landmarks, max(height_px, width_px))[:height_px, :width_px]


def _read_outputs(folder: Path, dataset: Dataset, indices: np.ndarray) -> np.ndarray:
    images = []
    for index in indices:
        path = folder / f"{dataset.manifest.frames[index].frame_index:06d}.png"
        image = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if image is None:
            raise UsageError(f"--compare: cannot read {path}: give a folder with one PNG per frame, NNNNNN.png")
        images.append(image)
    return np.stack(images)


def _frame_indices(dataset: Dataset, indices: np.ndarray) -> np.ndarray:
    frames = dataset.manifest.frames
    return np.array([frames[i].frame_index for i in indices], dtype=np.int64)


def _generate(
    session: GeneratorSession, dataset: Dataset, indices: np.ndarray, plate_crops: list[np.ndarray], console: Console
) -> tuple[np.ndarray, list[float]]:
    """The generator's head crop for every frame's sketch over its plate crop, and the milliseconds each call took."""
    generated = np.empty_like(dataset.sketches_bgr[indices])
    timings_ms = []
    with bar(console, transient=True) as progress:
        task = progress.add_task("generating", total=len(indices))
        for k, index in enumerate(indices):
            plate_bgr = plate_crops[k]
            start_s = time.perf_counter()
            session.generate(dataset.sketches_bgr[index], out_bgr=generated[k], plate_bgr=plate_bgr)
            timings_ms.append((time.perf_counter() - start_s) * 1000.0)
            progress.advance(task)
    return generated, timings_ms


def _detect_faces(sets_bgr: dict[str, np.ndarray], console: Console) -> dict[str, list[np.ndarray | None]]:
    """Static-image MediaPipe landmarks (or None) of every image of every named set."""
    found: dict[str, list[np.ndarray | None]] = {}
    with (
        LandmarkDetector(LandmarkConfig(static_image_mode=True)) as detector,
        bar(console, transient=True) as progress,
    ):
        task = progress.add_task("landmarks", total=sum(len(images) for images in sets_bgr.values()))
        for name, images in sets_bgr.items():
            found[name] = []
            for image in images:
                found[name].append(detector.detect(image))
                progress.advance(task)
    return found


def _found_rate(landmarks: list[np.ndarray | None]) -> float:
    return sum(item is not None for item in landmarks) / len(landmarks)


def _rounded(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(float(value), digits)


def output_metrics(
    real_bgr: np.ndarray,
    output_bgr: np.ndarray,
    masks: list[np.ndarray],
    real_landmarks: list,
    output_landmarks: list,
    pairs: list[tuple[int, int]],
    real_flicker: float | None,
) -> dict:
    """The metrics of (N, S, S, 3) outputs against the real frames (see DEFINITIONS).

    masks: each frame's face region; real_landmarks / output_landmarks: static-mode MediaPipe
    landmarks (or None) of each real / output frame; pairs: consecutive_pairs of the sequence.
    """

    def mean_over_frames(metric, use_mask: bool, cap: float | None = None) -> float:
        values = [
            metric(real, output, mask if use_mask else None) for real, output, mask in zip(real_bgr, output_bgr, masks)
        ]
        return float(np.mean([min(value, cap) for value in values] if cap else values))

    distances = [
        keypoint_distance_px(a, b) for a, b in zip(real_landmarks, output_landmarks) if a is not None and b is not None
    ]
    flicker = flicker_0_255(output_bgr, pairs)
    return {
        "l1_0_255_frame": _rounded(mean_over_frames(l1_0_255, False)),
        "l1_0_255_face": _rounded(mean_over_frames(l1_0_255, True)),
        "psnr_db_frame": _rounded(mean_over_frames(psnr_db, False, PSNR_CAP_DB)),
        "psnr_db_face": _rounded(mean_over_frames(psnr_db, True, PSNR_CAP_DB)),
        "ssim_bgr_mean_frame": _rounded(mean_over_frames(ssim, False)),
        "ssim_bgr_mean_face": _rounded(mean_over_frames(ssim, True)),
        **{name: _rounded(value) for name, value in detail_metrics(real_bgr, output_bgr, masks).items()},
        "akd_px": _rounded(float(np.mean(distances))) if distances else None,
        "akd_frames": len(distances),
        "face_found_rate": _rounded(_found_rate(output_landmarks)),
        "flicker_0_255": _rounded(flicker),
        "flicker_ratio": _rounded(flicker / real_flicker) if flicker is not None and real_flicker else None,
    }
