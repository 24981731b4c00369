"""`live prepare`: videos of a consenting target -> a dataset (see live/dataset.py).

Per video: landmarks on every frame (the same detector `live run` uses), one
fixed square crop for the whole video (median face box plus a margin for hair
and shoulders), frames/landmarks/sketches at size_px, the last 15% of each
video held out for validation.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from live.engines.landmarks import LandmarkConfig, LandmarkDetector
from live.errors import UsageError
from live.face.pose import pose_angles_deg
from live.formats.dataset import DATASET_FORMAT_VERSION, MANIFEST_NAME, sha256_of_file
from live.formats.landmarks import LANDMARK_FORMAT_VERSION
from live.formats.sketch import SKETCH_FORMAT_VERSION, draw_sketch
from live.offline.coverage import coverage_lines, coverage_report


@dataclass(frozen=True, slots=True)
class PrepareConfig:
    """videos: target recordings; margin: crop side / face box side; blur_ratio: skip frames sharper than this fraction of the video's median."""

    videos: tuple[Path, ...]
    out: Path
    consent: str
    size_px: int = 256
    margin: float = 2.2
    validation_fraction: float = 0.15
    blur_ratio: float = 0.4


@dataclass
class _VideoScan:
    """What the first pass keeps of a video: landmarks and sharpness per frame, never the frames
    (a minute of 1080p would be gigabytes); the second pass decodes again to write the crops."""

    name: str
    landmarks_px: list[np.ndarray | None] = field(default_factory=list)
    sharpness: dict[int, float] = field(default_factory=dict)
    skipped: dict[int, str] = field(default_factory=dict)
    fps: float = 0.0
    frame_shape: tuple[int, ...] = ()


def prepare_dataset(config: PrepareConfig, console: Console | None = None) -> dict:
    """Build the dataset; returns the manifest. Raises UsageError on bad input, before writing anything."""
    console = console or Console(stderr=True)
    _check_inputs(config)
    scans = []
    with (
        LandmarkDetector(LandmarkConfig(static_image_mode=False, max_faces=2)) as detector,
        Progress(console=console) as progress,
    ):
        for video in config.videos:
            scans.append(_scan_video(video, detector, progress, config.blur_ratio))
    (config.out / "frames").mkdir(parents=True, exist_ok=True)
    (config.out / "sketches").mkdir(exist_ok=True)
    frames, landmarks_all, videos = [], [], []
    with Progress(console=console) as progress:
        for video_index, (video, scan) in enumerate(zip(config.videos, scans)):
            entries, landmarks, crop = _write_video(config, video, video_index, scan, len(frames), progress)
            frames += entries
            landmarks_all += landmarks
            videos.append(_video_entry(video, scan, crop, entries))
    if not frames:
        raise UsageError(
            "no usable face in any frame of the given videos: use a video where one face looks at the camera"
        )
    landmarks_array = np.stack(landmarks_all).astype(np.float32)
    np.save(config.out / "landmarks.npy", landmarks_array)
    manifest = _manifest(config, videos, frames, landmarks_array)
    (config.out / MANIFEST_NAME).write_text(json.dumps(manifest, indent=1))
    console.print(_summary_table(videos))
    for line in coverage_lines(coverage_report(landmarks_array)):
        console.print(line, highlight=False, markup=False)
    return manifest


def _check_inputs(config: PrepareConfig) -> None:
    if not config.consent.strip():
        raise UsageError(
            '--consent is required: say who consented, to what, and when (e.g. "Jane Doe, avatar for her own calls, 2026-11-22")'
        )
    for video in config.videos:
        if not Path(video).is_file():
            raise UsageError(f"video not found: {video}")
    if config.size_px < 32 or config.size_px & (config.size_px - 1):
        raise UsageError(f"--size {config.size_px}: use a power of two from 32 up (64, 128, 256, 512)")
    if (config.out / MANIFEST_NAME).exists():
        raise UsageError(f"{config.out} already holds a dataset: choose another --out or delete it first")


