"""Test helper: a copy of an exported model with some fields of its card changed (as an older or other
`live export` would have written them)."""

from __future__ import annotations

import json
from pathlib import Path

import onnx

from live.formats.card import CARD_METADATA_KEY


def copy_with_card(source: Path, target: Path, **changes: object) -> Path:
    """Write source's model to target with the card's fields in `changes` replaced; returns target."""
    model = onnx.load(str(source))
    entry = next(entry for entry in model.metadata_props if entry.key == CARD_METADATA_KEY)
    entry.value = json.dumps({**json.loads(entry.value), **changes})
    onnx.save(model, str(target))
    return target
