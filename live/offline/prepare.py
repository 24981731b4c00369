"""`live prepare`: videos of a consenting target -> a dataset (see live/dataset.py).

Per video: landmarks on every frame (the same detector `live run` uses); per frame, the
similarity that aligns the face's stable landmarks to the head template (live/face/alignment.py),
which cuts a square head crop (hair, chin, a little neck; roll corrected) that follows the head;
frames (crop plus context for training jitter) / landmarks / sketches at size_px; one background
plate per video at its own size (median of its training frames); the last 15% of each video held
out for validation.
"""

from __future__ import annotations

import time
from contextlib import nullcontext
from dataclasses import dataclass, field, replace
from pathlib import Path

import cv2
import numpy as np
from rich.console import Console

from live.engines.hands import HandDetector, hand_over_face
from live.engines.landmarks import LandmarkConfig, LandmarkDetector
from live.errors import UsageError
from live.face.alignment import HEAD_TEMPLATE, apply_transform, crop_transform, median_transform, warp_to_crop
from live.face.coverage import coverage_lines, coverage_report
from live.face.pose import pose_angles_deg, pose_range_deg
from live.formats.consent import check_consent
from live.formats.dataset import (
    DATASET_FORMAT_VERSION,
    FrameEntry,
    Manifest,
    VideoEntry,
    check_crop_size,
    sha256_of_file,
    write_manifest,
)
from live.formats.landmarks import LANDMARK_FORMAT_VERSION
from live.formats.sketch import SKETCH_FORMAT_VERSION
from live.offline.plate import write_plate
from live.offline.prepare_files import building_folder, check_new_dataset_folder, summary_table, write_frame_files
from live.offline.sidecar import dataset_neutral, sidecar_consent
from live.progress import ProgressDisplay, bar


@dataclass(frozen=True, slots=True)
class PrepareConfig:
    """videos: target recordings; size_px: the head crop's side; context_fraction: context kept around the
    crop on each side (a fraction of size_px) for training jitter; plate_frames: at most this many
    training frames per video go into its plate's median; blur_ratio: skip frames less sharp than this
    fraction of the video's median; skip_hands: skip frames with a hand over the face (live/engines/hands.py)."""

    videos: tuple[Path, ...]
    out: Path
    consent: str
    size_px: int = 256
    context_fraction: float = 0.125
    validation_fraction: float = 0.15
    blur_ratio: float = 0.4
    plate_frames: int = 60
    skip_hands: bool = True


NO_USABLE_FACE = "no usable face in any frame of the given videos: use a video where one face looks at the camera"


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


def prepare_dataset(config: PrepareConfig, console: Console | None = None) -> Manifest:
    """Build the dataset; returns the manifest. Raises UsageError on bad input, before writing anything. The
    dataset is built in a folder beside config.out and renamed to it at the end: config.out is whole or absent."""
    console = console or Console(stderr=True)
    config = replace(config, consent=check_consent(sidecar_consent(config.videos, config.consent)))
    _check_inputs(config)
    scans = []
    for video in config.videos:
        with (
            LandmarkDetector(LandmarkConfig(static_image_mode=False, max_faces=2)) as detector,
            HandDetector() if config.skip_hands else nullcontext() as hands,
            bar(console) as progress,
        ):
            scans.append(_scan_video(video, detector, hands, progress, config.blur_ratio))
    if not any(lm is not None and i not in scan.skipped for scan in scans for i, lm in enumerate(scan.landmarks_px)):
        raise UsageError(NO_USABLE_FACE)  # before any folder is made
    with building_folder(config.out) as building:
        manifest, landmarks_px, teeth_shares = _write_dataset(replace(config, out=building), scans, console)
    console.print(summary_table(list(manifest.videos), config.size_px))
    for line in coverage_lines(coverage_report(landmarks_px, teeth_shares)):
        console.print(line, highlight=False, markup=False)
    return manifest


def _write_dataset(
    config: PrepareConfig, scans: list[_VideoScan], console: Console
) -> tuple[Manifest, np.ndarray, np.ndarray]:
    """Second pass over every video into config.out; (manifest, landmarks, teeth shares)."""
    for folder in ("frames", "sketches", "plates", "native"):
        (config.out / folder).mkdir(parents=True, exist_ok=True)
    frames, landmarks_all, transforms_all, videos, native_all, teeth_all = [], [], [], [], [], []
    with bar(console) as progress:
        for video_index, (video, scan) in enumerate(zip(config.videos, scans)):
            entries, landmarks, transforms, plate_file, teeth = _write_video(
                config, video, video_index, scan, len(frames), progress
            )
            frames += entries
            landmarks_all += landmarks
            teeth_all += teeth
            transforms_all += transforms
            native_all += [scan.landmarks_px[entry.frame_index] for entry in entries]
            videos.append(_video_entry(video, scan, plate_file, entries, transforms, config.size_px))
    if not frames:
        raise UsageError(NO_USABLE_FACE)
    landmarks_array = np.stack(landmarks_all).astype(np.float32)
    np.save(config.out / "landmarks.npy", landmarks_array)
    np.save(config.out / "transforms.npy", np.stack(transforms_all).astype(np.float64))
    neutral_px, neutral_line = dataset_neutral(config.videos, frames, landmarks_array)  # a recording's sidecar
    if neutral_line:
        console.print(neutral_line, highlight=False, markup=False)
    manifest = _manifest(config, videos, frames, landmarks_array, native_all, neutral_px)
    write_manifest(config.out, manifest)
    return manifest, landmarks_array, np.array(teeth_all)


def _check_inputs(config: PrepareConfig) -> None:
    for video in config.videos:
        if not Path(video).is_file():
            raise UsageError(f"video not found: {video}")
    check_crop_size(config.size_px)
    check_new_dataset_folder(config.out)


