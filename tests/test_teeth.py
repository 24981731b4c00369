"""Teeth, measured on real photos with real MediaPipe landmarks, and drawn by sketch v3.

The default avatar's own recording (data/jwp_intro.mp4) opens its mouth about as wide on frame 62 as on
frame 84, and shows teeth only on frame 84: the landmarks cannot tell them apart, the photo can.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from live.engines.landmarks import LandmarkConfig, LandmarkDetector
from live.face.expression import mouth_opening
from live.face.teeth import teeth_share
from live.formats.sketch import REGION_COLOURS_BGR, TEETH_BGR, TEETH_FULL_SHARE, draw_sketch, inner_mouth_colour_bgr

DATA = Path(__file__).resolve().parent.parent / "data"
SIZE_PX = 256


def _frames(path: Path, indices: tuple[int, ...]) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """frame index -> (image, landmarks) for the chosen frames of a clip, tracked from its start."""
    capture = cv2.VideoCapture(str(path))
    found = {}
    with LandmarkDetector(LandmarkConfig()) as detector:
        for index in range(max(indices) + 1):
            ok, image = capture.read()
            assert ok, f"{path} has fewer than {max(indices) + 1} frames"
            landmarks = detector.detect(image)
            if index in indices:
                assert landmarks is not None, f"no face on frame {index} of {path}"
                found[index] = (image, landmarks)
    capture.release()
    return found


@pytest.fixture(scope="module")
def target_frames() -> dict[int, tuple[np.ndarray, np.ndarray]]:
    return _frames(DATA / "jwp_intro.mp4", (1, 62, 84, 85))


def test_same_opening_with_and_without_teeth(target_frames: dict) -> None:
    shares = {index: teeth_share(image, face) for index, (image, face) in target_frames.items()}
    openings = {index: float(mouth_opening(face)) for index, (_, face) in target_frames.items()}
    print(
        "teeth share",
        {k: round(v, 3) for k, v in shares.items()},
        "mouth",
        {k: round(v, 3) for k, v in openings.items()},
    )
    assert abs(openings[62] - openings[84]) < 0.01, "frames 62 and 84 open the mouth alike"
    assert shares[84] > 0.2 and shares[85] > 0.2, "teeth show on frames 84-85"
    assert shares[62] < 0.05, "an open mouth without teeth (under a sixth of 84's)"
    assert shares[1] == 0.0, "closed lips: no teeth can show"


def test_smiling_driver_shows_teeth() -> None:
    """CREMA-D actor 1001's happy take (frames looked at): he speaks with his lower teeth showing (frames 5-9),
    closes his lips (12-17), then smiles with his teeth (from 19)."""
    capture = cv2.VideoCapture(str(DATA / "cremad_1001_HAP.flv"))
    shares = []
    with LandmarkDetector(LandmarkConfig()) as detector:
        while (frame := capture.read())[0]:
            face = detector.detect(frame[1])
            shares.append(np.nan if face is None else teeth_share(frame[1], face))
    capture.release()
    shares_array = np.array(shares)
    print("teeth share by frame", np.round(shares_array, 2))
    assert np.nanmax(shares_array[12:18]) < 0.01, "closed lips"
    assert np.nanmin(shares_array[19:30]) > 0.1 and np.nanmax(shares_array[5:10]) > 0.08, "teeth"


def test_sketch_v3_draws_the_teeth_share(target_frames: dict) -> None:
    image, face = target_frames[84]
    centre = face[:, :2].mean(axis=0)
    crop = face.copy()
    crop[:, :2] = (face[:, :2] - centre) * 1.5 + SIZE_PX / 2
    mouth_point = tuple(int(v) for v in crop[[13, 14], :2].mean(axis=0).round())  # between the inner lips

    def mouth_colour(sketch_bgr: np.ndarray) -> tuple[int, ...]:
        return tuple(int(v) for v in sketch_bgr[mouth_point[1], mouth_point[0]])

    assert mouth_colour(draw_sketch(crop, SIZE_PX)) == REGION_COLOURS_BGR["inner_mouth"]
    assert mouth_colour(draw_sketch(crop, SIZE_PX, teeth_share=TEETH_FULL_SHARE)) == TEETH_BGR
    half = mouth_colour(draw_sketch(crop, SIZE_PX, teeth_share=TEETH_FULL_SHARE / 2))
    assert half == inner_mouth_colour_bgr(TEETH_FULL_SHARE / 2) and half not in (TEETH_BGR,)
    v2 = draw_sketch(crop, SIZE_PX, version=2, teeth_share=TEETH_FULL_SHARE)
    assert np.array_equal(v2, draw_sketch(crop, SIZE_PX, version=2)), "v2 models never see the teeth"
    assert np.array_equal(v2, draw_sketch(crop, SIZE_PX)), "v3 without teeth is v2"


def test_coverage_says_when_no_frame_shows_teeth(target_frames: dict) -> None:
    from live.face.coverage import coverage_lines, coverage_report

    faces = np.stack([face for _, face in target_frames.values()] * 10)
    shares = np.array([teeth_share(image, face) for image, face in target_frames.values()] * 10)
    shown = coverage_report(faces, shares)
    assert shown["shares"]["teeth_showing"] == 0.5 and not any(m["state"] == "teeth_showing" for m in shown["missing"])
    lines = coverage_lines(coverage_report(faces, np.zeros(len(faces))))
    assert "missing: no frame with teeth showing: talk and smile with your teeth showing for a few seconds" in lines
    assert "teeth_showing" not in coverage_report(faces)["shares"], "landmarks alone cannot tell"


def test_run_draws_the_drivers_teeth_into_a_v3_sketch(target_frames: dict, tiny_model_path: Path) -> None:
    """The pipeline's sketch step on real frames: teeth whiten the inner mouth; with `--no-teeth`, and on a frame
    with closed lips, the sketch is v2's."""
    from live.engines.generator import GeneratorSessionConfig
    from live.face.retarget import RetargetConfig
    from live.pipeline.messages import Frame
    from live.pipeline.run import PipelineConfig, open_stages
    from live.pipeline.stats import PipelineStats
    from live.pipeline.steps import BufferPool, SketchStep, TrackStep

    sketches = {}
    for teeth in (True, False):
        retarget = RetargetConfig(mode="off", teeth=teeth)
        with open_stages(PipelineConfig(GeneratorSessionConfig(tiny_model_path, "cpu"), retarget=retarget)) as stages:
            assert stages.card.sketch_format_version == 3
            stats = PipelineStats("test")
            track = TrackStep(stages.detector, stats)
            sketch = SketchStep(stages.retargeter, stages.card.size_px, BufferPool(stages.card.size_px), stats)
            for index in (84, 1):
                sketched = sketch(track(Frame(index, 0.0, target_frames[index][0], index / 30.0)))
                sketches[teeth, index] = sketched.sketch_bgr.astype(int)
    assert np.array_equal(sketches[True, 1], sketches[False, 1]), "closed lips on frame 1"
    changed = np.any(sketches[True, 84] != sketches[False, 84], axis=2)
    assert changed.sum() >= 3, "frame 84's teeth whiten its inner mouth"
    whiter = sketches[True, 84][changed].sum(axis=1) > sketches[False, 84][changed].sum(axis=1)
    assert whiter.all()


def test_the_shipped_avatar_shows_its_teeth_when_the_driver_does() -> None:
    """CREMA-D HAP through models/jwp.onnx (ONNX Runtime, MediaPipe on every output): the avatar's teeth share
    follows the driver's, and `--no-teeth` (v2's dark mouth) does not."""
    from live.face.retarget import RetargetConfig
    from live.offline.expression import DriveConfig, drive, teeth_figures

    model, clip = DATA.parent / "models" / "jwp.onnx", DATA / "cremad_1001_HAP.flv"
    figures = {
        teeth: teeth_figures(drive(DriveConfig(model, clip, RetargetConfig(teeth=teeth)))) for teeth in (True, False)
    }
    print(figures)
    shown, dark = figures[True], figures[False]
    assert shown["correlation"] > 0.6 and shown["output_share_driver_showing"] > 3 * shown["output_share_driver_not"]
    assert shown["output_share_driver_showing"] > 3 * dark["output_share_driver_showing"]
