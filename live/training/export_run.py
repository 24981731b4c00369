"""`live export`: a training run's last checkpoint -> ONNX with the model card inside, plus NAME.md."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import torch

from live.errors import UsageError
from live.face.alignment import apply_transform
from live.face.coverage import coverage_report
from live.face.head_plate import in_plate
from live.face.shape_space import ShapeSpace
from live.face.teeth import teeth_shares
from live.formats.card import ModelCard, encode_plate
from live.formats.card_text import card_markdown
from live.formats.consent import check_consent
from live.formats.dataset import MANIFEST_NAME, Dataset, Manifest, load_dataset, sha256_of_file
from live.formats.replacing import replacing
from live.training.checkpoints import latest_checkpoint, load_checkpoint, load_error_reason
from live.training.config import TrainConfig
from live.training.networks import GeneratorConfig, UnetGenerator
from live.training.onnx_export import ExportError, export_onnx

# Shape-space components kept: 0.999 of the training shapes' variance reconstructs the
# default avatar's validation shapes to 0.27 px on average (0.98: 0.79 px; 3 components).
SHAPE_VARIANCE_KEPT = 0.999


def load_generator(run_folder: Path) -> tuple[UnetGenerator, dict]:
    """The generator of a run's newest checkpoint, in eval mode, and the checkpoint's state."""
    checkpoint = latest_checkpoint(run_folder / "checkpoints")
    if checkpoint is None:
        raise UsageError(
            f"{run_folder} has no checkpoints: train it first with `live train DATASET --out {run_folder}`"
        )
    state = load_checkpoint(checkpoint)
    try:
        generator = UnetGenerator(GeneratorConfig(**state["generator_config"]))
        generator.load_state_dict(state["generator"])
    except (TypeError, ValueError, AttributeError, RuntimeError) as error:
        raise UsageError(
            f"{checkpoint} holds no generator this live can build ({load_error_reason(error)}): "
            "export a checkpoint written by `live train`"
        ) from error
    return generator.eval(), state


def _training_dataset(state: dict, checkpoint_folder: Path) -> Dataset:
    """The dataset the run was trained on, refused (UsageError) when its consent statement says nothing."""
    config = state.get("config")
    dataset_path = config.get("dataset") if isinstance(config, dict) else None
    if not isinstance(dataset_path, str):
        raise UsageError(f"the checkpoints in {checkpoint_folder} do not name their dataset: train the run again")
    dataset = load_dataset(Path(dataset_path))
    check_consent(dataset.manifest.consent, option=f"the consent in {Path(dataset_path) / MANIFEST_NAME}")
    return dataset


def with_training_ranges(card: ModelCard, dataset: Dataset) -> ModelCard:
    """The card with the shapes and the expression range of the dataset's training frames (what `live run` clamps
    sketches to, and what the card reports the avatar saw)."""
    train = dataset.indices("train")
    return dataclasses.replace(
        card,
        shape_space=ShapeSpace.fit(usual_crop_landmarks(dataset, card), SHAPE_VARIANCE_KEPT).to_dict(),
        expression_range=coverage_report(
            dataset.landmarks_px[train], teeth_shares(dataset.images_bgr, dataset.landmarks_px, train)
        ),
    )


def usual_crop_landmarks(dataset: Dataset, card: ModelCard) -> np.ndarray:
    """The training frames' landmarks in the pixels of the usual crop (the card's neutral transform), where the
    retargeter works: the head's own movement and roll kept, unlike in each frame's aligned crop."""
    neutral_transform = np.asarray(card.neutral_transform, dtype=np.float64)
    return np.stack(
        [
            apply_transform(neutral_transform, in_plate(dataset.landmarks_px[i], dataset.transforms[i]))
            for i in dataset.indices("train")
        ]
    )


def plate_video(manifest: Manifest) -> int:
    """The video whose plate the model renders into: the one with the most training frames."""
    return int(np.argmax([video.train if video.plate_file else -1 for video in manifest.videos]))


# Training options of issue 10 (absent from older runs' checkpoints: None).
EXPRESSION_TRAINING_KEYS = (
    "region_weight",
    "discriminator_scales",
    "lambda_feature_matching",
    "balance_expressions",
    "local_discriminator",
)
# Augmentation options; a run older than an option did what its default does now.
AUGMENTATION_TRAINING_KEYS = (
    "augment_shift",
    "augment_scale",
    "augment_rotate_deg",
    "shape_augment",
    "shape_augment_lids",
)


_DEFAULTS = {spec.name: spec.default for spec in dataclasses.fields(TrainConfig)}


def build_card(
    name: str, state: dict, dataset_manifest: Manifest, manifest_sha256: str, plate_sha256: str
) -> ModelCard:
    """The model card from a checkpoint's config and the dataset's manifest."""
    generator_config = state["generator_config"]
    video = dataset_manifest.videos[plate_video(dataset_manifest)]
    template = dataset_manifest.template
    return ModelCard(
        name=name,
        size_px=int(generator_config["size_px"]),
        neutral_landmarks_px=np.asarray(dataset_manifest.neutral_landmarks_px, dtype=np.float32),
        pose_range_deg=dataset_manifest.pose_range_deg,
        crop=[
            {
                "source": entry.name,
                "frame_size_px": list(entry.frame_size_px),
                "neutral_transform": entry.neutral_transform,
            }
            for entry in dataset_manifest.videos
        ],
        template=template,
        coverage={
            "side_over_face_height": template["side_over_face_height"],
            "includes": "whole head: hair, chin and a little neck; roll corrected",
            "plate_from": video.name,
        },
        plate_size_px=list(video.frame_size_px),
        neutral_transform=[list(row) for row in video.neutral_transform],
        plate_sha256=plate_sha256,
        architecture={"generator": "unet-groupnorm-resizeconv", **generator_config, "parameters": None},
        training={
            key: state["config"][key]
            for key in (
                "steps",
                "ngf",
                "ndf",
                "batch_size",
                "learning_rate",
                "lambda_l1",
                "face_weight",
                "use_plate",
                "flip",
                "seed",
            )
        }
        | {"steps_done": int(state["step"])}
        | {key: state["config"].get(key) for key in EXPRESSION_TRAINING_KEYS}
        | {key: state["config"].get(key, _DEFAULTS[key]) for key in AUGMENTATION_TRAINING_KEYS}
        | {"init_from": Path(state["config"].get("init_from") or "").name}
        | {"head_follow": bool(state["config"].get("head_follow", False))},  # older runs: the still plate
        provenance={
            "consent": dataset_manifest.consent,
            "dataset_manifest_sha256": manifest_sha256,
            "sources": [{"name": entry.name, "sha256": entry.sha256} for entry in dataset_manifest.videos],
            "dataset_created": dataset_manifest.created,
        },
    )


def export_run(run_folder: Path, out: Path, metrics: dict | None = None, notes: str = "") -> tuple[ModelCard, float]:
    """Export a run; returns the card and the torch/ORT parity difference. Writes out and out.with_suffix('.md').

    notes: free text for people (what was tried, how it was chosen), kept in the card.
    """
    run_folder, out = Path(run_folder), Path(out)
    if out.suffix != ".onnx":
        raise UsageError(f"--out {out}: the model file must end in .onnx")
    generator, state = load_generator(run_folder)
    dataset = _training_dataset(state, run_folder / "checkpoints")
    dataset_path = dataset.path
    plate_base64, plate_sha256 = encode_plate(dataset.plates_bgr[plate_video(dataset.manifest)])
    card = build_card(out.stem, state, dataset.manifest, sha256_of_file(dataset_path / "manifest.json"), plate_sha256)
    card.architecture["parameters"] = sum(parameter.numel() for parameter in generator.parameters())
    if metrics:
        card.metrics.update(metrics)
    if notes:
        card.training["notes"] = notes
    card = with_training_ranges(card, dataset)
    validation = dataset.indices("val")
    check = [
        (dataset.sketches_bgr[i], dataset.plate_crop(i))
        for i in (validation if validation.size else dataset.indices("train"))[:4]
    ]
    with torch.no_grad():
        difference = export_onnx(generator, card, out, check, plate_base64)
    write_card_text(out.with_suffix(".md"), card_markdown(card, parity_difference=difference))
    return card, difference


def write_card_text(path: Path, text: str) -> None:
    """Write NAME.md whole or not at all; ExportError (one line) when it cannot be written."""
    try:
        with replacing(path) as temporary:
            temporary.write_text(text)
    except OSError as error:
        raise ExportError(f"cannot write {path}: {error.strerror or error} (the model was written)") from error
