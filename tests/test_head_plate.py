"""The plate's head follows the avatar's (live.face.head_plate), on the shipped avatar's real plate.

The plate is the target's median frame, head included; the generator copies hair, ears and the jaw's outline
from it. Before, a tilted avatar head showed the plate's own jaw beside its own (a doubled jaw line).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from live.engines.generator import GeneratorSession, GeneratorSessionConfig
from live.engines.segmentation import PersonSegmenter
from live.face.alignment import apply_transform, crop_transform
from live.face.head_plate import HeadPlate, in_plate
from live.formats.mesh_topology import closed_loop
from live.formats.sketch import draw_sketch
from live.pipeline.paste_back import PasteBack

MODEL = Path(__file__).resolve().parent.parent / "models" / "jwp.onnx"
TILT_DEG = 7.0
FACE_OVAL = closed_loop("face_oval")


@pytest.fixture(scope="module")
def avatar() -> GeneratorSession:
    with GeneratorSession(GeneratorSessionConfig(MODEL, "cpu")) as session:
        yield session


@pytest.fixture(scope="module")
def head_plate(avatar: GeneratorSession) -> HeadPlate:
    card = avatar.card
    with PersonSegmenter() as segmenter:
        mask = segmenter.person_mask(avatar.plate_bgr)
    return HeadPlate(avatar.plate_bgr, mask, in_plate(card.neutral_landmarks_px, card.neutral_transform))


def _tilted(landmarks_px: np.ndarray, degrees: float, shift_px: tuple[float, float] = (0.0, 0.0)) -> np.ndarray:
    """The landmarks turned in the image plane about the chin (152), then shifted."""
    angle = np.deg2rad(degrees)
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    tilted = np.asarray(landmarks_px, dtype=np.float32).copy()
    chin = tilted[152, :2].copy()
    tilted[:, :2] = (tilted[:, :2] - chin) @ rotation.T + chin + shift_px
    return tilted


def test_a_head_at_the_plate_s_own_pose_leaves_the_plate_as_it_is(
    avatar: GeneratorSession, head_plate: HeadPlate
) -> None:
    card = avatar.card
    neutral_px = in_plate(card.neutral_landmarks_px, card.neutral_transform)
    assert head_plate.has_head
    assert head_plate.follow(neutral_px) is avatar.plate_bgr
    assert head_plate.follow(_tilted(neutral_px, 0.0, (0.01, 0.0))) is avatar.plate_bgr, "a hundredth of a pixel"


def test_a_tilted_head_moves_and_the_background_stays(avatar: GeneratorSession, head_plate: HeadPlate) -> None:
    card = avatar.card
    neutral_px = in_plate(card.neutral_landmarks_px, card.neutral_transform)
    tilted_px = _tilted(neutral_px, TILT_DEG, (4.0, -3.0))
    plate = avatar.plate_bgr
    moved = head_plate.follow(tilted_px)
    move = head_plate.head_transform(tilted_px)
    expected = cv2.warpAffine(plate, move, (plate.shape[1], plate.shape[0]), flags=cv2.INTER_LINEAR)
    # inside the face (its oval, shrunk): the plate's own face, moved
    oval = np.zeros(plate.shape[:2], np.uint8)
    cv2.fillPoly(oval, [np.round(tilted_px[FACE_OVAL, :2]).astype(np.int32)], 1)
    inside = cv2.erode(oval, np.ones((9, 9), np.uint8)) > 0
    difference = np.abs(moved.astype(np.int16) - expected)[inside].mean()
    still = np.abs(plate.astype(np.int16) - expected)[inside].mean()
    print(f"face: moved vs plate moved {difference:.2f}, plate vs plate moved {still:.2f}")
    assert difference < 1.0 < still
    # the background well away from both heads has not moved
    old_head = (head_plate.alpha > 0).astype(np.uint8)
    new_head = cv2.warpAffine(old_head, move, oval.shape[::-1], flags=cv2.INTER_NEAREST)
    background = cv2.dilate(np.maximum(old_head, new_head), np.ones((5, 5), np.uint8)) == 0
    assert np.array_equal(moved[background], plate[background])


def test_a_tilted_avatar_does_not_show_the_plate_s_own_head(avatar: GeneratorSession, head_plate: HeadPlate) -> None:
    """Tilt the neutral face. Where the plate's head was and the tilted head is not, the frame must show the
    background (the plate with its head filled in), not the plate's own hair, ear and cheek (a doubled outline).
    That is the generator's output there: it paints over all of its crop."""
    card = avatar.card
    size_px = card.size_px
    neutral_px = in_plate(card.neutral_landmarks_px, card.neutral_transform)
    old_head = (head_plate.alpha >= 1.0).astype(np.uint8)
    errors = {}
    for degrees in (-TILT_DEG, TILT_DEG):
        tilted_px = _tilted(neutral_px, degrees)
        move = head_plate.head_transform(tilted_px)
        new_head = cv2.warpAffine((head_plate.alpha > 0).astype(np.uint8), move, old_head.shape[::-1])
        vacated = (old_head > 0) & (cv2.dilate(new_head, np.ones((7, 7), np.uint8)) == 0)
        assert vacated.sum() > 300, "the tilt moves part of the head away"
        transform = crop_transform(tilted_px, size_px)
        sketch = draw_sketch(apply_transform(transform, tilted_px), size_px, version=card.sketch_format_version)
        paste = PasteBack(avatar.plate_bgr, size_px)
        for follow in (False, True):
            plate = head_plate.follow(tilted_px) if follow else avatar.plate_bgr
            plate_crop = paste.plate_crop(transform, plate_bgr=plate)
            crop = avatar.generate(sketch, plate_bgr=plate_crop)
            frame = paste.paste(crop, plate_crop, transform, plate_bgr=plate)
            errors[(degrees, follow)] = float(
                np.abs(frame.astype(np.int16) - head_plate.background_bgr)[vacated].mean()
            )
    print("mean |frame - background| where the head was:", {key: round(value, 1) for key, value in errors.items()})
    for degrees in (-TILT_DEG, TILT_DEG):
        assert errors[(degrees, True)] < 0.5 * errors[(degrees, False)]
