"""The avatar's response: what the generator draws when its sketch asks for an eye or mouth opening.

`live drive-eval MODEL --response` starts from the target's neutral face (the card's landmarks), sets
both eyes' opening (lid gap / eye width), then the mouth's (inner-lip gap / face height), to evenly
spaced values across the range the target showed in training (live.face.expression_transfer), renders
each sketch in the neutral head crop, and measures the output with MediaPipe, the same way `live
drive-eval` measures a driven avatar. For each part it reports:

    points: asked vs drawn at every step;
    slope: least-squares slope of drawn against asked (1: the output follows the sketch one to one;
        near 0: the generator draws the same part whatever the sketch asks);
    drawn_span: drawn range / asked range.

This is the generator's share of `live drive-eval`'s losses, with no driver involved: a closed eye the
generator draws half open, or an open-eye range it compresses, caps the eye correlation whatever the
retargeting does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from live.engines.generator import GeneratorSession, GeneratorSessionConfig
from live.engines.landmarks import LandmarkConfig, LandmarkDetector
from live.errors import UsageError
from live.face.corner_warp import CornerResponse, corner_lifts, fit_corner_response
from live.face.expression import eye_openings, mouth_opening
from live.face.expression_transfer import ExpressionRange, set_eye_openings, set_mouth_opening
from live.face.eye_warp import EyeResponse, calibrated_strength, fit_eye_response
from live.face.mouth_response import MouthResponse, fit_mouth_response
from live.face.pose import face_rotation
from live.formats.card import ModelCard
from live.formats.card_file import update_card_data
from live.offline.expression import correlations
from live.pipeline.steps import neutral_face_bgr

RESPONSE_STEPS = 7


def asked_shapes(card: ModelCard, limits: ExpressionRange, steps: int = RESPONSE_STEPS) -> dict[str, list]:
    """Per part ("eye", "mouth"): (asked opening, landmarks) from the card's neutral with only that part set."""
    neutral_px = np.asarray(card.neutral_landmarks_px, dtype=np.float64)
    rotation = face_rotation(neutral_px)
    eyes = np.linspace(limits.eye_low, limits.eye_high, steps)
    mouths = np.linspace(limits.mouth_low, limits.mouth_high, steps)
    return {
        "eye": [(float(v), set_eye_openings(neutral_px, rotation, np.array([v, v]))) for v in eyes],
        "mouth": [(float(v), set_mouth_opening(neutral_px, rotation, float(v))) for v in mouths],
    }


def drawn_opening(part: str, face_px: np.ndarray | None) -> float | None:
    """The part's opening measured on an output face (mean of both eyes), None without a face."""
    if face_px is None:
        return None
    return float(eye_openings(face_px).mean()) if part == "eye" else float(mouth_opening(face_px))


def summarise(points: list[tuple[float, float | None]]) -> dict:
    """Slope and drawn span over the points where a face was found (None if fewer than 2)."""
    found = [(asked, drawn) for asked, drawn in points if drawn is not None]
    summary: dict = {"points": [{"asked": round(a, 4), "drawn": None if d is None else round(d, 4)} for a, d in points]}
    if len(found) < 2:
        return {**summary, "slope": None, "drawn_span": None}
    asked, drawn = (np.array(values) for values in zip(*found))
    slope = float(np.polyfit(asked, drawn, 1)[0])
    span = float((drawn.max() - drawn.min()) / max(asked.max() - asked.min(), 1e-9))
    return {**summary, "slope": round(slope, 3), "drawn_span": round(span, 3)}


def response_curves(model_path: Path, device: str = "cpu", steps: int = RESPONSE_STEPS) -> dict:
    """Every figure of the module docstring, JSON-ready."""
    with (
        GeneratorSession(GeneratorSessionConfig(model_path, device)) as session,
        LandmarkDetector(LandmarkConfig(static_image_mode=True)) as checker,
    ):
        card = session.card
        limits = ExpressionRange.from_card(card.expression_range, card.neutral_landmarks_px)
        report: dict = {"model": str(model_path), "steps": steps}
        version = card.sketch_format_version
        for part, shapes in asked_shapes(card, limits, steps).items():
            points = []
            for asked, shape_px in shapes:
                output_bgr = neutral_face_bgr(session, shape_px.astype(np.float32), card.size_px, version)
                points.append((asked, drawn_opening(part, checker.detect(output_bgr))))
            report[part] = summarise(points)
    return report


def response_lines(report: dict) -> list[str]:
    """One line per part: slope, span and the asked -> drawn pairs."""
    lines = []
    for part in ("eye", "mouth"):
        figures = report[part]
        pairs = ", ".join(
            f"{point['asked']:.3f}->{'-' if point['drawn'] is None else format(point['drawn'], '.3f')}"
            for point in figures["points"]
        )
        lines.append(f"{part} response: slope {figures['slope']}, drawn span {figures['drawn_span']} ({pairs})")
    return lines


