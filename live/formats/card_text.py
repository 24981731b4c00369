"""The model card for people: NAME.md rendered from the card inside the ONNX file."""

from __future__ import annotations

import json

from live.formats.card import CARD_METADATA_KEY, ModelCard


def _table(rows: dict) -> list[str]:
    lines = ["| field | value |", "|---|---|"]
    for key, value in rows.items():
        text = json.dumps(value) if isinstance(value, (dict, list)) else str(value)
        lines.append(f"| {key} | {text} |")
    return lines


def card_markdown(card: ModelCard, parity_difference: float | None = None) -> str:
    """Markdown model card: provenance and consent first, then settings, metrics and notes."""
    lines = [
        f"# Model card: {card.name}",
        "",
        "A pix2pix generator for `live run`: it renders this target from a landmark sketch. "
        f"The machine-readable card is inside the ONNX file (metadata key `{CARD_METADATA_KEY}`); "
        "this page is rendered from it.",
        "",
        "## Provenance and consent",
        *_table({key: value for key, value in card.provenance.items()}),
        "",
        "## Input and output",
        *_table(
            {
                "size_px": card.size_px,
                "tensors": f"{card.io_format}: `sketch` uint8 (1, {card.size_px}, {card.size_px}, 3) "
                f"-> `image` uint8 (1, {card.size_px}, {card.size_px}, 3)",
                "sketch format": card.sketch_format_version,
                "landmark format": card.landmark_format_version,
                "pose range seen in training (deg)": card.pose_range_deg,
                "crop per source video": card.crop,
                "eye response (drawn vs asked eye opening; `live run` moves the lids by it)": card.eye_response
                or "none",
                "mouth response (drawn vs asked mouth opening; the sketch asks for what is drawn as wanted)": (
                    card.mouth_response or "none"
                ),
                "corner response (drawn vs asked mouth-corner lift; `live run` moves the corners by it)": (
                    card.corner_response or "none"
                ),
            }
        ),
        "",
        "## Architecture and training",
        *_table(card.architecture | {f"train.{key}": value for key, value in card.training.items() if key != "notes"}),
    ]
    if parity_difference is not None:
        lines += [
            "",
            f"Export check: ONNX Runtime vs torch, max abs difference {parity_difference:.2e} "
            "on validation sketches (limit 1e-3).",
        ]
    if card.metrics:
        lines += ["", "## Measured"]
        for key, value in card.metrics.items():
            lines += ["", f"`{key}`:", "", *(_table(value) if isinstance(value, dict) else [str(value)])]
    notes = card.training.get("notes")
    if notes:
        lines += ["", "## Notes", "", notes]
    return "\n".join(lines) + "\n"