def _open_video(video: Path) -> cv2.VideoCapture:
    capture = cv2.VideoCapture(str(video))
    if not capture.isOpened():
        raise UsageError(f"cannot read {video}: not a video OpenCV can open")
    return capture


def _scan_video(video: Path, detector: LandmarkDetector, progress: Progress, blur_ratio: float) -> _VideoScan:
    capture = _open_video(video)
    scan = _VideoScan(name=Path(video).name, fps=float(capture.get(cv2.CAP_PROP_FPS) or 0.0))
    total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) or None
    task = progress.add_task(f"landmarks {scan.name}", total=total)
    try:
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            faces = detector.detect_all(frame)
            index = len(scan.landmarks_px)
            scan.frame_shape = frame.shape
            scan.landmarks_px.append(faces[0] if len(faces) == 1 else None)
            if not faces:
                scan.skipped[index] = "no face"
            elif len(faces) > 1:
                scan.skipped[index] = "several faces"
            else:
                scan.sharpness[index] = _face_sharpness(frame, faces[0])
            progress.advance(task)
    finally:
        capture.release()
    if not scan.landmarks_px:
        raise UsageError(f"cannot read {video}: no frames could be decoded")
    _mark_blurred(scan, blur_ratio)
    return scan


def _face_sharpness(frame_bgr: np.ndarray, landmarks_px: np.ndarray) -> float:
    low = np.maximum(landmarks_px[:, :2].min(axis=0).astype(int), 0)
    high = landmarks_px[:, :2].max(axis=0).astype(int)
    face = cv2.cvtColor(frame_bgr[low[1] : high[1], low[0] : high[0]], cv2.COLOR_BGR2GRAY)
    return float(cv2.Laplacian(face, cv2.CV_64F).var()) if face.size else 0.0


def _mark_blurred(scan: _VideoScan, blur_ratio: float) -> None:
    if not scan.sharpness:
        return
    median = float(np.median(list(scan.sharpness.values())))
    for index, value in scan.sharpness.items():
        if value < median * blur_ratio:
            scan.skipped[index] = "blurred"


def choose_crop(landmarks_px: list[np.ndarray], frame_shape: tuple[int, ...], margin: float) -> dict:
    """One square crop for a whole video: the median face box, `margin` times its side, kept inside the frame."""
    lows = np.array([lm[:, :2].min(axis=0) for lm in landmarks_px])
    highs = np.array([lm[:, :2].max(axis=0) for lm in landmarks_px])
    centre = np.median((lows + highs) / 2, axis=0)
    side = float(np.median((highs - lows).max(axis=1))) * margin
    height_px, width_px = frame_shape[:2]
    side_px = int(min(round(side), height_px, width_px))
    x_px = int(np.clip(round(centre[0] - side_px / 2), 0, width_px - side_px))
    y_px = int(np.clip(round(centre[1] - side_px / 2 - 0.05 * side_px), 0, height_px - side_px))
    return {"x_px": x_px, "y_px": y_px, "side_px": side_px}


