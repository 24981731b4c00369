"""The dataset format written by `live prepare` and read by train, export and eval (format 2).

DATASET/
  manifest.json          Manifest: sources (name, sha256, native size, plate, neutral transform), frames
                         (file, video, frame_index, split), consent, crop size, context, template,
                         format versions, neutral landmarks, pose range, counts
  frames/NNNNNN.png      the target's aligned head crop with context: context_px x context_px BGR, the
                         crop (size_px) in its middle, context_margin_px of the frame around it on every
                         side (training jitters the crop inside it)
  sketches/NNNNNN.png    draw_sketch() of that frame's landmarks in the crop, size_px x size_px
  landmarks.npy          (N, 478, 3) float32, pixels of the size_px crop
  transforms.npy         (N, 2, 3) float64, each frame's similarity: its video's pixels -> crop pixels
  plates/VIDEO.png       one still background plate per source video, at that video's own size
                         (median of its training frames)
  native/NNNNNN.png      validation frames as recorded (the video's own size), for `live eval`
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from live.errors import UsageError
from live.formats.landmarks import LANDMARK_FORMAT_VERSION
from live.formats.sketch import SKETCH_FORMAT_VERSION

DATASET_FORMAT_VERSION = 2
MANIFEST_NAME = "manifest.json"
# Sides of the head crop a dataset may have: powers of two (the generator halves the side down to 4 px and
# doubles it back), at least 32 (the smallest side the PatchGAN discriminator can judge) and at most 1024
# (a dataset is held in memory whole: 1024 px is about 5 MB a frame with its context).
CROP_SIZES_PX = tuple(2**power for power in range(5, 11))


@dataclass(frozen=True, slots=True)
class FrameEntry:
    """One kept frame: its files' name, source video index, frame number in that video, split."""

    file: str
    video: int
    frame_index: int
    split: str


@dataclass(frozen=True, slots=True)
class VideoEntry:
    """One source video: identity, native size, its plate and its usual (median) crop transform."""

    name: str
    sha256: str
    fps: float
    frames_total: int
    frame_size_px: tuple[int, int]
    plate_file: str | None
    neutral_transform: tuple[tuple[float, ...], ...] | None
    kept: int
    train: int
    val: int
    skipped: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Manifest:
    """manifest.json as read and written (to_dict / from_dict)."""

    format_version: int
    sketch_format_version: int
    landmark_format_version: int
    created: str
    consent: str
    size_px: int
    context_margin_px: int
    template: dict[str, Any]
    videos: tuple[VideoEntry, ...]
    counts: dict[str, int]
    neutral_landmarks_px: tuple
    pose_range_deg: dict[str, list[float]]
    frames: tuple[FrameEntry, ...]

    @property
    def context_px(self) -> int:
        """Side of the stored frames: the crop plus its context on both sides."""
        return self.size_px + 2 * self.context_margin_px

    def to_dict(self) -> dict:
        """JSON-ready form."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict, origin: str) -> "Manifest":
        """Parse a manifest; UsageError naming what is missing."""
        try:
            videos = tuple(
                VideoEntry(**{**video, "frame_size_px": tuple(video["frame_size_px"])}) for video in data["videos"]
            )
            frames = tuple(FrameEntry(**entry) for entry in data["frames"])
            values = {key: data[key] for key in cls.__dataclass_fields__ if key not in ("videos", "frames")}
        except (KeyError, TypeError) as error:
            raise UsageError(f"{origin}: the manifest lacks or mangles {error}: re-run `live prepare`") from error
        return cls(videos=videos, frames=frames, **values)


@dataclass(frozen=True)
class Dataset:
    """A loaded dataset: arrays are indexed like manifest.frames."""

    path: Path
    manifest: Manifest
    context_bgr: np.ndarray  # (N, C, C, 3) uint8: crop with context
    sketches_bgr: np.ndarray  # (N, S, S, 3) uint8
    landmarks_px: np.ndarray  # (N, 478, 3) float32, crop pixels
    transforms: np.ndarray  # (N, 2, 3) float64, video pixels -> crop pixels
    plates_bgr: tuple[np.ndarray, ...]  # per video, native size
    splits: np.ndarray  # (N,) str: "train" | "val"
    video_indices: np.ndarray  # (N,) int

    @property
    def size_px(self) -> int:
        """The crop's side (the generator's size)."""
        return int(self.manifest.size_px)

    @property
    def images_bgr(self) -> np.ndarray:
        """(N, S, S, 3) the aligned crops themselves (a view into context_bgr)."""
        margin = self.manifest.context_margin_px
        return self.context_bgr[:, margin : margin + self.size_px, margin : margin + self.size_px]

    def indices(self, split: str) -> np.ndarray:
        """Frame indices of one split, in time order."""
        return np.flatnonzero(self.splits == split)

    def native_frame(self, index: int) -> np.ndarray:
        """Validation frame `index` as recorded, at its video's own size."""
        return _read_png(self.path / "native" / self.manifest.frames[index].file)

    def plate_crop(self, index: int) -> np.ndarray:
        """Frame `index`'s video plate warped into that frame's crop: what the generator paints over
        (bilinear, border pixels replicated, as live.pipeline.paste_back warps the plate at run time)."""
        plate = self.plates_bgr[int(self.video_indices[index])]
        size_px = self.size_px
        return cv2.warpAffine(
            plate, self.transforms[index], (size_px, size_px), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
        )


