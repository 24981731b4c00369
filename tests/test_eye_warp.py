"""The eye-opening correction (live.face.eye_warp): the generated lids moved to the opening the sketch asked.

On a drawn eye (a dark aperture whose lids sit where the generator put them), the warp moves the lids to
the asked ones and leaves the rest of the crop alone; on the shipped avatar, rendered by ONNX Runtime and
measured by MediaPipe, it opens a wide-asked eye further and closes a closed-asked eye further than the
generator alone draws them; the fit, the card's field and `live drive-eval --fit-response`.
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
from live.face.expression import eye_openings
from live.face.expression_transfer import ExpressionRange, set_eye_openings
from live.face.eye_warp import (
    EYE_CONTOURS,
    STRENGTH_LIMITS,
    EyeResponse,
    EyeWarp,
    fit_eye_response,
    warp_eye,
)
from live.face.pose import face_rotation
from live.formats.sketch import draw_sketch
from live.pipeline.paste_back import PasteBack
from live.pipeline.stages import PipelineConfig, open_stages

REPOSITORY = Path(__file__).resolve().parents[1]
MODEL = REPOSITORY / "models" / "jwp.onnx"
SCALE = 4.0  # the card's neutral face drawn 4x larger, so that a lid's move is many pixels


@pytest.fixture(scope="module")
def session() -> GeneratorSession:
    with GeneratorSession(GeneratorSessionConfig(MODEL, "cpu")) as opened:
        yield opened


def aperture_heights_px(image_bgr: np.ndarray, landmarks_px: np.ndarray, eye: int) -> float:
    """The dark aperture's height at the eye's middle column (pixels)."""
    centre = landmarks_px[EYE_CONTOURS[eye], :2].mean(axis=0)
    column = image_bgr[:, int(round(centre[0])), 0]
    dark = np.flatnonzero(column < 60)
    near = dark[np.abs(dark - centre[1]) < 0.5 * np.ptp(landmarks_px[EYE_CONTOURS[eye], 0])]
    return float(near.max() - near.min() + 1)


@pytest.mark.parametrize("factor", [0.75, 1.3])
def test_warp_moves_drawn_lids_to_the_asked_ones(session: GeneratorSession, factor: float) -> None:
    neutral = session.card.neutral_landmarks_px.astype(np.float64) * SCALE
    size_px = int(session.card.size_px * SCALE)
    asked = neutral
    drawn = set_eye_openings(neutral, face_rotation(neutral), eye_openings(neutral) / factor)
    image = np.full((size_px, size_px, 3), 180, dtype=np.uint8)
    for eye in range(2):
        hull = cv2.convexHull(drawn[EYE_CONTOURS[eye], :2].round().astype(np.int32))
        cv2.fillConvexPoly(image, hull, (20, 20, 20), lineType=cv2.LINE_8)
    before = [aperture_heights_px(image, drawn, eye) for eye in range(2)]
    warped = image.copy()
    for eye in range(2):
        warp_eye(warped, asked, eye, factor)
    after = [aperture_heights_px(warped, asked, eye) for eye in range(2)]
    for eye in range(2):
        assert after[eye] == pytest.approx(before[eye] * factor, abs=2.5), f"eye {eye}: {before[eye]} -> {after[eye]}"
    changed = np.flatnonzero(np.abs(warped.astype(int) - image.astype(int)).max(axis=(1, 2)))
    eyes_y = asked[np.concatenate(EYE_CONTOURS), 1]
    assert changed.min() > eyes_y.min() - 40 * SCALE and changed.max() < eyes_y.max() + 30 * SCALE, "only near the eyes"
    unchanged = image.copy()
    warp_eye(unchanged, asked, 0, 1.0)
    assert np.array_equal(unchanged, image)


def test_on_the_shipped_avatar_the_warp_follows_the_asked_opening(session: GeneratorSession) -> None:
    card = session.card
    limits = ExpressionRange.from_card(card.expression_range, card.neutral_landmarks_px)
    neutral = card.neutral_landmarks_px.astype(np.float64)
    response = EyeResponse.from_card(card.eye_response)
    assert response is not None, "the shipped avatar's card has its eye response"
    warp = EyeWarp(response)
    paste_back = PasteBack(session.plate_bgr, card.size_px)
    plate_crop = paste_back.plate_crop(session.neutral_transform)

    def paste(crop_bgr: np.ndarray) -> np.ndarray:
        """Into the target's own frame, as `live run` and `live drive-eval` show and measure it."""
        return paste_back.paste(crop_bgr, plate_crop, session.neutral_transform)

    with LandmarkDetector(LandmarkConfig(static_image_mode=True)) as checker:
        measured = {}
        for asked in (limits.eye_low + 0.01, limits.eye_high):
            shape = set_eye_openings(neutral, face_rotation(neutral), np.array([asked, asked])).astype(np.float32)
            sketch = draw_sketch(shape, card.size_px, version=card.sketch_format_version)
            crop = session.generate(sketch, plate_bgr=plate_crop)
            outputs = {
                name: paste(image) for name, image in (("drawn", crop), ("warped", warp.apply(crop.copy(), shape)))
            }
            faces = {name: checker.detect(image) for name, image in outputs.items()}
            assert all(face is not None for face in faces.values())
            measured[asked] = {name: float(eye_openings(face).mean()) for name, face in faces.items()}
    closed, wide = measured[limits.eye_low + 0.01], measured[limits.eye_high]
    assert closed["warped"] < closed["drawn"] - 0.005, f"a closed-asked eye closes further: {closed}"
    assert wide["warped"] > wide["drawn"] + 0.005, f"a wide-asked eye opens further: {wide}"


