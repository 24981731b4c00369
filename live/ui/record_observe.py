"""What `live record` sees in each frame: the face as `live prepare` will crop it, and bad conditions.

The face is measured the way `live prepare` measures it, so that the meter counts what the dataset will
hold: the detector's largest face when it is the only one, aligned into the head crop of `size_px`
(live.face.alignment), left out when the face leaves that crop (prepare: "face leaves the crop"), and its
teeth share read from the crop with prepare's context margin (live.face.teeth). Prepare also leaves out
blurred frames and frames with a hand over the face, which the meter cannot know while recording.

Conditions, one line each on screen while they last (`ConditionTracker`): no face, several faces, too dark
(the face's mean luma under DARK_LUMA), backlit (the face under BACKLIT_RATIO of the rest of the picture),
face too small (the head crop under `size_px` of the camera's pixels: training would upscale it), the face
cut off at the picture's edge, and a camera slower than MINIMUM_FPS.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import cv2
import numpy as np

from live.face.alignment import apply_transform, crop_transform, transform_parameters, warp_to_crop
from live.face.teeth import teeth_share

CONTEXT_FRACTION = 0.125  # live prepare's context margin around the crop (PrepareConfig.context_fraction)
DARK_LUMA = 45.0  # mean luma (0-255) of the face box: live.offline.recording_checks.DARK_LUMA, what prepare calls dark
BACKLIT_RATIO = 0.55  # face luma under this fraction of the background's, with a bright background
BACKLIT_BACKGROUND_LUMA = 110.0
MINIMUM_FPS = 15.0
CONDITION_WINDOW_FRAMES = 15  # a condition shows while it holds on half the frames of this window
CONDITION_TEXT = {
    "no_face": "no face found: look into the camera",
    "several_faces": "several faces in the picture: record yourself alone",
    "dark": "too dark: turn on a light in front of you",
    "backlit": "backlit: the light is behind you; face a window or a lamp instead",
    "face_small": "face too small: come closer to the camera",
    "face_cut": "your face is cut off at the edge of the picture: move to its middle",
    "slow": "camera too slow: {fps:.0f} fps (at least 15): more light, or a lower --width/--height",
}


@dataclass(frozen=True, slots=True)
class Observation:
    """One frame: faces found; the face in prepare's crop (None: no single face, or its crop leaves the
    frame) with its teeth share; the bad conditions seen on it (keys of CONDITION_TEXT)."""

    faces: int
    crop_landmarks_px: np.ndarray | None
    teeth_share: float | None
    conditions: tuple[str, ...]


def observe(frame_bgr: np.ndarray, faces: list[np.ndarray], size_px: int) -> Observation:
    """Measure one frame given the detector's faces (largest first, (478, 3) pixels of the frame)."""
    if len(faces) != 1:
        return Observation(len(faces), None, None, ("no_face",) if not faces else ("several_faces",))
    face = faces[0]
    conditions = list(_light_conditions(frame_bgr, face))
    transform = crop_transform(face, size_px)
    if transform_parameters(transform, size_px)[2] < size_px:
        conditions.append("face_small")
    height_px, width_px = frame_bgr.shape[:2]
    if face[:, :2].min() < 0 or face[:, 0].max() >= width_px or face[:, 1].max() >= height_px:
        conditions.append("face_cut")
    crop_landmarks = apply_transform(transform, face)
    if crop_landmarks[:, :2].min() < 0 or crop_landmarks[:, :2].max() >= size_px:  # prepare leaves it out
        return Observation(1, None, None, tuple(conditions))
    margin_px = int(round(size_px * CONTEXT_FRACTION))
    context_transform = transform + np.array([[0, 0, margin_px], [0, 0, margin_px]])
    context_bgr = warp_to_crop(frame_bgr, context_transform, size_px + 2 * margin_px)
    teeth = teeth_share(context_bgr, crop_landmarks[:, :2] + margin_px)
    return Observation(1, crop_landmarks, teeth, tuple(conditions))


def _light_conditions(frame_bgr: np.ndarray, face: np.ndarray) -> list[str]:
    """ "dark" and "backlit" from the luma of the face's box against the rest of the picture."""
    step = max(1, frame_bgr.shape[1] // 320)  # a quarter-size view is enough for a mean
    gray = cv2.cvtColor(np.ascontiguousarray(frame_bgr[::step, ::step]), cv2.COLOR_BGR2GRAY).astype(np.float32)
    low = np.clip(np.floor(face[:, :2].min(axis=0) / step).astype(int), 0, None)
    high = np.ceil(face[:, :2].max(axis=0) / step).astype(int) + 1
    face_box = gray[low[1] : high[1], low[0] : high[0]]
    if face_box.size == 0:
        return []
    face_luma = float(face_box.mean())
    rest_pixels = gray.size - face_box.size
    rest_luma = (float(gray.sum()) - float(face_box.sum())) / rest_pixels if rest_pixels > 0 else face_luma
    conditions = ["dark"] if face_luma < DARK_LUMA else []
    if rest_luma > BACKLIT_BACKGROUND_LUMA and face_luma < BACKLIT_RATIO * rest_luma:
        conditions.append("backlit")
    return conditions


class ConditionTracker:
    """Which conditions show now (held on half of the last CONDITION_WINDOW_FRAMES frames), how many frames
    each was seen on, and when it was first seen (video seconds); `started` names those that just began."""

    def __init__(self) -> None:
        self._recent: deque[tuple[str, ...]] = deque(maxlen=CONDITION_WINDOW_FRAMES)
        self.frames: dict[str, int] = {}
        self.first_s: dict[str, float] = {}
        self.showing: tuple[str, ...] = ()
        self.fps_measured = 0.0

    def update(self, conditions: tuple[str, ...], time_s: float) -> list[str]:
        """Account one frame's conditions; the conditions that start showing on it."""
        self._recent.append(conditions)
        for name in conditions:
            self.frames[name] = self.frames.get(name, 0) + 1
            self.first_s.setdefault(name, round(time_s, 3))
        held = [name for name in CONDITION_TEXT if sum(name in seen for seen in self._recent) * 2 >= len(self._recent)]
        started = [name for name in held if name not in self.showing]
        self.showing = tuple(held)
        return started

    def line(self, name: str) -> str:
        """The one line that says what is wrong and what to do."""
        return CONDITION_TEXT[name].format(fps=self.fps_measured)

    def summary(self) -> list[dict]:
        """JSON-ready: condition, frames, first_s, line; for the sidecar."""
        return [
            {"condition": name, "frames": count, "first_s": self.first_s[name], "line": self.line(name)}
            for name, count in self.frames.items()
        ]


class RateMeter:
    """Frames a second over the last `window` frames of a live camera (wall clock)."""

    def __init__(self, window: int = 30) -> None:
        self._times_s: deque[float] = deque(maxlen=window)

    def tick(self, time_s: float) -> float:
        """Note a frame's arrival; the rate so far (0 until two frames came)."""
        self._times_s.append(time_s)
        span_s = self._times_s[-1] - self._times_s[0]
        return (len(self._times_s) - 1) / span_s if span_s > 0 else 0.0