def _open_video(video: Path) -> cv2.VideoCapture:
    capture = cv2.VideoCapture(str(video))
    if not capture.isOpened():
        raise UsageError(f"cannot read {video}: not a video OpenCV can open")
    return capture


def _scan_video(
    video: Path, detector: LandmarkDetector, hands: HandDetector | None, progress: ProgressDisplay, blur_ratio: float
) -> _VideoScan:
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
            elif hands is not None and hand_over_face(hands.detect(frame), faces[0]):
                scan.skipped[index] = "hand over the face"
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
    median = float(np.median(list(scan.sharpness.values()))) if scan.sharpness else 0.0
    scan.skipped |= {index: "blurred" for index, value in scan.sharpness.items() if value < median * blur_ratio}


def _write_video(
    config: PrepareConfig, video: Path, video_index: int, scan: _VideoScan, first_number: int, progress: ProgressDisplay
):
    """Second pass: each frame's transform, crop + context, sketch; (entries, landmarks, transforms, plate file,
    teeth shares)."""
    usable = [i for i, lm in enumerate(scan.landmarks_px) if lm is not None and i not in scan.skipped]
    if not usable:
        return [], [], [], None, []
    validation_start = (
        usable[int(len(usable) * (1 - config.validation_fraction))] if len(usable) > 1 else len(scan.landmarks_px)
    )
    train_frames = [i for i in usable if i < validation_start] or usable
    plate_picks = set(train_frames[:: max(1, len(train_frames) // config.plate_frames)][: config.plate_frames])
    margin_px = context_margin_px(config)
    context_px = config.size_px + 2 * margin_px
    wanted = set(usable)
    entries, landmarks_out, transforms, plate_sources, teeth = [], [], [], [], []
    task = progress.add_task(f"crop + sketch {scan.name}", total=len(usable))
    capture = _open_video(video)
    try:
        for frame_index in range(usable[-1] + 1):
            ok, frame = capture.read()
            if not ok:
                raise UsageError(
                    f"{video} changed while it was being prepared "
                    f"(frame {frame_index} no longer decodes): prepare it again"
                )
            if frame_index in plate_picks:
                plate_sources.append(frame)
            if frame_index not in wanted:
                continue
            transform = crop_transform(scan.landmarks_px[frame_index], config.size_px)
            landmarks = apply_transform(transform, scan.landmarks_px[frame_index])
            if landmarks[:, :2].min() < 0 or landmarks[:, :2].max() >= config.size_px:
                scan.skipped[frame_index] = "face leaves the crop"
                continue
            context_transform = transform + np.array([[0, 0, margin_px], [0, 0, margin_px]])
            file_name = f"{first_number + len(entries):06d}.png"
            split = "val" if frame_index >= validation_start else "train"
            context_bgr = warp_to_crop(frame, context_transform, context_px)
            native_bgr = frame if split == "val" else None  # `live eval` compares with the real frame at its size
            teeth.append(write_frame_files(config.out, file_name, context_bgr, landmarks, margin_px, native_bgr))
            entries.append(FrameEntry(file_name, video_index, frame_index, split))
            landmarks_out.append(landmarks)
            transforms.append(transform)
            progress.advance(task)
    finally:
        capture.release()
    plate_file = f"{video_index:03d}.png"
    write_plate(config.out / "plates" / plate_file, plate_sources)
    return entries, landmarks_out, transforms, plate_file, teeth


def context_margin_px(config: PrepareConfig) -> int:
    """Pixels of context kept around the crop on each side of the stored frames."""
    return int(round(config.size_px * config.context_fraction))


def _video_entry(
    video: Path, scan: _VideoScan, plate_file: str | None, entries: list[FrameEntry], transforms: list, size_px: int
) -> VideoEntry:
    reasons: dict[str, int] = {}
    for reason in scan.skipped.values():
        reasons[reason] = reasons.get(reason, 0) + 1
    train_transforms = [t for t, entry in zip(transforms, entries) if entry.split == "train"] or transforms
    neutral = median_transform(np.array(train_transforms), size_px) if train_transforms else None
    return VideoEntry(
        name=scan.name,
        sha256=sha256_of_file(video),
        fps=scan.fps,
        frames_total=len(scan.landmarks_px),
        frame_size_px=tuple(int(value) for value in scan.frame_shape[1::-1]),
        plate_file=plate_file,
        neutral_transform=None if neutral is None else tuple(tuple(round(float(v), 6) for v in row) for row in neutral),
        kept=len(entries),
        train=sum(entry.split == "train" for entry in entries),
        val=sum(entry.split == "val" for entry in entries),
        skipped=reasons,
    )


def _manifest(
    config: PrepareConfig, videos: list, frames: list, landmarks_px: np.ndarray, native_px: list, neutral_px: np.ndarray
) -> Manifest:
    """The manifest; pose range from the landmarks in the videos' own pixels (roll included)."""
    train = np.array([entry.split == "train" for entry in frames])
    angles = np.array([pose_angles_deg(lm) for lm in native_px])
    return Manifest(
        format_version=DATASET_FORMAT_VERSION,
        sketch_format_version=SKETCH_FORMAT_VERSION,
        landmark_format_version=LANDMARK_FORMAT_VERSION,
        created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        consent=config.consent,
        size_px=config.size_px,
        context_margin_px=context_margin_px(config),
        template=HEAD_TEMPLATE.to_dict(),
        videos=tuple(videos),
        counts={"frames": len(frames), "train": int(train.sum()), "val": int((~train).sum())},
        neutral_landmarks_px=np.round(neutral_px, 3).tolist(),
        pose_range_deg=pose_range_deg(angles, low_percentile=1, high_percentile=99, decimals=2),
        frames=tuple(frames),
    )
