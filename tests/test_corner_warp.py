"""The mouth-corner correction (live.face.corner_warp): the generated corners moved to the lift the sketch asked.

The lift measure does not depend on where the face is or how it is turned in the image; the response is held
at its ends; on a drawn lip line the warp lifts the corners by the shift and leaves the mouth's middle and
the rest of the crop alone; on the shipped avatar, rendered by ONNX Runtime and measured by MediaPipe, a
grin asked beyond what the generator draws comes out lifted further with the warp than without it.
"""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest

from live.cli import main as live_main
from live.engines.generator import GeneratorSession, GeneratorSessionConfig
from live.engines.landmarks import LandmarkConfig, LandmarkDetector
from live.errors import UsageError
from live.face.corner_warp import (
    DEAD_BAND,
    SHIFT_LIMIT,
    CornerResponse,
    CornerWarp,
    corner_lifts,
    fit_corner_response,
    warp_corners,
)
from live.face.expression import FACE_TOP_BOTTOM, MOUTH_CORNERS
from live.formats.card_checks import check_corner_response
from live.formats.sketch import draw_sketch
from live.offline.corner_figures import lift_series, reach
from live.pipeline.paste_back import PasteBack
from live.pipeline.stages import PipelineConfig, open_stages

REPOSITORY = Path(__file__).resolve().parents[1]
MODEL = REPOSITORY / "models" / "jwp.onnx"
CORNERS = list(MOUTH_CORNERS)


@pytest.fixture(scope="module")
def session() -> GeneratorSession:
    with GeneratorSession(GeneratorSessionConfig(MODEL, "cpu")) as opened:
        yield opened


@pytest.fixture(scope="module")
def neutral(session: GeneratorSession) -> np.ndarray:
    return session.card.neutral_landmarks_px.astype(np.float64)


def face_height_px(landmarks_px: np.ndarray) -> float:
    return float(np.linalg.norm(landmarks_px[FACE_TOP_BOTTOM[0], :2] - landmarks_px[FACE_TOP_BOTTOM[1], :2]))


def with_corners_lifted(landmarks_px: np.ndarray, lift_px: float) -> np.ndarray:
    """The face with both mouth corners moved up the image by lift_px."""
    moved = landmarks_px.copy()
    moved[CORNERS, 1] -= lift_px
    return moved


def test_lift_is_zero_on_the_neutral_and_does_not_depend_on_the_face_placement(neutral: np.ndarray) -> None:
    assert np.allclose(corner_lifts(neutral, neutral), 0.0, atol=1e-9)
    lifted = with_corners_lifted(neutral, 0.02 * face_height_px(neutral))
    assert corner_lifts(lifted, neutral) == pytest.approx([-0.02, -0.02], abs=2e-3)
    angle = np.deg2rad(12.0)
    rotation = 1.6 * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    placed = lifted.copy()
    placed[:, :2] = lifted[:, :2] @ rotation.T + [40.0, -25.0]
    assert corner_lifts(placed, neutral) == pytest.approx(corner_lifts(lifted, neutral), abs=1e-6)


def test_response_shifts_by_the_missing_lift_held_at_its_ends() -> None:
    response = CornerResponse(asked=(-0.02, 0.0, 0.02), drawn=(-0.013, 0.002, 0.022))  # MediaPipe's offset: 0.002
    followed = response.shifts(np.array([0.0, 0.02, -0.01]))
    assert followed == pytest.approx([0.0, 0.0, 0.0]), "followed, or within the dead band"
    missing = -0.03 - (-0.013 - 0.002)  # beyond the fit: drawn held at -0.013
    assert response.shifts(np.array([-0.03]))[0] == pytest.approx(missing + DEAD_BAND)
    assert response.shifts(np.array([-0.2]))[0] == pytest.approx(-SHIFT_LIMIT)
    assert check_corner_response(response.to_dict()) is None
    assert check_corner_response({"asked": [0.01, -0.01], "drawn": [0, 0]}) == "needs asked lifts in increasing order"


def test_fit_takes_each_bins_medians_and_refuses_too_little() -> None:
    rng = np.random.default_rng(0)
    asked = rng.uniform(-0.035, 0.03, size=(600, 2))
    drawn = np.maximum(asked, -0.015) + rng.normal(0, 0.001, size=asked.shape)  # saturates as the generator does
    response = fit_corner_response(asked, drawn)
    assert list(response.drawn) == sorted(response.drawn)
    assert response.shifts(np.array([-0.034]))[0] == pytest.approx(-0.019 + DEAD_BAND, abs=0.003)
    assert response.shifts(np.array([0.01]))[0] == pytest.approx(0.0, abs=0.002)
    with pytest.raises(UsageError, match="a longer clip in which the driver talks and smiles"):
        fit_corner_response(np.zeros((30, 2)), np.zeros((30, 2)))


