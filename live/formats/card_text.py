"""The model card for people: NAME.md rendered from the card inside the ONNX file.

The page has the sections of the usual model card (as on Hugging Face): model details, intended and
out-of-scope use, training data (provenance and consent), evaluation (figures and the commands that made
them), limitations, how to reproduce, and the notes kept in the card. Every string taken from the card is
escaped (`markdown_text`): a consent statement or a note cannot add a heading, HTML, a link or a terminal
escape to the page; it is shown as written.
"""

from __future__ import annotations

import json
import re
import unicodedata

from live.formats.card import CARD_METADATA_KEY, ModelCard

# Characters that start Markdown structure anywhere in a line (code, emphasis, links, HTML, entities,
# headings, table cells, strikethrough); backslash-escaped, which CommonMark allows for all ASCII punctuation.
_ANYWHERE = re.compile(r"([\\`*\[\]<>#|~&])")
_WORD_EDGE_UNDERSCORE = re.compile(r"(?<![0-9A-Za-z])_|_(?![0-9A-Za-z])")  # snake_case names stay as they are
# Only where a line starts (multiline text): list items, rules and setext underlines, numbered items.
_LIST_OR_RULE_START = re.compile(r"^(\s*)([-+=])", flags=re.MULTILINE)
_NUMBERED_START = re.compile(r"^(\s*\d+)([.)])(?=\s|$)", flags=re.MULTILINE)
_INVISIBLE_CATEGORIES = {"Cc", "Cf", "Zl", "Zp"}  # control, format (e.g. bidi overrides), line/paragraph separators

# What made each figure stored under metrics[KEY], for the Evaluation section.
METRIC_SOURCES = {
    "eval": "`live eval MODEL DATASET --store-in-card`: the dataset's held-out frames, each generated crop pasted "
    "back into the target's own frame as `live run` does; PSNR and SSIM against the real frames for the whole "
    "frame and the face region, keypoint distance (akd_px), faces found, flicker, and the same for a baseline "
    "that copies the nearest training frame",
    "export_parity_max_abs_difference": "`live export`: ONNX Runtime against torch on validation sketches, "
    "largest absolute difference (limit 1e-3)",
}


def _shown(character: str, keep: str) -> str:
    if character in keep or unicodedata.category(character) not in _INVISIBLE_CATEGORIES:
        return character
    code = ord(character)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def markdown_text(value: object, multiline: bool = False) -> str:
    """`value` as Markdown that renders as the text itself: punctuation that would start Markdown structure is
    backslash-escaped, and control and invisible characters are written as their codes (ESC as `\\x1b`).
    Inline (a table cell, a list item) line breaks become spaces; with `multiline` they stay."""
    text = str(value).replace("\r\n", "\n")
    if not multiline:
        text = re.sub(r"[\r\n\t]", " ", text)
    text = "".join(_shown(character, "\n\t" if multiline else "") for character in text)
    text = _ANYWHERE.sub(r"\\\1", text)
    text = _WORD_EDGE_UNDERSCORE.sub(r"\\_", text)
    if not multiline:
        return text
    text = _LIST_OR_RULE_START.sub(r"\1\\\2", text)
    return _NUMBERED_START.sub(r"\1\\\2", text)


def _cell(value: object) -> str:
    return markdown_text(json.dumps(value) if isinstance(value, (dict, list)) else value)


def _table(rows: dict) -> list[str]:
    return ["| field | value |", "|---|---|", *(f"| {_cell(key)} | {_cell(value)} |" for key, value in rows.items())]


def _model_details(card: ModelCard, parity_difference: float | None) -> list[str]:
    size = card.size_px
    lines = [
        "## Model details",
        "",
        "A pix2pix generator (U-Net with a PatchGAN discriminator in training) for `live run`: from a landmark "
        "sketch of a face it paints this target's head in an aligned square crop, over the target's own still "
        "frame (the plate), and `live run` pastes the crop back into that frame at its native size.",
        "",
        "### Input and output",
        *_table(
            {
                "size_px": size,
                "tensors": f"{card.io_format}: sketch uint8 (1, {size}, {size}, 3) "
                f"-> image uint8 (1, {size}, {size}, 3)",
                "output frame (plate) size px": card.plate_size_px or "none",
                "sketch format": card.sketch_format_version,
                "landmark format": card.landmark_format_version,
                "crop per source video": card.crop,
            }
        ),
        "",
        "### Architecture and training settings",
        *_table(card.architecture | {f"train.{key}": value for key, value in card.training.items() if key != "notes"}),
    ]
    if parity_difference is not None:
        lines += [
            "",
            f"Export check: ONNX Runtime vs torch, max abs difference {parity_difference:.2e} "
            "on validation sketches (limit 1e-3).",
        ]
    return lines + ["", *_corrections(card)]