def _write_video(
    config: PrepareConfig, video: Path, video_index: int, scan: _VideoScan, first_number: int, progress: Progress
):
    usable = [i for i, lm in enumerate(scan.landmarks_px) if lm is not None and i not in scan.skipped]
    if not usable:
        return [], [], None
    crop = choose_crop([scan.landmarks_px[i] for i in usable], scan.frame_shape, config.margin)
    scale = config.size_px / crop["side_px"]
    offset = np.array([crop["x_px"], crop["y_px"], 0.0], dtype=np.float32)
    validation_start = (
        usable[int(len(usable) * (1 - config.validation_fraction))] if len(usable) > 1 else len(scan.landmarks_px)
    )
    wanted = set(usable)
    entries, landmarks_out = [], []
    task = progress.add_task(f"crop + sketch {scan.name}", total=len(usable))
    capture = _open_video(video)
    try:
        for frame_index in range(usable[-1] + 1):
            ok, frame = capture.read()
            if not ok:
                raise UsageError(
                    f"{video} changed while it was being prepared (frame {frame_index} no longer decodes): prepare it again"
                )
            if frame_index not in wanted:
                continue
            landmarks = (scan.landmarks_px[frame_index] - offset) * np.float32(scale)
            if landmarks[:, :2].min() < 0 or landmarks[:, :2].max() >= config.size_px:
                scan.skipped[frame_index] = "face leaves the crop"
                continue
            x, y, side = crop["x_px"], crop["y_px"], crop["side_px"]
            image = cv2.resize(
                frame[y : y + side, x : x + side], (config.size_px, config.size_px), interpolation=cv2.INTER_AREA
            )
            file_name = f"{first_number + len(entries):06d}.png"
            cv2.imwrite(str(config.out / "frames" / file_name), image)
            cv2.imwrite(str(config.out / "sketches" / file_name), draw_sketch(landmarks, config.size_px))
            split = "val" if frame_index >= validation_start else "train"
            entries.append({"file": file_name, "video": video_index, "frame_index": frame_index, "split": split})
            landmarks_out.append(landmarks)
            progress.advance(task)
    finally:
        capture.release()
    return entries, landmarks_out, crop


def _video_entry(video: Path, scan: _VideoScan, crop: dict | None, entries: list[dict]) -> dict:
    reasons: dict[str, int] = {}
    for reason in scan.skipped.values():
        reasons[reason] = reasons.get(reason, 0) + 1
    return {
        "name": scan.name,
        "sha256": sha256_of_file(video),
        "fps": scan.fps,
        "frames_total": len(scan.landmarks_px),
        "frame_size_px": list(scan.frame_shape[1::-1]),
        "crop": crop,
        "kept": len(entries),
        "train": sum(entry["split"] == "train" for entry in entries),
        "val": sum(entry["split"] == "val" for entry in entries),
        "skipped": reasons,
    }


def _manifest(config: PrepareConfig, videos: list[dict], frames: list[dict], landmarks_px: np.ndarray) -> dict:
    train = np.array([entry["split"] == "train" for entry in frames])
    angles = np.array([pose_angles_deg(lm) for lm in landmarks_px])
    low, high = np.percentile(angles, 1, axis=0), np.percentile(angles, 99, axis=0)
    return {
        "format_version": DATASET_FORMAT_VERSION,
        "sketch_format_version": SKETCH_FORMAT_VERSION,
        "landmark_format_version": LANDMARK_FORMAT_VERSION,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "consent": config.consent,
        "size_px": config.size_px,
        "margin": config.margin,
        "videos": videos,
        "counts": {"frames": len(frames), "train": int(train.sum()), "val": int((~train).sum())},
        "neutral_landmarks_px": np.round(
            np.median(landmarks_px[train] if train.any() else landmarks_px, axis=0), 3
        ).tolist(),
        "pose_range_deg": {
            name: [round(float(low[i]), 2), round(float(high[i]), 2)] for i, name in enumerate(("yaw", "pitch", "roll"))
        },
        "frames": frames,
    }


def _summary_table(videos: list[dict]) -> Table:
    table = Table(title="live prepare: frames kept and skipped")
    for column in ("video", "frames", "kept", "train", "val", "skipped (why)", "crop x,y,side px"):
        table.add_column(column)
    for video in videos:
        skipped = ", ".join(f"{count} {reason}" for reason, count in sorted(video["skipped"].items())) or "none"
        crop = video["crop"]
        crop_text = f"{crop['x_px']},{crop['y_px']},{crop['side_px']}" if crop else "-"
        table.add_row(
            video["name"],
            str(video["frames_total"]),
            str(video["kept"]),
            str(video["train"]),
            str(video["val"]),
            skipped,
            crop_text,
        )
    return table
