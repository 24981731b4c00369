"""The whole model card is checked when a model opens (issue 12): a malformed or unknown shape space, a
missing version, a damaged field: one line naming the field, before the run starts."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path

import onnxruntime
import pytest

from live.cli import main
from live.errors import UsageError
from live.formats.card import CARD_METADATA_KEY, ModelCard

REPO = Path(__file__).resolve().parents[1]
CLIP = REPO / "data" / "jwp_office.mp4"
SHIPPED_MODEL = REPO / "models" / "jwp.onnx"


@pytest.fixture(scope="module")
def shipped_card() -> dict:
    """The shipped avatar's card (it has every field, with a shape space and an expression range)."""
    session = onnxruntime.InferenceSession(str(SHIPPED_MODEL), providers=["CPUExecutionProvider"])
    return json.loads(session.get_modelmeta().custom_metadata_map[CARD_METADATA_KEY])


def without(key: str) -> Callable[[dict], None]:
    return lambda card: card.pop(key)


def setting(*path_and_value: object) -> Callable[[dict], None]:
    *path, value = path_and_value

    def change(card: dict) -> None:
        target = card
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return change


DAMAGE: dict[str, tuple[Callable[[dict], None], str]] = {
    "shape space of another width": (
        lambda card: card["shape_space"].update(components=[row[:-2] for row in card["shape_space"]["components"]]),
        r"field shape_space components has shape \d+x954, expected Kx956",
    ),
    "shape space without a version": (
        lambda card: card["shape_space"].pop("version"),
        r"field shape_space has version None, this live reads version 1",
    ),
    "shape space of an unknown version": (setting("shape_space", "version", 7), r"shape_space has version 7"),
    "shape space with NaN": (setting("shape_space", "low", 0, float("nan")), r"shape_space low holds NaN"),
    "shape space lows and highs of other lengths": (
        lambda card: card["shape_space"]["high"].pop(),
        r"shape_space needs as many low and high values as components",
    ),
    "no sketch format version": (without("sketch_format_version"), r"lacks sketch_format_version"),
    "no landmark format version": (without("landmark_format_version"), r"lacks landmark_format_version"),
    "pose range without roll": (lambda card: card["pose_range_deg"].pop("roll"), r"field pose_range_deg must map"),
    "landmarks of another shape": (
        lambda card: card["neutral_landmarks_px"].pop(),
        r"field neutral_landmarks_px has shape 477x3, expected 478x3",
    ),
    "expression range without the eye": (
        lambda card: card["expression_range"].pop("eye"),
        r"field expression_range needs eye",
    ),
    "eye response of unequal lengths": (
        setting("eye_response", {"asked": [0.1, 0.2, 0.3], "drawn": [0.1, 0.2]}),
        r"field eye_response needs two or more asked and as many drawn openings",
    ),
    "eye response not increasing": (
        setting("eye_response", {"asked": [0.2, 0.1], "drawn": [0.1, 0.2]}),
        r"field eye_response needs asked openings in increasing order",
    ),
    "eye response with a strength as text": (
        setting("eye_response", {"asked": [0.1, 0.2], "drawn": [0.1, 0.2], "strength": "3"}),
        r"field eye_response needs a positive number as its strength",
    ),
    "mouth response drawing narrower for a wider ask": (
        setting("mouth_response", {"asked": [0.02, 0.05], "drawn": [0.05, 0.03]}),
        r"field mouth_response needs drawn openings in increasing order",
    ),
    "plate size as text": (setting("plate_size_px", "640x480"), r"field plate_size_px must be \[width, height\]"),
    "transform of the wrong shape": (setting("neutral_transform", [[1, 0, 0]]), r"field neutral_transform has shape"),
    "head template missing a point": (
        lambda card: card["template"]["points_unit"].pop(),
        r"field template points_unit has shape 23x2, expected 24x2",
    ),
    "head template without its side": (
        lambda card: card["template"].pop("side_over_face_height"),
        r"field template needs numbers side_over_face_height",
    ),
}


@pytest.mark.parametrize("damage", list(DAMAGE), ids=list(DAMAGE))
def test_a_damaged_card_is_refused_naming_the_field(damage: str, shipped_card: dict) -> None:
    change, message = DAMAGE[damage]
    card = copy.deepcopy(shipped_card)
    change(card)
    with pytest.raises(UsageError, match=message) as raised:
        ModelCard.from_json(json.dumps(card), "model.onnx")
    assert "\n" not in str(raised.value) and str(raised.value).startswith("model.onnx: model card ")


def test_the_shipped_card_passes(shipped_card: dict) -> None:
    card = ModelCard.from_json(json.dumps(shipped_card), str(SHIPPED_MODEL))
    assert card.shape_space["version"] == 1


def test_live_run_refuses_a_malformed_shape_space_when_the_model_opens(
    tiny_model_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import onnx

    model = onnx.load(str(tiny_model_path))
    entry = next(entry for entry in model.metadata_props if entry.key == CARD_METADATA_KEY)
    card = json.loads(entry.value)
    card["shape_space"] = {"version": 1, "mean_px": [[0.0, 0.0]] * 478, "components": [[1.0] * 10], "low": [0.0]}
    entry.value = json.dumps(card)
    damaged = tmp_path / "damaged.onnx"
    onnx.save(model, str(damaged))
    out = tmp_path / "out.mp4"
    exit_code = main(["run", "--model", str(damaged), "--source", str(CLIP), "--output", str(out), "--device", "cpu"])
    errors = capsys.readouterr().err.strip().splitlines()
    assert exit_code == 2
    assert errors == [
        f"live run: error: {damaged}: model card field shape_space components has shape 1x10, expected Kx956;"
        " re-export it with `live export`"
    ]
    assert not out.exists()  # refused when the model opened, before any output
