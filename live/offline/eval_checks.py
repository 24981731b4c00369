"""`live eval`'s checks before any frame is scored: the model and the dataset exist, have frames to score and
fit each other, and the dataset is the one the model was trained on, or one prepared again from the same videos
(its card's provenance: dataset_manifest_sha256 and the sources' sha256, written by `live export`), unless
--other-dataset says otherwise."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from live.errors import UsageError
from live.formats.card import ModelCard
from live.formats.dataset import MANIFEST_NAME, Dataset, load_dataset, sha256_of_file
from live.formats.sketch import SKETCH_FORMAT_VERSION


def check_inputs(model_path: Path, dataset_path: Path, split: str) -> tuple[Dataset, np.ndarray, np.ndarray]:
    """The dataset and its validation and training frame indices; UsageError when there is nothing to score."""
    model_path, dataset_path = Path(model_path), Path(dataset_path)
    if not model_path.is_file():
        raise UsageError(f"model {model_path} does not exist: export one with `live export RUN --out {model_path}`")
    if split != "val":
        raise UsageError(f"--split {split!r}: only val frames are kept at their own size; use --split val")
    dataset = load_dataset(dataset_path)
    indices, train = dataset.indices("val"), dataset.indices("train")
    if indices.size == 0:
        raise UsageError(f"{dataset_path} has no 'val' frames: re-run `live prepare` with more footage")
    if train.size == 0:
        raise UsageError(
            f"{dataset_path} has too few training frames for the nearest-frame baseline: re-run `live prepare` with "
            "more footage"
        )
    return dataset, indices, train


def dataset_match(card: ModelCard, dataset: Dataset, dataset_path: Path) -> tuple[str, str]:
    """(how the dataset relates to the one the card says the model was trained on, the dataset manifest's sha256):
    "manifest": that very dataset (the card's provenance.dataset_manifest_sha256); "videos": prepared again from
    the same source videos (the card's provenance.sources, by sha256: the same footage and held-out tail);
    "other": another dataset; "unrecorded": the card names no dataset."""
    digest = sha256_of_file(Path(dataset_path) / MANIFEST_NAME)
    recorded = card.provenance.get("dataset_manifest_sha256")
    videos = {source["sha256"] for source in card.provenance.get("sources", [])}
    if recorded == digest:
        return "manifest", digest
    if videos and videos == {video.sha256 for video in dataset.manifest.videos}:
        return "videos", digest
    return ("other" if recorded or videos else "unrecorded"), digest


def check_model(
    card: ModelCard, model_path: Path, dataset_path: Path, dataset: Dataset, other_dataset: bool
) -> dict[str, str]:
    """The model fits the dataset (size, sketch format) and, unless other_dataset, was trained on it (UsageError
    otherwise, before any frame is scored); returns the report's dataset_match (see dataset_match) and
    dataset_manifest_sha256."""
    match, digest = dataset_match(card, dataset, dataset_path)
    if match == "other" and not other_dataset:
        raise UsageError(
            f"{dataset_path} is not the dataset {model_path} was trained on (neither its manifest, sha256 "
            f"{digest[:12]}, nor its videos are the card's): its figures would not be the model's; pass "
            "--other-dataset to score it anyway (never stored in the card)"
        )
    if card.size_px != dataset.size_px:
        raise UsageError(
            f"{model_path} renders {card.size_px} px but {dataset_path} holds {dataset.size_px} "
            f"px crops: evaluate it on a dataset prepared with --size {card.size_px}"
        )
    if card.sketch_format_version != SKETCH_FORMAT_VERSION:
        raise UsageError(
            f"{model_path} was trained on sketch format v{card.sketch_format_version}, "
            f"{dataset_path} holds v{SKETCH_FORMAT_VERSION} sketches: retrain it on this dataset"
        )
    return {"dataset_match": match, "dataset_manifest_sha256": digest}