def check_crop_size(size_px: int, option: str = "--size") -> None:
    """UsageError (one line) unless size_px is one of CROP_SIZES_PX."""
    if size_px not in CROP_SIZES_PX:
        raise UsageError(
            f"{option} {size_px}: use a power of two from {CROP_SIZES_PX[0]} to {CROP_SIZES_PX[-1]} "
            f"({', '.join(str(size) for size in CROP_SIZES_PX)})"
        )


def sha256_of_file(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_manifest(path: Path) -> Manifest:
    """The manifest of a dataset folder, checked for format versions; UsageError if unusable."""
    manifest_path = Path(path) / MANIFEST_NAME
    if not manifest_path.is_file():
        raise UsageError(
            f"{path} is not a dataset (no {MANIFEST_NAME}): "
            f"make one with `live prepare VIDEO --out {path} --consent ...`"
        )
    try:
        data = json.loads(manifest_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise UsageError(f"{manifest_path} is not valid JSON ({error}): re-run `live prepare`") from error
    expected = {
        "format_version": DATASET_FORMAT_VERSION,
        "sketch_format_version": SKETCH_FORMAT_VERSION,
        "landmark_format_version": LANDMARK_FORMAT_VERSION,
    }
    for key, version in expected.items():
        if data.get(key) != version:
            raise UsageError(
                f"{path}: dataset {key} is {data.get(key)!r}, this live needs {version}: "
                "re-run `live prepare` on the videos"
            )
    return Manifest.from_dict(data, str(manifest_path))


def write_manifest(path: Path, manifest: Manifest) -> None:
    """Write manifest.json into a dataset folder."""
    (Path(path) / MANIFEST_NAME).write_text(json.dumps(manifest.to_dict(), indent=1))


def load_dataset(path: Path) -> Dataset:
    """Load a whole dataset into memory (a few hundred frames at 256 px is ~100 MB)."""
    path = Path(path)
    manifest = read_manifest(path)
    frames = manifest.frames
    if not frames:
        raise UsageError(
            f"{path}: the dataset has no frames: re-run `live prepare` on videos where the face is visible"
        )
    context = np.stack([_read_png(path / "frames" / entry.file) for entry in frames])
    sketches = np.stack([_read_png(path / "sketches" / entry.file) for entry in frames])
    landmarks = np.load(path / "landmarks.npy").astype(np.float32)
    transforms = np.load(path / "transforms.npy").astype(np.float64)
    if landmarks.shape[0] != len(frames) or transforms.shape != (len(frames), 2, 3):
        raise UsageError(
            f"{path}: landmarks.npy / transforms.npy have {landmarks.shape[0]} / {transforms.shape[0]} rows "
            f"for {len(frames)} frames: re-run `live prepare`"
        )
    if context.shape[1] != manifest.context_px:
        raise UsageError(
            f"{path}: frames are {context.shape[1]} px, the manifest says {manifest.context_px}: re-run `live prepare`"
        )
    plates = tuple(
        _read_png(path / "plates" / video.plate_file) if video.plate_file else np.zeros((1, 1, 3), np.uint8)
        for video in manifest.videos
    )
    splits = np.array([entry.split for entry in frames])
    videos = np.array([entry.video for entry in frames], dtype=np.int64)
    return Dataset(path, manifest, context, sketches, landmarks, transforms, plates, splits, videos)


def _read_png(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise UsageError(f"cannot read {path}: the dataset is damaged, re-run `live prepare`")
    return image
