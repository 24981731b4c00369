"""Landmark stage: MediaPipe face mesh (478 points) on BGR images."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import cv2
import numpy as np

from live.closing import Closing
from live.engines.stderr_capture import started_quietly
from live.formats.landmarks import LANDMARK_COUNT

# mediapipe 0.10.14 (pinned) calls a protobuf API that protobuf 4 marks deprecated, on every
# result; harmless, and it would otherwise greet every user of `live run`.
warnings.filterwarnings("ignore", message=r"SymbolDatabase\.GetPrototype\(\) is deprecated", category=UserWarning)


@dataclass(frozen=True, slots=True)
class LandmarkConfig:
    """How faces are found.

    static_image_mode: detect on every image independently (datasets of stills)
        instead of tracking through a video.
    max_faces: faces MediaPipe looks for; the largest one is returned.
    detect_width_px: downscale wider images to this width before detection
        (0 keeps full size); landmarks are still returned in full-size pixels.
    """

    static_image_mode: bool = False
    max_faces: int = 1
    detect_width_px: int = 0
    min_detection_confidence: float = 0.5
    min_tracking_confidence: float = 0.5


def _quiet_face_mesh(config: LandmarkConfig):
    """Build MediaPipe's face mesh and run it once on a blank image, keeping its start-up log
    lines (TFLite delegate, feedback-tensor warnings) off the user's terminal. Call before
    worker threads start: the stderr capture is process-wide. On failure the log is re-emitted."""

    def start():
        from mediapipe.python.solutions import face_mesh

        mesh = face_mesh.FaceMesh(
            static_image_mode=config.static_image_mode,
            max_num_faces=config.max_faces,
            refine_landmarks=True,
            min_detection_confidence=config.min_detection_confidence,
            min_tracking_confidence=config.min_tracking_confidence,
        )
        mesh.process(np.zeros((64, 64, 3), dtype=np.uint8))
        return mesh

    return started_quietly(start)


def face_box_area_px(landmarks_px: np.ndarray) -> float:
    """Area of the axis-aligned box around a face's landmarks."""
    span = landmarks_px[:, :2].max(axis=0) - landmarks_px[:, :2].min(axis=0)
    return float(span[0] * span[1])


class LandmarkDetector(Closing):
    """MediaPipe face mesh with iris refinement; `detect` returns (478, 3) pixels or None."""

    def __init__(self, config: LandmarkConfig = LandmarkConfig()) -> None:
        self.config = config
        self._mesh = _quiet_face_mesh(config)

    def detect_all(self, image_bgr: np.ndarray) -> list[np.ndarray]:
        """Every face found, each as (478, 3) float32 pixels of `image_bgr`, largest first."""
        if self._mesh is None:
            raise RuntimeError("LandmarkDetector is closed")
        height_px, width_px = image_bgr.shape[:2]
        image = image_bgr
        detect_width_px = self.config.detect_width_px
        if detect_width_px and width_px > detect_width_px:
            scale = detect_width_px / width_px
            image = cv2.resize(image_bgr, (detect_width_px, round(height_px * scale)), interpolation=cv2.INTER_AREA)
        image_rgb = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
        result = self._mesh.process(image_rgb)
        faces: list[np.ndarray] = []
        for face in result.multi_face_landmarks or []:
            points = np.array([(p.x, p.y, p.z) for p in face.landmark], dtype=np.float32)
            if points.shape[0] != LANDMARK_COUNT:
                continue
            points *= np.array([width_px, height_px, width_px], dtype=np.float32)
            faces.append(points)
        faces.sort(key=face_box_area_px, reverse=True)
        return faces

    def detect(self, image_bgr: np.ndarray) -> np.ndarray | None:
        """The largest face's landmarks in pixels, or None when no face is found."""
        faces = self.detect_all(image_bgr)
        return faces[0] if faces else None

    def close(self) -> None:
        """Release MediaPipe's graph; safe to call twice."""
        if self._mesh is not None:
            self._mesh.close()
            self._mesh = None