def test_fit_takes_each_bins_medians_and_refuses_too_little() -> None:
    rng = np.random.default_rng(0)
    asked = rng.uniform(0.06, 0.3, size=(400, 2))
    drawn = 0.5 * asked + 0.1 + rng.normal(0, 0.005, size=asked.shape)
    response = fit_eye_response(asked, drawn)
    assert len(response.asked) >= 10 and list(response.drawn) == sorted(response.drawn)
    assert np.interp(0.25, response.asked, response.drawn) == pytest.approx(0.225, abs=0.005)
    assert response.factors(np.array([0.25]))[0] == pytest.approx(0.25 / 0.225, abs=0.03)
    with pytest.raises(UsageError, match="fit the eye response on a longer clip with blinks"):
        fit_eye_response(np.full((20, 2), 0.2), np.full((20, 2), 0.2))


def test_drive_eval_fits_the_responses_into_a_models_card(
    tmp_path: Path, capsys: pytest.CaptureFixture, session: GeneratorSession
) -> None:
    model = tmp_path / "avatar.onnx"
    shutil.copy(MODEL, model)
    clip = REPOSITORY / "data" / "cremad_1001_HAP.flv"
    assert live_main(["drive-eval", str(model), "--fit-response"]) == 2
    assert "--fit-response needs driver clips" in capsys.readouterr().err
    assert live_main(["drive-eval", str(model), str(clip), "--fit-response", "--json", "x.json"]) == 2
    assert "only fits and stores the curves: drop --json" in capsys.readouterr().err
    assert live_main(["drive-eval", str(model), str(clip), "--fit-response"]) == 0
    printed = capsys.readouterr().out
    assert "eye response stored in" in printed and "mouth / smile r on the clips" in printed
    kept = "mouth response stored in" in printed  # kept only if it helped on this clip (keeps_mouth_response)
    config = PipelineConfig(GeneratorSessionConfig(model, "cpu"), generator_workers=1)
    with open_stages(config) as stages:
        stored = stages.card.eye_response
        assert stages.eye_warp is not None and stages.eye_warp.response == EyeResponse.from_card(stored)
    with open_stages(replace(config, eye_warp=False)) as stages:
        assert stages.eye_warp is None, "--no-eye-warp"
    assert stored["fitted_on"] == [clip.name] and len(stored["asked"]) >= 2
    assert stored["drawn"] == sorted(stored["drawn"]) and STRENGTH_LIMITS[0] <= stored["strength"] <= STRENGTH_LIMITS[1]
    assert stored["asked"] != session.card.eye_response["asked"], "fitted anew on this clip"
    corners = stages.card.corner_response
    assert corners["fitted_on"] == [clip.name] and corners["asked"] == sorted(corners["asked"])
    mouth = stages.card.mouth_response
    if kept:
        assert mouth["fitted_on"] == [clip.name] and len(mouth["asked"]) >= 2
        assert mouth["asked"] == sorted(mouth["asked"]) and mouth["drawn"] == sorted(mouth["drawn"])
    else:
        assert mouth == {} and "mouth response not kept (no correction)" in printed
