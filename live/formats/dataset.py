"""The dataset format written by `live prepare` and read by train, export and eval.

DATASET/
  manifest.json          sources (name, sha256, crop), frames (file, video, frame_index, split),
                         consent, size, format versions, neutral landmarks, pose range, counts
  frames/NNNNNN.png      the target, cropped to one fixed square per video, size_px x size_px BGR
  sketches/NNNNNN.png    draw_sketch() of that frame's landmarks
  landmarks.npy          (N, 478, 3) float32, pixels of the size_px square
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from live.errors import UsageError
from live.formats.landmarks import LANDMARK_FORMAT_VERSION
from live.formats.sketch import SKETCH_FORMAT_VERSION

DATASET_FORMAT_VERSION = 1
MANIFEST_NAME = "manifest.json"


@dataclass(frozen=True)
class Dataset:
    """A loaded dataset: arrays are indexed like manifest["frames"]."""

    path: Path
    manifest: dict
    images_bgr: np.ndarray  # (N, S, S, 3) uint8
    sketches_bgr: np.ndarray  # (N, S, S, 3) uint8
    landmarks_px: np.ndarray  # (N, 478, 3) float32
    splits: np.ndarray  # (N,) str: "train" | "val"
    video_indices: np.ndarray  # (N,) int

    @property
    def size_px(self) -> int:
        return int(self.manifest["size_px"])

    def indices(self, split: str) -> np.ndarray:
        """Frame indices of one split, in time order."""
        return np.flatnonzero(self.splits == split)


def sha256_of_file(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_manifest(path: Path) -> dict:
    """The manifest of a dataset folder, checked for format versions; UsageError if unusable."""
    manifest_path = Path(path) / MANIFEST_NAME
    if not manifest_path.is_file():
        raise UsageError(
            f"{path} is not a dataset (no {MANIFEST_NAME}): make one with `live prepare VIDEO --out {path} --consent ...`"
        )
    try:
        manifest = json.loads(manifest_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise UsageError(f"{manifest_path} is not valid JSON ({error}): re-run `live prepare`") from error
    expected = {
        "format_version": DATASET_FORMAT_VERSION,
        "sketch_format_version": SKETCH_FORMAT_VERSION,
        "landmark_format_version": LANDMARK_FORMAT_VERSION,
    }
    for key, version in expected.items():
        if manifest.get(key) != version:
            raise UsageError(
                f"{path}: dataset {key} is {manifest.get(key)!r}, this live needs {version}: re-run `live prepare` on the videos"
            )
    return manifest


def load_dataset(path: Path) -> Dataset:
    """Load a whole dataset into memory (a few hundred frames at 256 px is ~100 MB)."""
    path = Path(path)
    manifest = read_manifest(path)
    frames = manifest["frames"]
    if not frames:
        raise UsageError(
            f"{path}: the dataset has no frames: re-run `live prepare` on videos where the face is visible"
        )
    images = np.stack([_read_png(path / "frames" / entry["file"]) for entry in frames])
    sketches = np.stack([_read_png(path / "sketches" / entry["file"]) for entry in frames])
    landmarks = np.load(path / "landmarks.npy").astype(np.float32)
    if landmarks.shape[0] != len(frames):
        raise UsageError(
            f"{path}: landmarks.npy has {landmarks.shape[0]} rows for {len(frames)} frames: re-run `live prepare`"
        )
    splits = np.array([entry["split"] for entry in frames])
    videos = np.array([entry["video"] for entry in frames], dtype=np.int64)
    return Dataset(path, manifest, images, sketches, landmarks, splits, videos)


def _read_png(path: Path) -> np.ndarray:
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise UsageError(f"cannot read {path}: the dataset is damaged, re-run `live prepare`")
    return image
