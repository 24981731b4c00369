"""`live eval`: self-reenactment of a model on a dataset's held-out frames.

Each evaluation frame's own stored sketch (drawn by draw_sketch from its own
landmarks) drives the generator, and the output is compared with the real
frame: L1, PSNR, SSIM over the whole frame and over the face region
(live.formats.sketch.face_mask of the real frame's landmarks), AKD (the keypoint
metric of FOMM and TPSMM: mean distance between landmarks found on the
generated and on the real frame, MediaPipe in static-image mode on both),
the rate of outputs with a face, and temporal flicker. A nearest-frame
baseline (the training frame whose landmarks are nearest, copied unchanged)
gets the same metrics, so a model is judged against "just look it up".
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from live.engines.generator import GeneratorSession, GeneratorSessionConfig
from live.engines.landmarks import LandmarkConfig, LandmarkDetector
from live.errors import UsageError
from live.formats.card_file import update_card_metrics
from live.formats.dataset import Dataset, load_dataset, sha256_of_file
from live.formats.sketch import SKETCH_FORMAT_VERSION, face_mask
from live.offline.image_metrics import (
    PSNR_CAP_DB,
    consecutive_pairs,
    flicker_0_255,
    keypoint_distance_px,
    l1_0_255,
    nearest_landmark_frames,
    psnr_db,
    ssim,
)

SPLITS = ("train", "val")
DEFINITIONS = {
    "l1_0_255": "mean absolute difference to the real frame, 0..255 scale",
    "psnr_db": f"PSNR (peak 255) per frame, each capped at {PSNR_CAP_DB:g} dB, averaged over frames",
    "ssim_bgr_mean": "SSIM, 11x11 Gaussian window sigma 1.5, per BGR channel averaged; face: mean of the SSIM map inside the face mask",
    "_frame / _face": "whole frame / face region (live.formats.sketch.face_mask of the real frame's landmarks)",
    "akd_px": "mean distance in model pixels between the 478 MediaPipe landmarks of output and real frame (static_image_mode on both), over akd_frames frames where both have a face",
    "face_found_rate": "fraction of outputs on which MediaPipe (static_image_mode) finds a face",
    "flicker_0_255": "mean absolute change between consecutive frames (same video, frame_index + 1); flicker_ratio = output's / real frames'",
    "nearest_frame_baseline": "the training frame whose landmarks (x, y) are nearest on average, copied unchanged",
}


@dataclass(frozen=True, slots=True)
class EvalConfig:
    """model_path: an ONNX file from `live export`; dataset_path: a `live prepare` folder; split: "val" or "train"."""

    model_path: Path
    dataset_path: Path
    split: str = "val"
    device: str = "auto"


@dataclass(frozen=True)
class EvalResult:
    """The JSON-ready report and the images behind it, indexed like the evaluation frames."""

    report: dict
    sketches_bgr: np.ndarray
    real_bgr: np.ndarray
    generated_bgr: np.ndarray
    nearest_bgr: np.ndarray


def evaluate(config: EvalConfig, console: Console | None = None) -> EvalResult:
    """Run the model and the nearest-frame baseline on one split; UsageError on bad input."""
    console = console or Console(stderr=True)
    model_path, dataset_path = Path(config.model_path), Path(config.dataset_path)
    if not model_path.is_file():
        raise UsageError(f"model {model_path} does not exist: export one with `live export RUN --out {model_path}`")
    if config.split not in SPLITS:
        raise UsageError(f"--split {config.split!r}: use one of {', '.join(SPLITS)}")
    dataset = load_dataset(dataset_path)
    indices = dataset.indices(config.split)
    if indices.size == 0:
        raise UsageError(
            f"{dataset_path} has no {config.split!r} frames: re-run `live prepare` with more footage, or pick another --split"
        )
    train = dataset.indices("train")
    if train.size == 0 or (config.split == "train" and train.size < 2):
        raise UsageError(
            f"{dataset_path} has too few training frames for the nearest-frame baseline: re-run `live prepare` with more footage"
        )
    with GeneratorSession(GeneratorSessionConfig(model_path, config.device)) as session:
        if session.card.size_px != dataset.size_px:
            raise UsageError(
                f"{model_path} renders {session.card.size_px} px but {dataset_path} holds {dataset.size_px} px frames: evaluate it on a dataset prepared with --size {session.card.size_px}"
            )
        if session.card.sketch_format_version != SKETCH_FORMAT_VERSION:
            raise UsageError(
                f"{model_path} was trained on sketch format v{session.card.sketch_format_version}, {dataset_path} holds v{SKETCH_FORMAT_VERSION} sketches: retrain it on this dataset"
            )
        generated, generator_ms = _generate(session, dataset.sketches_bgr[indices], console)
        provider = session.provider
    exclude = np.searchsorted(train, indices) if config.split == "train" else None
    nearest = train[nearest_landmark_frames(dataset.landmarks_px[indices], dataset.landmarks_px[train], exclude)]
    real = dataset.images_bgr[indices]
    baseline = dataset.images_bgr[nearest]
    found = _detect_faces({"real": real, "model": generated, "baseline": baseline}, console)
    masks = [face_mask(landmarks, dataset.size_px) for landmarks in dataset.landmarks_px[indices]]
    pairs = consecutive_pairs(dataset.video_indices[indices], _frame_indices(dataset, indices))
    real_flicker = flicker_0_255(real, pairs)
    baseline_metrics = output_metrics(real, baseline, masks, found["real"], found["baseline"], pairs, real_flicker)
    baseline_metrics["landmark_distance_px"] = _rounded(
        float(
            np.mean(
                [
                    np.linalg.norm(dataset.landmarks_px[i, :, :2] - dataset.landmarks_px[j, :, :2], axis=1).mean()
                    for i, j in zip(indices, nearest)
                ]
            )
        )
    )
    report = {
        "model_path": str(model_path),
        "model_sha256": sha256_of_file(model_path),
        "dataset": str(dataset_path),
        "split": config.split,
        "frames": int(indices.size),
        "size_px": dataset.size_px,
        "provider": provider,
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "model": output_metrics(real, generated, masks, found["real"], found["model"], pairs, real_flicker),
        "nearest_frame_baseline": baseline_metrics,
        "real_frames": {
            "face_found_rate": _rounded(_found_rate(found["real"])),
            "flicker_0_255": _rounded(real_flicker),
            "flicker_pairs": len(pairs),
        },
        "generator_ms_p50": _rounded(float(np.median(generator_ms))),
        "landmarks": "MediaPipe face mesh, static_image_mode=True, on real, generated and baseline frames alike",
        "definitions": DEFINITIONS,
    }
    return EvalResult(report, dataset.sketches_bgr[indices], real, generated, baseline)


def _frame_indices(dataset: Dataset, indices: np.ndarray) -> np.ndarray:
    frames = dataset.manifest["frames"]
    return np.array([frames[i]["frame_index"] for i in indices], dtype=np.int64)


def _generate(session: GeneratorSession, sketches_bgr: np.ndarray, console: Console) -> tuple[np.ndarray, list[float]]:
    """The generator's output for every sketch and the milliseconds each call took."""
    generated = np.empty_like(sketches_bgr)
    timings_ms = []
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("generating", total=len(sketches_bgr))
        for k, sketch_bgr in enumerate(sketches_bgr):
            start_s = time.perf_counter()
            session.generate(sketch_bgr, out_bgr=generated[k])
            timings_ms.append((time.perf_counter() - start_s) * 1000.0)
            progress.advance(task)
    return generated, timings_ms


