"""A damaged model or calibration file is refused with one line (exit 2) before anything runs or opens: a card
that is not a JSON object, a damaged plate, an `image` output of the wrong type or shape, a neutral face or
transform that is no face's geometry, and a calibration file that is huge, a device, nested or not a face."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from live.cli import main
from live.engines.generator import GeneratorSession, GeneratorSessionConfig
from live.engines.landmarks import LandmarkConfig, LandmarkDetector
from live.errors import UsageError
from live.formats.card import CARD_METADATA_KEY, PLATE_METADATA_KEY, ModelCard
from live.io.calibration_file import load_calibration, save_calibration

REPO = Path(__file__).resolve().parents[1]
CLIP = REPO / "data" / "jwp_office.mp4"
PORTRAIT = REPO / "data" / "grace_hopper.jpg"


def _metadata(model_path: Path) -> dict[str, str]:
    return {entry.key: entry.value for entry in onnx.load(str(model_path)).metadata_props}


def _with_metadata(source: Path, target: Path, **values: str) -> Path:
    """source's model saved as target with the metadata entries in `values` replaced (keys: card, plate)."""
    keys = {"card": CARD_METADATA_KEY, "plate": PLATE_METADATA_KEY}
    model = onnx.load(str(source))
    for entry in model.metadata_props:
        for name, key in keys.items():
            if entry.key == key and name in values:
                entry.value = values[name]
    onnx.save(model, str(target))
    return target


def _with_card(source: Path, target: Path, change: Callable[[dict], None]) -> Path:
    card = json.loads(_metadata(source)[CARD_METADATA_KEY])
    change(card)
    return _with_metadata(source, target, card=json.dumps(card))


def _run_refuses(model: Path, tmp_path: Path, capsys: pytest.CaptureFixture, *extra: str) -> str:
    """`live run` with this model: exit 2, one line, before the output opens; returns the line."""
    out = tmp_path / "out.mp4"
    code = main(["run", "--model", str(model), "--source", str(CLIP), "--output", str(out), "--device", "cpu", *extra])
    lines = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and lines[0].startswith("live run: error: "), lines
    assert not out.exists(), "refused before the output opened"
    return lines[0]


# ---------------------------------------------------------------- the card and the plate


@pytest.fixture(scope="module")
def tiny_card(tiny_model_path: Path) -> dict:
    return json.loads(_metadata(tiny_model_path)[CARD_METADATA_KEY])


@pytest.mark.parametrize("text", ["[]", "null", "3", '"card"', "[" * 100_000 + "]" * 100_000])
def test_a_card_that_is_no_json_object_is_one_line(text: str) -> None:
    with pytest.raises(UsageError, match="model card is not a JSON object") as raised:
        ModelCard.from_json(text, "model.onnx")
    assert "\n" not in str(raised.value)