def test_warp_lifts_a_drawn_lip_line_at_the_corners_only(neutral: np.ndarray) -> None:
    neutral = neutral * 3.0  # a larger face: the move is many pixels
    image = np.full((800, 800, 3), 200, np.uint8)
    left, right = neutral[CORNERS[0], :2], neutral[CORNERS[1], :2]
    cv2.line(image, tuple(np.round(left).astype(int)), tuple(np.round(right).astype(int)), (20, 20, 20), 3)
    original = image.copy()
    shift_px = -8.0
    warp_corners(image, neutral, np.array([shift_px, shift_px]))

    def line_row(x: float) -> float:
        column = image[:, int(round(x)), 0].astype(float)
        dark = np.flatnonzero(column < 100)
        return float(dark.mean())

    inside = 0.95  # just inside each corner, where the line still is
    for corner in (left, right):
        x = corner[0] + (1 - inside) * ((left + right) / 2 - corner)[0]
        assert line_row(x) == pytest.approx(corner[1] + inside**2 * (3 - 2 * inside) * shift_px, abs=1.5)
    middle = (left + right) / 2
    assert line_row(middle[0]) == pytest.approx(middle[1], abs=0.6), "the mouth's middle stays"
    far = np.abs(np.arange(800)[None, :] - middle[0]) > 2.0 * np.linalg.norm(right - left)
    assert np.array_equal(image[:, far[0]], original[:, far[0]]), "outside the mouth's reach nothing moves"


def test_on_the_shipped_avatar_a_grin_is_drawn_lifted_further(session: GeneratorSession) -> None:
    card = session.card
    response = CornerResponse.from_card(card.corner_response)
    assert response is not None, "the shipped avatar's card has its corner response"
    neutral = card.neutral_landmarks_px.astype(np.float64)
    asked = -0.035  # a grin (CREMA-D's happy clip asks this much), beyond what the generator draws
    shape = with_corners_lifted(neutral, -asked * face_height_px(neutral))
    paste_back = PasteBack(session.plate_bgr, card.size_px)
    plate_crop = paste_back.plate_crop(session.neutral_transform)
    sketch = draw_sketch(shape.astype(np.float32), card.size_px, version=card.sketch_format_version)
    crop = session.generate(sketch, plate_bgr=plate_crop)
    warped = CornerWarp(response, neutral).apply(crop.copy(), shape)
    with LandmarkDetector(LandmarkConfig(static_image_mode=True)) as checker:
        pasted = [paste_back.paste(image, plate_crop, session.neutral_transform) for image in (crop, warped)]
        faces = [checker.detect(image) for image in pasted]
    assert all(face is not None for face in faces)
    drawn, lifted = (float(corner_lifts(face, neutral).mean()) for face in faces)
    assert lifted < drawn - 0.006, f"the warp lifts the corners further: drawn {drawn:.4f}, warped {lifted:.4f}"
    config = PipelineConfig(GeneratorSessionConfig(MODEL, "cpu"), generator_workers=1, head_follow=False)
    with open_stages(config) as stages:
        assert stages.corner_warp is not None and stages.corner_warp.response == response
    with open_stages(replace(config, corner_warp=False)) as stages:
        assert stages.corner_warp is None, "--no-corner-warp"


def test_drive_eval_fits_the_corners_alone_and_keeps_the_other_curves(
    tmp_path: Path, capsys: pytest.CaptureFixture, session: GeneratorSession
) -> None:
    model = tmp_path / "avatar.onnx"
    shutil.copy(MODEL, model)
    clip = REPOSITORY / "data" / "cremad_1001_HAP.flv"
    assert live_main(["drive-eval", str(model), str(clip), "--fit-response", "corners"]) == 0
    assert "mouth-corner lift response stored in" in capsys.readouterr().out
    with GeneratorSession(GeneratorSessionConfig(model, "cpu")) as fitted:
        card = fitted.card
    assert card.corner_response["fitted_on"] == [clip.name]
    assert card.corner_response["asked"] != session.card.corner_response["asked"], "fitted anew on this clip"
    assert (card.eye_response, card.mouth_response) == (session.card.eye_response, session.card.mouth_response)
    assert min(card.corner_response["asked"]) < -0.03, "the happy clip's grin asks for lifts the fit clip did not"


def test_lift_figures_give_the_share_of_the_drivers_rise(neutral: np.ndarray) -> None:
    height_px = face_height_px(neutral)
    rises = np.concatenate([np.zeros(20), np.linspace(0.0, 0.03, 20)])  # face heights the driver's corners rise
    driver = [with_corners_lifted(neutral * 1.3, rise * height_px * 1.3) for rise in rises]
    output = [with_corners_lifted(neutral, 0.5 * rise * height_px) for rise in rises]
    output[3] = None  # a frame without a face on the output is left out on both sides
    series = lift_series(driver, output, neutral)
    assert series is not None and np.isnan(series[0][3]) and np.isnan(series[1][3])
    assert reach(*series) == pytest.approx(0.5, abs=0.02)
    assert reach(series[0], series[0]) == pytest.approx(1.0)
    assert reach(np.zeros(10), series[1][:10]) is None, "a driver whose corners never rise"
    assert lift_series([None, None], [None, None], neutral) is None