def _paired_openings(records: list[tuple[list, list]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per eye and frame where every output has a face: asked openings and those measured on each output
    series. records: (asked faces, [output faces of each drive]) per clip."""
    asked, measured = [], []
    for asked_faces, output_series in records:
        for index, face in enumerate(asked_faces):
            outputs = [series[index] for series in output_series]
            if face is not None and all(output is not None for output in outputs):
                asked.append(eye_openings(face))
                measured.append([eye_openings(output) for output in outputs])
    if not asked:
        raise UsageError("no frame of the clips had a face on both the driver and the output: give clips with a face")
    return np.array(asked), np.array(measured)[:, 0], np.array(measured)[:, -1]


def _paired(records: list[tuple[list, list, list]], measure: Callable) -> tuple[np.ndarray, np.ndarray]:
    """Per frame where the output has a face: `measure` of the asked face and of the output's, flattened."""
    pairs = [
        (measure(asked), measure(output))
        for _, asked_faces, output_faces in records
        for asked, output in zip(asked_faces, output_faces)
        if asked is not None and output is not None
    ]
    if not pairs:
        raise UsageError("no frame of the clips had a face on both the driver and the output: give clips with a face")
    asked, drawn = zip(*pairs)
    return np.ravel(asked), np.ravel(drawn)


def _paired_mouths(records: list[tuple[list, list, list]]) -> tuple[np.ndarray, np.ndarray]:
    """Per frame where the output has a face: the mouth opening asked and the one measured on the output."""
    return _paired(records, mouth_opening)


def paired_corner_lifts(records: list[tuple[list, list, list]], neutral_px: np.ndarray) -> tuple[np.ndarray, ...]:
    """Per corner and frame where the output has a face: the lift asked and the one measured on the output."""
    return _paired(records, lambda face: corner_lifts(face, neutral_px))


def mouth_following(records: list[tuple[list, list, list]]) -> tuple[float, float]:
    """Mouth and smile r, driver vs output (live drive-eval's measure), each the mean over the clips."""
    figures = [correlations(driver, output) for driver, _, output in records]
    return tuple(float(np.mean([f[name] or 0.0 for f in figures])) for name in ("mouth", "smile"))  # type: ignore[return-value]


def keeps_mouth_response(without: tuple[float, float], corrected: tuple[float, float]) -> bool:
    """Whether the mouth's correction helped: (mouth r, smile r) without it and with it. The mouth r must rise,
    and the smile r must not fall by more than that."""
    gain_mouth, gain_smile = corrected[0] - without[0], corrected[1] - without[1]
    return gain_mouth > 0 and gain_mouth + gain_smile > 0


@dataclass(frozen=True, slots=True)
class FittedResponses:
    """What --fit-response found: the mouth's curve (None when it did not help on the clips), the eye's, and
    the clips' mouth and smile r without and with the mouth's correction, and the mouth corners' curve."""

    mouth: MouthResponse | None
    eye: EyeResponse
    without_mouth_correction: tuple[float, float]
    with_mouth_correction: tuple[float, float]
    corner: CornerResponse


DriveClips = Callable[[MouthResponse | None, EyeResponse | None], list[tuple[list, list, list]]]


def fit_driven_responses(drive_clips: DriveClips, neutral_px: np.ndarray) -> FittedResponses:
    """The avatar's mouth response (live.face.mouth_response) and eye response (live.face.eye_warp) from
    driving it three times: with neither correction (the mouth's curve), with the mouth corrected and the eyes
    as drawn (the eye's curve), then with the eye warp at strength 1 too (its strength). The mouth's curve is
    kept only if it raised the clips' mouth r and did not lower their smile r by more (an avatar that draws
    mouths in proportion to the sketch gains nothing from it). The mouth corners' curve (live.face.corner_warp)
    comes from the second drive: drive_clips never warps the corners. drive_clips(mouth, eye) -> per clip
    (driver, asked and output faces); None: that correction off. neutral_px: the card's neutral landmarks."""
    plain = drive_clips(None, None)
    mouth: MouthResponse | None = fit_mouth_response(*_paired_mouths(plain))
    unwarped = drive_clips(mouth, None)
    before, after = mouth_following(plain), mouth_following(unwarped)
    if not keeps_mouth_response(before, after):
        mouth, unwarped = None, plain
    asked, drawn, _ = _paired_openings([(asked, [output]) for _, asked, output in unwarped])
    eye = fit_eye_response(asked, drawn)
    warped = drive_clips(mouth, eye)
    both = [(asked, [output, again]) for (_, asked, output), (_, _, again) in zip(unwarped, warped)]
    asked, drawn, drawn_warped = _paired_openings(both)
    eye = replace(eye, strength=calibrated_strength(eye, asked, drawn, drawn_warped))
    corner = fit_corner_response(*paired_corner_lifts(unwarped, neutral_px))
    return FittedResponses(mouth, eye, before, after, corner)


def store_responses(model_path: Path, fitted: FittedResponses, fitted_on: list[str]) -> None:
    """Write the responses into the model's card (ONNX metadata and NAME.md); `live run` then corrects by them
    (a mouth response that was not kept is stored empty: no correction)."""

    def update(data: dict) -> None:
        data["mouth_response"] = {} if fitted.mouth is None else {**fitted.mouth.to_dict(), "fitted_on": fitted_on}
        data["eye_response"] = {**fitted.eye.to_dict(), "fitted_on": fitted_on}
        data["corner_response"] = {**fitted.corner.to_dict(), "fitted_on": fitted_on}

    update_card_data(model_path, update)


def store_corner_response(model_path: Path, corner: CornerResponse, fitted_on: list[str]) -> None:
    """Write the mouth corners' curve alone into the model's card (`live drive-eval --fit-response corners`)."""
    update_card_data(model_path, lambda data: data.update(corner_response={**corner.to_dict(), "fitted_on": fitted_on}))