def _detect_faces(sets_bgr: dict[str, np.ndarray], console: Console) -> dict[str, list[np.ndarray | None]]:
    """Static-image MediaPipe landmarks (or None) of every image of every named set."""
    found: dict[str, list[np.ndarray | None]] = {}
    with (
        LandmarkDetector(LandmarkConfig(static_image_mode=True)) as detector,
        Progress(console=console, transient=True) as progress,
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
        "akd_px": _rounded(float(np.mean(distances))) if distances else None,
        "akd_frames": len(distances),
        "face_found_rate": _rounded(_found_rate(output_landmarks)),
        "flicker_0_255": _rounded(flicker),
        "flicker_ratio": _rounded(flicker / real_flicker) if flicker is not None and real_flicker else None,
    }


def results_table(report: dict) -> Table:
    """metric | model | nearest-frame baseline, for the terminal."""
    table = Table(
        title=f"live eval: {report['frames']} {report['split']} frames at {report['size_px']} px ({report['provider']})"
    )
    for column, justify in (("metric", "left"), ("model", "right"), ("nearest-frame baseline", "right")):
        table.add_column(column, justify=justify)
    model, baseline = report["model"], report["nearest_frame_baseline"]
    for key in model:
        table.add_row(key, _text(model[key]), _text(baseline.get(key)))
    table.add_row("landmark_distance_px (to nearest training frame)", "", _text(baseline["landmark_distance_px"]))
    real = report["real_frames"]
    table.caption = (
        f"real frames: face found {_text(real['face_found_rate'])}, flicker {_text(real['flicker_0_255'])} over {real['flicker_pairs']} pairs; "
        f"generator p50 {report['generator_ms_p50']:.1f} ms"
    )
    return table


