"""The model card: what a generator needs at run time and where it came from.

It lives in the ONNX file's metadata (key `live.card`, JSON), written by
`live export` and read by `live run` through ONNX Runtime alone (no onnx or
torch at run time). The generator's tensors are fixed by IO_FORMAT:
input `sketch` uint8 (1, H, W, 3) BGR, output `image` uint8 (1, H, W, 3) BGR;
normalisation happens inside the graph.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any

import cv2
import numpy as np

from live.errors import UsageError
from live.formats.card_checks import check_card_data
from live.formats.landmarks import LANDMARK_COUNT, LANDMARK_FORMAT_VERSION
from live.formats.sketch import SKETCH_FORMAT_VERSION, SUPPORTED_SKETCH_VERSIONS

CARD_METADATA_KEY = "live.card"
CARD_VERSION = 2  # 2: aligned head crop pasted back into a native-size plate (issue 9)
IO_FORMAT = "uint8-nhwc-bgr-sketch-plate"
INPUT_NAME = "sketch"
PLATE_INPUT_NAME = "plate"
OUTPUT_NAME = "image"
PLATE_METADATA_KEY = "live.plate_png_base64"


@dataclass(frozen=True)
class ModelCard:
    """Everything `live run` and people need to know about a generator.

    neutral_landmarks_px: the target's neutral face, (478, 3) pixels of the
        model's size_px square (a robust median over the training frames).
    pose_range_deg: {"yaw": [min, max], "pitch": [...], "roll": [...]} seen in training.
    size_px: the side of the generator's square: the aligned head crop.
    crop: per source video, its size and usual crop ({"source", "frame_size_px", "neutral_transform"}).
    template: the head template the crop is aligned to (live.face.alignment.HeadTemplate.to_dict()).
    coverage: what the crop covers ({"side_over_face_height", "includes"}).
    plate_size_px: [width, height] of the plate, the target's own frame: the size of the output.
    neutral_transform: 2x3 plate->crop similarity of the target's usual head position; the retargeter
        works in that crop's pixels, and its output is placed into the plate through it.
    plate_sha256: digest of the plate PNG stored beside the card (ONNX metadata PLATE_METADATA_KEY).
    shape_space: PCA of the training shapes (live/shape_space.py); the retargeter keeps
        sketches inside it. Empty for cards without one.
    expression_range: the eye and mouth openings seen in training ({"eye": {"low", "high"}, "mouth": {...}},
        live.face.coverage); the retargeter maps the driver's blinks onto them. Empty for older cards.
    eye_response: the eye openings the generator draws for those its sketch asks for when driven
        ({"asked": [...], "drawn": [...], "fitted_on": ...}, live.face.eye_warp, `live drive-eval
        --fit-response`); `live run` corrects the drawn lids by it. Empty: no correction.
    mouth_response: the mouth openings the generator draws for those its sketch asks for when driven
        ({"asked": [...], "drawn": [...], "fitted_on": ...}, live.face.mouth_response, `live drive-eval
        --fit-response`); the retargeter asks for the opening that is drawn as wanted. Empty: no correction.
    corner_response: the mouth-corner lifts the generator draws for those its sketch asks for when driven
        ({"asked": [...], "drawn": [...], "fitted_on": ...}, face heights, live.face.corner_warp, `live
        drive-eval --fit-response`); `live run` moves the drawn corners by it. Empty: no correction.
    """

    name: str
    size_px: int
    neutral_landmarks_px: np.ndarray
    pose_range_deg: dict[str, list[float]]
    sketch_format_version: int = SKETCH_FORMAT_VERSION
    landmark_format_version: int = LANDMARK_FORMAT_VERSION
    io_format: str = IO_FORMAT
    card_version: int = CARD_VERSION
    crop: list[dict[str, Any]] = field(default_factory=list)
    architecture: dict[str, Any] = field(default_factory=dict)
    training: dict[str, Any] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    shape_space: dict[str, Any] = field(default_factory=dict)
    expression_range: dict[str, Any] = field(default_factory=dict)
    eye_response: dict[str, Any] = field(default_factory=dict)
    mouth_response: dict[str, Any] = field(default_factory=dict)
    corner_response: dict[str, Any] = field(default_factory=dict)
    template: dict[str, Any] = field(default_factory=dict)
    coverage: dict[str, Any] = field(default_factory=dict)
    plate_size_px: list[int] = field(default_factory=list)
    neutral_transform: list[list[float]] = field(default_factory=list)
    plate_sha256: str = ""

    def to_json(self) -> str:
        """Serialise for the ONNX metadata."""
        data = asdict(self)
        data["neutral_landmarks_px"] = np.round(self.neutral_landmarks_px.astype(np.float64), 3).tolist()
        return json.dumps(data, sort_keys=True)

    @classmethod
    def from_json(cls, text: str, origin: str = "model") -> "ModelCard":
        """Parse and check a card; raise UsageError naming what is wrong."""
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise UsageError(
                f"{origin}: its model card is not valid JSON ({error}); re-export it with `live export`"
            ) from error
        except RecursionError as error:
            raise UsageError(
                f"{origin}: its model card is not a JSON object (nested too deeply); re-export it with `live export`"
            ) from error
        if not isinstance(data, dict):
            raise UsageError(
                f"{origin}: its model card is not a JSON object (a JSON {type(data).__name__}); "
                "re-export it with `live export`"
            )
        if data.get("card_version") == 1:
            raise UsageError(
                f"{origin}: an old (format 1) model that renders a fixed crop, this live pastes an aligned head "
                f"crop into the target's own frame (format {CARD_VERSION}): retrain it (live prepare, train, "
                "export; tools/train_default.sh for the default avatar)"
            )
        if data.get("card_version") != CARD_VERSION:
            raise UsageError(
                f"{origin}: model card version {data.get('card_version')!r}, this live reads {CARD_VERSION}; "
                "re-export it with this version of `live export`"
            )
        check_card_data(data, origin)  # every field against its contract, at open time (live/formats/card_checks.py)
        known = set(cls.__dataclass_fields__)
        data = {key: value for key, value in data.items() if key in known}
        data["neutral_landmarks_px"] = np.asarray(data["neutral_landmarks_px"], dtype=np.float32)
        card = cls(**data)
        card.check_compatible(origin)
        return card

    def check_compatible(self, origin: str = "model") -> None:
        """Raise UsageError when this live cannot drive the model correctly."""
        if self.sketch_format_version not in SUPPORTED_SKETCH_VERSIONS:
            raise UsageError(
                f"{origin}: trained on sketch format v{self.sketch_format_version}, this live draws "
                f"v{SKETCH_FORMAT_VERSION}; retrain it on a dataset made by this version of `live prepare`"
            )
        if self.landmark_format_version != LANDMARK_FORMAT_VERSION:
            raise UsageError(
                f"{origin}: landmark format v{self.landmark_format_version}, "
                f"this live uses v{LANDMARK_FORMAT_VERSION}; retrain it"
            )
        if self.io_format != IO_FORMAT:
            raise UsageError(f"{origin}: tensor format {self.io_format!r}, this live needs {IO_FORMAT!r}; re-export it")
        if self.neutral_landmarks_px.shape != (LANDMARK_COUNT, 3):
            raise UsageError(
                f"{origin}: neutral landmarks have shape {self.neutral_landmarks_px.shape}, "
                f"expected ({LANDMARK_COUNT}, 3)"
            )


def read_card_from_metadata(metadata: dict[str, str], origin: str) -> ModelCard:
    """The card from an ONNX model's metadata map, or UsageError when it has none."""
    text = metadata.get(CARD_METADATA_KEY)
    if text is None:
        raise UsageError(
            f"{origin} has no live model card in its metadata: export it with `live export` "
            "(an ONNX file from elsewhere cannot be driven)"
        )
    return ModelCard.from_json(text, origin)


