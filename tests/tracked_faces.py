"""Real MediaPipe landmarks of a shipped clip, for tests that need real faces."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from live.engines.landmarks import LandmarkConfig, LandmarkDetector


def track_clip(path: Path) -> list[np.ndarray]:
    """(478, 3) landmarks of every frame of the clip on which the tracker finds a face, in its pixels."""
    capture = cv2.VideoCapture(str(path))
    faces = []
    with LandmarkDetector(LandmarkConfig()) as detector:
        while (frame := capture.read())[0]:
            face = detector.detect(frame[1])
            if face is not None:
                faces.append(face)
    capture.release()
    return faces
