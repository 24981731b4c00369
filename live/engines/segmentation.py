"""Person segmentation: MediaPipe's selfie segmentation (its model ships in the same wheel), run once per plate
and once per driver calibration, never per frame (live.face.body moves the person it cuts out)."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from live.closing import Closing
from live.engines.stderr_capture import started_quietly
from live.face.head_plate import HeadPlate

PERSON_THRESHOLD = 0.5


def _start_segmenter():
    from mediapipe.python.solutions import selfie_segmentation

    segmenter = selfie_segmentation.SelfieSegmentation(model_selection=0)
    segmenter.process(np.zeros((64, 64, 3), dtype=np.uint8))
    return segmenter


class PersonSegmenter(Closing):
    """`person_mask(image_bgr)`: where the person is. Start it before worker threads (its log is captured)."""

    def __init__(self) -> None:
        self._segmenter = started_quietly(_start_segmenter)

    def person_mask(self, image_bgr: np.ndarray) -> np.ndarray:
        """(H, W) uint8 mask of image_bgr, 1 on the person (head, body, arms), 0 on the background."""
        if self._segmenter is None:
            raise RuntimeError("PersonSegmenter is closed")
        confidence = self._segmenter.process(cv2.cvtColor(image_bgr, cv2.COLOR_BGR2RGB)).segmentation_mask
        return (confidence > PERSON_THRESHOLD).astype(np.uint8)

    def close(self) -> None:
        """Release MediaPipe's graph; safe to call twice."""
        if self._segmenter is not None:
            self._segmenter.close()
            self._segmenter = None


def head_plates(plates_bgr: Sequence[np.ndarray], plate_landmarks_px: Sequence[np.ndarray]) -> list[HeadPlate]:
    """Each plate, ready to have its head bent onto a face (live.face.head_plate), its own head at the given
    landmarks (plate pixels), its person segmented here."""
    with PersonSegmenter() as segmenter:
        return [
            HeadPlate(plate, segmenter.person_mask(plate), landmarks_px)
            for plate, landmarks_px in zip(plates_bgr, plate_landmarks_px, strict=True)
        ]