def _corrections(card: ModelCard) -> list[str]:
    return [
        "### Corrections fitted after training",
        "",
        "Measured by `live drive-eval MODEL CLIP --fit-response` on a clip of another person: what the generator "
        "draws against what its sketch asks; `live run` corrects by them (none: no correction).",
        "",
        *_table(
            {
                "eye response (eye opening; `live run` moves the lids by it)": card.eye_response or "none",
                "mouth response (mouth opening; the sketch asks for what is drawn as wanted)": card.mouth_response
                or "none",
                "corner response (mouth-corner lift; `live run` moves the corners by it)": card.corner_response
                or "none",
            }
        ),
    ]


def _use() -> list[str]:
    return [
        "## Intended use",
        "",
        "Driving this target's face with `live run` (webcam, video file or images in; preview window, virtual "
        "camera, video file or a local web page out) for what the consent statement below allows, for example "
        'the target\'s own video calls and recordings. File and virtual-camera output carry a small "AI" badge '
        "unless `--no-badge` is given.",
        "",
        "## Out-of-scope use",
        "",
        "- Making the target appear to say or do what they did not consent to, or passing the output off as a "
        "real recording of them: keep the badge, or tell your audience.",
        "- Identity verification, or any decision about a person.",
        "- Other faces: the generator draws only this target; another person can only drive it.",
        "- Head poses and expressions far outside the training video (Limitations).",
    ]


def _training_data(card: ModelCard) -> list[str]:
    coverage = card.expression_range
    lines = [
        "## Training data",
        "",
        "Frames of the source videos below, made into a dataset by `live prepare`, which refuses to run without a "
        "consent statement and stores it as written; it holds out the last 15% of each video for evaluation.",
        "",
        "### Provenance and consent",
        *_table(dict(card.provenance)),
    ]
    if coverage:
        shares = coverage.get("shares", {})
        shares = {f"share of frames: {state.replace('_', ' ')}": share for state, share in shares.items()}
        lines += [
            "",
            "### Coverage (what the training frames show)",
            *_table({"training frames": coverage.get("frames", "?"), **shares, "pose (deg)": card.pose_range_deg}),
        ]
        lines += [""] if coverage.get("missing") else []
        for missing in coverage.get("missing", []):
            lines.append(f"- missing: {_cell(missing.get('state', '?'))}: {_cell(missing.get('advice', ''))}")
    return lines


def _evaluation(card: ModelCard) -> list[str]:
    lines = ["## Evaluation"]
    if not card.metrics:
        return lines + ["", "No figures stored: `live eval MODEL DATASET --store-in-card` measures and stores them."]
    for key, value in card.metrics.items():
        source = METRIC_SOURCES.get(key, "stored in the card under this name")
        lines += ["", f"### {markdown_text(key)}", "", f"Made by {source}.", ""]
        lines += _table(value) if isinstance(value, dict) else [markdown_text(value, multiline=True)]
    return lines


def _limitations(card: ModelCard) -> list[str]:
    ranges = card.pose_range_deg.items()
    pose = ", ".join(f"{_cell(axis)} {_cell(low)} to {_cell(high)}" for axis, (low, high) in ranges)
    return [
        "## Limitations",
        "",
        f"- Head turns are kept within the range seen in training (degrees: {pose}); the avatar turns no further.",
        "- Eye and mouth openings are kept within those the target showed: a driver's wider mouth or broader smile "
        "becomes the widest the target showed, and what the training video lacks (Coverage) is drawn poorly.",
        "- Hair, ears, body and background come from one still frame of the target (the plate); the head and "
        "body are moved on it, a little, to follow the driver.",
        "- The figures above were measured on held-out frames of the target's own recording; how well the avatar "
        "follows other people is measured by `live drive-eval MODEL CLIP`.",
    ]


def _reproduce(card: ModelCard) -> list[str]:
    lines = [
        "## How to reproduce",
        "",
        "The steps that make such a model; `live train` takes the `train.*` settings above as options.",
        "",
        "```bash",
        'live prepare VIDEO --out DATASET --consent "WHO, WHAT FOR, DATE"',
        "live train DATASET --out RUN --steps STEPS",
        "live export RUN --out MODEL.onnx",
        "live eval MODEL.onnx DATASET --store-in-card",
        "live drive-eval MODEL.onnx CLIP_OF_ANOTHER_PERSON --fit-response",
        "```",
    ]
    if card.training.get("init_from"):
        lines += ["", "This run started from another run's weights (`train.init_from`); the notes say how."]
    return lines


def card_markdown(card: ModelCard, parity_difference: float | None = None) -> str:
    """The model card as Markdown, in the usual model-card sections, every card string escaped."""
    lines = [
        f"# Model card: {markdown_text(card.name)}",
        "",
        f"The machine-readable card is inside the ONNX file (metadata key `{CARD_METADATA_KEY}`); this page is "
        "rendered from it by `live export`, `live eval --store-in-card` and `live drive-eval --fit-response`.",
        "",
        *_model_details(card, parity_difference),
        "",
        *_use(),
        "",
        *_training_data(card),
        "",
        *_evaluation(card),
        "",
        *_limitations(card),
        "",
        *_reproduce(card),
    ]
    notes = card.training.get("notes")
    if notes:
        lines += ["", "## Notes", "", markdown_text(notes, multiline=True)]
    return "\n".join(lines) + "\n"