def encode_plate(plate_bgr: np.ndarray) -> tuple[str, str]:
    """(base64 PNG text for the ONNX metadata, its sha256) of a plate."""
    ok, png = cv2.imencode(".png", plate_bgr)
    if not ok:
        raise ValueError("cannot encode the plate as PNG")
    data = png.tobytes()
    return base64.b64encode(data).decode("ascii"), hashlib.sha256(data).hexdigest()


def read_plate_from_metadata(metadata: dict[str, str], card: ModelCard, origin: str) -> np.ndarray:
    """The model's plate (the target's own frame, native size, BGR), checked against the card."""
    text = metadata.get(PLATE_METADATA_KEY)
    if text is None:
        raise UsageError(f"{origin} has no plate in its metadata: re-export it with `live export`")
    try:
        data = base64.b64decode(text, validate=True)
    except ValueError as error:  # binascii.Error, or text that is not ASCII
        raise UsageError(f"{origin}: its plate is not base64 ({error}): re-export it with `live export`") from error
    if hashlib.sha256(data).hexdigest() != card.plate_sha256:
        raise UsageError(f"{origin}: its plate is damaged (does not match the card): re-export it with `live export`")
    try:
        plate = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR) if data else None
    except cv2.error:
        plate = None
    if plate is None:
        raise UsageError(f"{origin}: its plate is not an image: re-export it with `live export`")
    if [plate.shape[1], plate.shape[0]] != list(card.plate_size_px):
        raise UsageError(
            f"{origin}: its plate is {plate.shape[1]}x{plate.shape[0]}, the card says {card.plate_size_px}"
        )
    return plate