def _text(value: object) -> str:
    if value is None:
        return "-"
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def card_metrics(report: dict) -> dict:
    """The compact summary stored in the model card under metrics["eval"]."""
    model, baseline = report["model"], report["nearest_frame_baseline"]
    keys = ("psnr_db_frame", "psnr_db_face", "ssim_bgr_mean_frame", "ssim_bgr_mean_face")
    return {
        "eval": {
            "split": report["split"],
            "frames": report["frames"],
            "date": report["date"],
            **{key: model[key] for key in keys},
            "akd_px": model["akd_px"],
            "face_found_rate": model["face_found_rate"],
            "flicker_ratio": model["flicker_ratio"],
            **{f"baseline_{key}": baseline[key] for key in keys},
        }
    }


def store_in_card(model_path: Path, report: dict) -> None:
    """Write card_metrics(report) into the ONNX model's card (and NAME.md); needs onnx."""
    update_card_metrics(Path(model_path), card_metrics(report))


def write_strip(result: EvalResult, path: Path, rows: int = 6) -> None:
    """PNG with rows of sketch | real | generated | nearest-frame for `rows` evenly spaced frames."""
    count = len(result.real_bgr)
    picks = np.unique(np.linspace(0, count - 1, min(rows, count)).round().astype(int))
    tile_px = max(result.real_bgr.shape[1], 128)
    lines = [_header(tile_px)]
    for k in picks:
        tiles = [result.sketches_bgr[k], result.real_bgr[k], result.generated_bgr[k], result.nearest_bgr[k]]
        lines.append(
            np.hstack([cv2.resize(tile, (tile_px, tile_px), interpolation=cv2.INTER_NEAREST) for tile in tiles])
        )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), np.vstack(lines)):
        raise UsageError(f"cannot write {path}: give --strip a writable path ending in .png")


def _header(tile_px: int) -> np.ndarray:
    band = np.zeros((max(16, tile_px // 10), 4 * tile_px, 3), dtype=np.uint8)
    scale = tile_px / 300
    for column, label in enumerate(("sketch", "real", "generated", "nearest frame")):
        cv2.putText(
            band,
            label,
            (column * tile_px + 4, band.shape[0] - 5),
            cv2.FONT_HERSHEY_SIMPLEX,
            scale,
            (255, 255, 255),
            1,
            cv2.LINE_AA,
        )
    return band
