"""Rewriting the model card stored inside an exported ONNX file (needs the `onnx` package, not torch)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from live.errors import UsageError
from live.formats.card import CARD_METADATA_KEY, ModelCard
from live.formats.card_text import card_markdown
from live.formats.replacing import replacing


def update_card_metrics(model_path: Path, metrics: dict) -> ModelCard:
    """Store eval numbers in an exported model's card (ONNX metadata and NAME.md), replacing the file atomically."""
    return update_card_data(model_path, lambda data: data.setdefault("metrics", {}).update(metrics))


def update_card_notes(model_path: Path, notes: str) -> ModelCard:
    """Replace the notes (what was tried, how it was chosen) in an exported model's card; the weights stay."""
    return update_card_data(model_path, lambda data: data.setdefault("training", {}).update(notes=notes))


def update_card_data(model_path: Path, update: Callable[[dict], object]) -> ModelCard:
    """Edit an exported model's card (`update` changes the parsed JSON in place), check it as a card and write
    the ONNX metadata and NAME.md, each replaced atomically."""
    try:
        import onnx
    except ImportError as error:
        raise UsageError(f"changing the card needs onnx ({error}): pip install 'onnx==1.22.0'") from error
    from google.protobuf.message import DecodeError  # installed with onnx

    try:
        model = onnx.load(str(model_path))
    except (OSError, DecodeError) as error:
        raise UsageError(
            f"cannot read {model_path} as an ONNX model ({error}): give a model from `live export`"
        ) from error
    entries = {entry.key: entry for entry in model.metadata_props}
    if CARD_METADATA_KEY not in entries:
        raise UsageError(f"{model_path} has no live model card: export it with `live export`")
    ModelCard.from_json(entries[CARD_METADATA_KEY].value, str(model_path))  # a damaged card: one line, not a crash
    data = json.loads(entries[CARD_METADATA_KEY].value)
    update(data)
    card = ModelCard.from_json(json.dumps(data), str(model_path))
    entries[CARD_METADATA_KEY].value = card.to_json()
    try:
        with replacing(model_path) as temporary:
            onnx.save(model, str(temporary))
        with replacing(model_path.with_suffix(".md")) as temporary:
            temporary.write_text(card_markdown(card))
    except OSError as error:
        raise UsageError(f"cannot update the card of {model_path}: {error.strerror or error}") from error
    return card
