"""The coverage report of `live prepare` on real MediaPipe landmarks, and balanced sampling weights."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from tracked_faces import track_clip

from live.engines.landmarks import LandmarkConfig, LandmarkDetector
from live.face.coverage import (
    STATE_ADVICE,
    STATE_NAMES,
    coverage_lines,
    coverage_report,
    frame_states,
    sample_weights,
)

DATA = Path(__file__).resolve().parents[1] / "data"


@pytest.fixture(scope="module")
def intro() -> np.ndarray:
    """(N, 478, 3) landmarks of every frame of jwp_intro (the default avatar's training clip)."""
    return np.stack(track_clip(DATA / "jwp_intro.mp4"))


def test_report_counts_the_blinks_and_names_what_is_missing(intro: np.ndarray) -> None:
    report = coverage_report(intro)
    lines = coverage_lines(report)
    print("\n".join(lines))
    assert report["frames"] == len(intro)
    assert 0 < report["shares"]["eyes_closed"] < 0.5, "the clip has a few blinks"
    missing = {item["state"] for item in report["missing"]}
    assert "eyes_closed" not in missing
    assert "head_turned" in missing, "the speaker barely turns his head (yaw 1-5 degrees)"
    for state in missing:
        assert any(STATE_ADVICE[state] in line for line in lines), f"one line says what to record for {state}"
    assert report["eye"]["low"] < report["percentiles"]["eye"]["p50"] < report["eye"]["high"]


def test_a_still_portrait_misses_every_expression() -> None:
    with LandmarkDetector(LandmarkConfig(static_image_mode=True)) as detector:
        face = detector.detect(cv2.imread(str(DATA / "grace_hopper.jpg")))
    report = coverage_report(np.stack([face] * 20))
    assert {item["state"] for item in report["missing"]} == set(STATE_NAMES)
    assert sum(line.startswith("missing:") for line in coverage_lines(report)) == len(STATE_NAMES)


def test_balanced_weights_oversample_rare_expressions(intro: np.ndarray) -> None:
    weights = sample_weights(intro)
    closed = frame_states(intro)["eyes_closed"]
    assert np.isclose(weights.sum(), 1.0) and (weights > 0).all()
    assert weights[closed].sum() > closed.mean(), "closed-eye frames drawn more often than their share"
    assert np.allclose(sample_weights(intro, balance=0.0), 1.0 / len(intro))