def test_live_run_refuses_a_card_that_is_a_list(
    tiny_model_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    model = _with_metadata(tiny_model_path, tmp_path / "list.onnx", card="[1, 2]")
    assert "model card is not a JSON object" in _run_refuses(model, tmp_path, capsys)


def test_storing_figures_in_a_card_that_is_null_is_one_line(tiny_model_path: Path, tmp_path: Path) -> None:
    from live.formats.card_file import update_card_metrics

    model = _with_metadata(tiny_model_path, tmp_path / "null.onnx", card="null")
    text = tmp_path / "text.onnx"
    text.write_text("not a model\n")
    for path, words in ((model, "model card is not a JSON object"), (text, "cannot read")):
        before = path.read_bytes()
        with pytest.raises(UsageError, match=words) as raised:
            update_card_metrics(path, {"eval": {"frames": 1}})
        assert "\n" not in str(raised.value) and path.read_bytes() == before


def _png_base64(image_bgr: np.ndarray) -> tuple[str, str]:
    data = cv2.imencode(".png", image_bgr)[1].tobytes()
    return base64.b64encode(data).decode("ascii"), hashlib.sha256(data).hexdigest()


PLATE_DAMAGE: dict[str, tuple[Callable[[str], tuple[str, str | None]], str]] = {
    # name: (plate text -> (new plate text, new plate_sha256 or None to keep the card's), expected words)
    "not base64": (lambda plate: ("@@ not base64 @@", None), "plate is not base64"),
    "cut short": (lambda plate: (plate[:-1], None), "plate is not base64"),
    "not ASCII": (lambda plate: ("plaque \u00e9", None), "plate is not base64"),
    "empty": (lambda plate: ("", hashlib.sha256(b"").hexdigest()), "plate is not an image"),
    "text, not an image": (
        lambda plate: (base64.b64encode(b"hello").decode(), hashlib.sha256(b"hello").hexdigest()),
        "plate is not an image",
    ),
    "another image": (lambda plate: (_png_base64(np.zeros((8, 8, 3), np.uint8))[0], None), "does not match"),
}


@pytest.mark.parametrize("damage", list(PLATE_DAMAGE))
def test_a_damaged_plate_is_one_line(damage: str, tiny_model_path: Path, tmp_path: Path) -> None:
    change, words = PLATE_DAMAGE[damage]
    plate, sha256 = change(_metadata(tiny_model_path)[PLATE_METADATA_KEY])
    model = tmp_path / "plate.onnx"
    if sha256 is None:
        _with_metadata(tiny_model_path, model, plate=plate)
    else:
        _with_card(tiny_model_path, model, lambda card: card.update(plate_sha256=sha256))
        _with_metadata(model, model, plate=plate)
    with pytest.raises(UsageError, match=words) as raised:
        GeneratorSession(GeneratorSessionConfig(model, device="cpu"))
    assert "\n" not in str(raised.value) and str(model) in str(raised.value)


def test_live_run_refuses_a_plate_in_bad_base64(
    tiny_model_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    model = _with_metadata(tiny_model_path, tmp_path / "plate.onnx", plate="%%%")
    assert "plate is not base64" in _run_refuses(model, tmp_path, capsys)


# ---------------------------------------------------------------- the generator's output


def _graph_model(tiny_model_path: Path, target: Path, node: onnx.NodeProto, element: int, shape: list[int]) -> Path:
    """A one-node ONNX model with the tiny model's card and plate: inputs sketch and plate, output `image`."""
    size_px = json.loads(_metadata(tiny_model_path)[CARD_METADATA_KEY])["size_px"]
    inputs = [
        helper.make_tensor_value_info(name, TensorProto.UINT8, [1, size_px, size_px, 3]) for name in ("sketch", "plate")
    ]
    graph = helper.make_graph([node], "one-node", inputs, [helper.make_tensor_value_info("image", element, shape)])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    for key, value in _metadata(tiny_model_path).items():
        model.metadata_props.add(key=key, value=value)
    onnx.checker.check_model(model)
    onnx.save(model, str(target))
    return target


def test_a_model_with_the_right_output_runs(tiny_model_path: Path, tmp_path: Path) -> None:
    """The one-node models below are valid generators but for their output: this one, an identity, runs."""
    size_px = 64
    model = _graph_model(
        tiny_model_path,
        tmp_path / "identity.onnx",
        helper.make_node("Identity", ["sketch"], ["image"]),
        TensorProto.UINT8,
        [1, size_px, size_px, 3],
    )
    sketch = np.random.default_rng(0).integers(0, 256, (size_px, size_px, 3), dtype=np.uint8)
    with GeneratorSession(GeneratorSessionConfig(model, device="cpu")) as session:
        assert np.array_equal(session.generate(sketch), sketch)


WRONG_OUTPUTS: dict[str, tuple[onnx.NodeProto, int, list[int]]] = {
    "float32": (
        helper.make_node("Cast", ["sketch"], ["image"], to=TensorProto.FLOAT),
        TensorProto.FLOAT,
        [1, 64, 64, 3],
    ),
    "channels first": (
        helper.make_node("Transpose", ["sketch"], ["image"], perm=[0, 3, 1, 2]),
        TensorProto.UINT8,
        [1, 3, 64, 64],
    ),
    "six channels": (
        helper.make_node("Concat", ["sketch", "plate"], ["image"], axis=3),
        TensorProto.UINT8,
        [1, 64, 64, 6],
    ),
}


@pytest.mark.parametrize("kind", list(WRONG_OUTPUTS))
def test_an_output_of_the_wrong_type_or_shape_is_refused_at_load(
    kind: str, tiny_model_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    node, element, shape = WRONG_OUTPUTS[kind]
    model = _graph_model(tiny_model_path, tmp_path / "wrong.onnx", node, element, shape)
    with pytest.raises(UsageError, match="output 'image'") as raised:
        GeneratorSession(GeneratorSessionConfig(model, device="cpu"))
    assert "\n" not in str(raised.value)
    assert "output 'image'" in _run_refuses(model, tmp_path, capsys)


# ---------------------------------------------------------------- the card's neutral face and transform


def _scaled_transform(factor: float) -> Callable[[dict], None]:
    return lambda card: card.update(neutral_transform=(np.asarray(card["neutral_transform"]) * factor).tolist())


def _random_landmarks(card: dict) -> None:
    size_px = card["size_px"]
    card["neutral_landmarks_px"] = np.random.default_rng(1).uniform(0, size_px, (478, 3)).tolist()


GEOMETRY_DAMAGE: dict[str, tuple[Callable[[dict], None], str]] = {
    "all-zero landmarks": (
        lambda card: card.update(neutral_landmarks_px=[[0.0, 0.0, 0.0]] * 478),
        "field neutral_landmarks_px are all at one point",
    ),
    "random landmarks": (_random_landmarks, "field neutral_landmarks_px do not have a face's shape"),
    "a face far outside the crop": (
        lambda card: card.update(neutral_landmarks_px=(np.asarray(card["neutral_landmarks_px"]) + 1e4).tolist()),
        "field neutral_landmarks_px put the face's centre at",
    ),
    "a face a pixel tall": (
        lambda card: card.update(neutral_landmarks_px=(np.asarray(card["neutral_landmarks_px"]) * 0.02).tolist()),
        "field neutral_landmarks_px make a head",
    ),
    "a zero transform": (_scaled_transform(0.0), "field neutral_transform has scale 0"),
    "a 1e300 transform": (
        lambda card: card.update(neutral_transform=[[1e300] * 3] * 2),
        "field neutral_transform is not a similarity",
    ),
    "a transform scaled by 1e300": (_scaled_transform(1e300), "field neutral_transform maps a square of"),
    "a sheared transform": (
        lambda card: card["neutral_transform"][0].__setitem__(1, card["neutral_transform"][0][1] + 0.5),
        "field neutral_transform is not a similarity",
    ),
    "a crop beside the plate": (
        lambda card: card["neutral_transform"][0].__setitem__(2, card["neutral_transform"][0][2] + 1e5),
        "field neutral_transform puts the crop's centre at",
    ),
    "a manifest digest that is not one": (
        lambda card: card["provenance"].update(dataset_manifest_sha256=12),
        "field provenance dataset_manifest_sha256 must be a sha256 in hex",
    ),
}


@pytest.mark.parametrize("damage", list(GEOMETRY_DAMAGE))
def test_a_card_without_a_face_geometry_is_one_line(damage: str, tiny_card: dict) -> None:
    change, words = GEOMETRY_DAMAGE[damage]
    card = json.loads(json.dumps(tiny_card))
    change(card)
    with pytest.raises(UsageError, match=words) as raised:
        ModelCard.from_json(json.dumps(card), "model.onnx")
    assert "\n" not in str(raised.value) and str(raised.value).startswith("model.onnx: model card field ")


def test_the_tiny_card_passes_its_geometry(tiny_card: dict) -> None:
    assert ModelCard.from_json(json.dumps(tiny_card), "model.onnx").size_px == tiny_card["size_px"]


def test_live_run_refuses_a_zero_transform_before_the_output_opens(
    tiny_model_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    model = _with_card(tiny_model_path, tmp_path / "zero.onnx", _scaled_transform(0.0))
    assert "field neutral_transform has scale 0" in _run_refuses(model, tmp_path, capsys)


# ---------------------------------------------------------------- the calibration file


@pytest.fixture(scope="module")
def portrait_face() -> tuple[np.ndarray, tuple[int, int, int]]:
    """Real landmarks (pixels) of the shipped portrait and its frame's shape."""
    image = cv2.imread(str(PORTRAIT))
    with LandmarkDetector(LandmarkConfig(static_image_mode=True)) as detector:
        face = detector.detect(image)
    assert face is not None
    return face, image.shape


def _calibration_data(face: np.ndarray, shape: tuple[int, ...], tmp_path: Path) -> dict:
    path = tmp_path / "good.json"
    save_calibration(path, face, shape)
    return json.loads(path.read_text())


def test_a_real_calibration_loads(portrait_face: tuple, tmp_path: Path) -> None:
    face, shape = portrait_face
    path = tmp_path / "me.json"
    save_calibration(path, face, shape)
    neutral, frame_size = load_calibration(path)
    assert frame_size == shape[:2] and np.allclose(neutral, face, atol=1e-3)


def _expect_refused(path: Path, words: str) -> None:
    with pytest.raises(UsageError, match=words) as raised:
        load_calibration(path)
    assert "\n" not in str(raised.value) and str(path) in str(raised.value)


def test_a_device_as_calibration_is_refused_without_reading_it() -> None:
    _expect_refused(Path("/dev/zero"), "not a regular file")


def test_a_pipe_as_calibration_is_refused_without_waiting(tmp_path: Path) -> None:
    pipe = tmp_path / "pipe.json"
    os.mkfifo(pipe)
    _expect_refused(pipe, "not a regular file")


def test_a_huge_calibration_is_refused(portrait_face: tuple, tmp_path: Path) -> None:
    path = tmp_path / "huge.json"
    text = json.dumps(_calibration_data(*portrait_face, tmp_path))
    path.write_text(text + " " * (1 << 20))  # valid JSON, padded past 1 MiB
    _expect_refused(path, "more than 1 MiB")


def _set(key: str, value: object) -> Callable[[dict, tuple], None]:
    return lambda data, shape: data.__setitem__(key, value)


def _landmarks(make: Callable[[np.ndarray, tuple], np.ndarray]) -> Callable[[dict, tuple], None]:
    def change(data: dict, shape: tuple) -> None:
        data["neutral_landmarks_px"] = make(np.asarray(data["neutral_landmarks_px"]), shape).tolist()

    return change


CALIBRATION_DAMAGE: dict[str, tuple[Callable[[dict, tuple], None], str]] = {
    "width infinite": (_set("frame_width_px", float("inf")), "frame_width_px must be a whole number of pixels"),
    "width nested": (_set("frame_width_px", {"a": {"b": 640}}), "frame_width_px must be a whole number of pixels"),
    "width a list": (_set("frame_width_px", [640]), "frame_width_px must be a whole number of pixels"),
    "width as text": (_set("frame_width_px", "640"), "frame_width_px must be a whole number of pixels"),
    "width true": (_set("frame_width_px", True), "frame_width_px must be a whole number of pixels"),
    "height zero": (_set("frame_height_px", 0), "frame_height_px must be a whole number of pixels"),
    "height huge": (_set("frame_height_px", 10**12), "frame_height_px must be a whole number of pixels"),
    "landmarks nested": (
        _landmarks(lambda face, shape: face[:, :, None]),
        "neutral_landmarks_px must be 478 points of 3 numbers",
    ),
    "landmarks as objects": (
        _set("neutral_landmarks_px", [{"x": {"y": 1}}] * 478),
        "neutral_landmarks_px must be 478 points of 3 numbers",
    ),
    "landmarks as text": (
        _landmarks(lambda face, shape: face.astype(str)),
        "neutral_landmarks_px must be 478 points of 3 numbers",
    ),
    "all zero": (_landmarks(lambda face, shape: face * 0), "are all at one point"),
    "random": (
        _landmarks(lambda face, shape: np.random.default_rng(2).uniform(0, shape[0], face.shape)),
        "do not have a face's shape",
    ),
    "outside the frame": (_landmarks(lambda face, shape: face + shape[1] * 3), "put the face's centre at"),
    "a face of a few pixels": (_landmarks(lambda face, shape: face * 0.01), "make a head"),
    "a face of a billion pixels": (_landmarks(lambda face, shape: face * 1e9), "make a head"),
}


@pytest.mark.parametrize("damage", list(CALIBRATION_DAMAGE))
def test_a_damaged_calibration_is_one_line(damage: str, portrait_face: tuple, tmp_path: Path) -> None:
    change, words = CALIBRATION_DAMAGE[damage]
    face, shape = portrait_face
    data = _calibration_data(face, shape, tmp_path)
    change(data, shape)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data).replace("Infinity", "1e400"))
    _expect_refused(path, words)


def test_deeply_nested_calibration_json_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "deep.json"
    path.write_text('{"format": ' + "[" * 100_000 + "]" * 100_000 + "}")
    _expect_refused(path, "nested too deeply")


def test_live_run_refuses_a_zero_calibration_before_the_output_opens(
    tiny_model_path: Path, portrait_face: tuple, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    face, shape = portrait_face
    path = tmp_path / "zero.json"
    save_calibration(path, face * 0, shape)
    before = path.read_bytes()
    line = _run_refuses(tiny_model_path, tmp_path, capsys, "--calibration", str(path))
    assert "are all at one point" in line and path.read_bytes() == before
