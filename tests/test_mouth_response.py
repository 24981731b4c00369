"""The mouth-opening correction (live.face.mouth_response): the sketch asks for the opening the generator draws
as the one wanted.

The fit and its inverse on a response shaped as the generator's (closed lips snapping to an open mouth);
the correction moves only the lips of a real face, by the difference the curve gives; and on the shipped
avatar, rendered by ONNX Runtime and measured by MediaPipe while a CREMA-D actor drives it, the mouth drawn
is closer to the one wanted with the card's response than without it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from live.engines.generator import GeneratorSession, GeneratorSessionConfig
from live.errors import UsageError
from live.face.expression import mouth_opening
from live.face.expression_transfer import LIP_POINTS
from live.face.mouth_response import MouthResponse, correct_mouth_opening, fit_mouth_response
from live.face.pose import face_rotation
from live.face.retarget import RetargetConfig
from live.offline.expression import DriveConfig, drive
from live.offline.response import keeps_mouth_response

REPOSITORY = Path(__file__).resolve().parents[1]
MODEL = REPOSITORY / "models" / "jwp.onnx"


def snapping(asked: np.ndarray) -> np.ndarray:
    """Closed lips up to an asked 0.025, then a mouth drawn 0.015 wider than asked."""
    return np.where(asked < 0.025, 0.015, asked + 0.015)


def test_the_fit_inverts_a_snapping_response() -> None:
    asked = np.repeat(np.arange(0.005, 0.1, 0.01), 8) + np.tile(np.linspace(-0.003, 0.003, 8), 10)
    response = fit_mouth_response(asked, snapping(asked))
    assert list(response.drawn) == sorted(set(response.drawn)), "increasing, so it can be inverted"
    for wanted in (0.05, 0.07, 0.09):
        assert abs(float(snapping(np.array(response.asked_for(wanted)))) - wanted) <= 0.002
    assert response.asked_for(0.0) == response.asked[0] and response.asked_for(1.0) == response.asked[-1]
    with pytest.raises(UsageError, match="range.* of mouth opening"):
        fit_mouth_response(np.full(20, 0.02), np.full(20, 0.02))


def test_a_correction_is_kept_only_if_it_helps_the_mouth_more_than_it_costs_the_smile() -> None:
    assert keeps_mouth_response((0.930, 0.908), (0.950, 0.903))  # the shipped avatar on clm_cap12
    assert not keeps_mouth_response((0.978, 0.782), (0.971, 0.792))  # the clm_cap12 avatar on jwp_intro
    assert not keeps_mouth_response((0.90, 0.90), (0.92, 0.87)), "a smile lost for a mouth gained"


def test_the_correction_moves_only_the_lips_by_the_curves_difference() -> None:
    with GeneratorSession(GeneratorSessionConfig(MODEL, "cpu")) as session:
        face = session.card.neutral_landmarks_px.astype(np.float64)
    rotation = face_rotation(face)
    before = float(mouth_opening(face))
    response = MouthResponse((0.0, 0.2), (0.02, 0.22))  # draws every mouth 0.02 wider than asked
    corrected = correct_mouth_opening(face, rotation, response)
    print(f"neutral mouth {before:.3f} -> asked {mouth_opening(corrected):.3f}")
    assert abs(float(mouth_opening(corrected)) - (before - 0.02)) <= 0.003
    others = np.setdiff1d(np.arange(len(face)), LIP_POINTS)
    assert np.array_equal(corrected[others], face[others])


def test_the_shipped_avatar_draws_the_wanted_mouth_closer_with_its_response() -> None:
    clip = REPOSITORY / "data" / "cremad_1001_HAP.flv"
    errors = {}
    wanted = None
    for corrected in (False, True):
        record = drive(DriveConfig(MODEL, clip, RetargetConfig(mouth_response=corrected)))
        if wanted is None:  # without the correction, the sketch's opening is the one wanted
            wanted = [None if face is None else float(mouth_opening(face)) for face in record.target]
        drawn = [None if face is None else float(mouth_opening(face)) for face in record.output]
        errors[corrected] = np.median([abs(d - w) for d, w in zip(drawn, wanted) if d is not None and w is not None])
    print(f"median |drawn - wanted| mouth opening: {errors[False]:.4f} without, {errors[True]:.4f} with the response")
    assert errors[True] < 0.8 * errors[False]
