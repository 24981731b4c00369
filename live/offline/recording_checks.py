"""Is a recording good enough to train an avatar on? A quick look before anything long starts.

`look_at_recording` decodes the whole video but finds faces on SAMPLES_PER_S frames a second only (MediaPipe,
static-image mode, up to two faces), and measures each sampled frame's brightness: the face box's mean luma, or
the frame's when there is no face. `recording_problems` turns that into one line per problem:
    faceless: a face on fewer than FACE_SHARE_NEEDED of the sampled frames;
    several faces: two faces on more than SEVERAL_FACES_SHARE of them;
    too dark: the faces' median brightness under DARK_LUMA (of 255);
    too short: under MINIMUM_USABLE_S seconds of usable frames (one face, bright enough) in all the videos.
`live make` stops on them before it prepares anything (exit 2; `--force` goes on); `live prepare` warns.
MediaPipe still finds faces at an eighth of the usual brightness (measured on the shipped clips: their faces'
median luma is 96 to 159), so "dark" is judged by the brightness, not by the detector.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from live.engines.landmarks import LandmarkConfig, LandmarkDetector
from live.errors import UsageError
from live.progress import bar

SAMPLES_PER_S = 2.0
FACE_SHARE_NEEDED = 0.5
SEVERAL_FACES_SHARE = 0.1
DARK_LUMA = 45.0
MINIMUM_USABLE_S = 20.0


@dataclass(frozen=True, slots=True)
class RecordingLook:
    """What `look_at_recording` saw: the video's frames, rate and (width, height), and per sampled frame the faces
    found and the brightness (0-255 luma of the face box, of the frame without a face); detect_s: the median
    seconds of a detection."""

    video: Path
    frames: int
    fps: float
    frame_size_px: tuple[int, int]
    faces: tuple[int, ...]
    luma: tuple[float, ...]
    detect_s: float

    @property
    def duration_s(self) -> float:
        return self.frames / self.fps if self.fps > 0 else 0.0

    def usable_s(self) -> float:
        """Seconds of frames with one face, bright enough (from the sampled frames' share)."""
        if not self.faces:
            return 0.0
        usable = sum(count == 1 and luma >= DARK_LUMA for count, luma in zip(self.faces, self.luma))
        return self.duration_s * usable / len(self.faces)


def _face_luma(gray: np.ndarray, landmarks_px: np.ndarray) -> float:
    low = np.maximum(landmarks_px[:, :2].min(axis=0).astype(int), 0)
    high = landmarks_px[:, :2].max(axis=0).astype(int)
    face = gray[low[1] : high[1], low[0] : high[0]]
    return float(face.mean()) if face.size else float(gray.mean())


def look_at_recording(video: Path, detector: LandmarkDetector | None = None) -> RecordingLook:
    """Faces and brightness on SAMPLES_PER_S frames a second of `video`; UsageError when it cannot be read."""
    capture = cv2.VideoCapture(str(video))
    if not Path(video).is_file() or not capture.isOpened():
        raise UsageError(f"cannot read {video}: not a video OpenCV can open")
    fps = float(capture.get(cv2.CAP_PROP_FPS) or 0.0)
    size_px = (int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)))
    every = max(1, int(round(fps / SAMPLES_PER_S))) if fps > 0 else 1
    total = int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) or None
    faces, luma, detect_s, index = [], [], [], 0
    own = detector is None
    detector = detector or LandmarkDetector(LandmarkConfig(static_image_mode=True, max_faces=2))
    try:
        with bar() as progress:
            task = progress.add_task(f"look at {Path(video).name}", total=total)
            while capture.grab():
                if index % every == 0:
                    ok, frame = capture.retrieve()
                    if ok:
                        started_s = time.perf_counter()
                        found = detector.detect_all(frame)
                        detect_s.append(time.perf_counter() - started_s)
                        gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
                        faces.append(len(found))
                        luma.append(_face_luma(gray, found[0]) if found else float(gray.mean()))
                index += 1
                progress.update(task, completed=index)
    finally:
        capture.release()
        if own:
            detector.close()
    if index == 0:
        raise UsageError(f"cannot read {video}: no frames could be decoded")
    typical_detect_s = float(np.median(detect_s)) if detect_s else 0.0  # (the first detection warms up: slower)
    return RecordingLook(Path(video), index, fps, size_px, tuple(faces), tuple(luma), typical_detect_s)


def recording_problems(looks: list[RecordingLook]) -> list[str]:
    """One line per problem of the recordings, each saying what to record instead (empty: good enough)."""
    problems = []
    for look in looks:
        name, count = look.video.name, max(1, len(look.faces))
        with_face = sum(faces >= 1 for faces in look.faces) / count
        several = sum(faces >= 2 for faces in look.faces) / count
        face_luma = [luma for faces, luma in zip(look.faces, look.luma) if faces >= 1]
        if with_face < FACE_SHARE_NEEDED:
            problems.append(
                f"{name}: a face is found on only {with_face:.0%} of its frames: record one face looking at the camera"
            )
        if several > SEVERAL_FACES_SHARE:
            problems.append(f"{name}: two faces on {several:.0%} of its frames: record the person alone in the picture")
        brightness = float(np.median(face_luma if face_luma else look.luma)) if look.luma else 0.0
        if brightness < DARK_LUMA:
            what = "the face" if face_luma else "the picture"
            problems.append(
                f"{name}: too dark ({what} averages {brightness:.0f} of 255, at least {DARK_LUMA:.0f} is needed): "
                "light the face from the front"
            )
    usable_s = sum(look.usable_s() for look in looks)
    if usable_s < MINIMUM_USABLE_S:
        names = ", ".join(look.video.name for look in looks)
        problems.append(
            f"{names}: about {usable_s:.0f} s of usable frames (one face, bright enough), at least "
            f"{MINIMUM_USABLE_S:.0f} s are needed: record a minute or more"
        )
    return problems


def usable_seconds_of_dataset(videos: list) -> float:
    """Seconds of the frames `live prepare` kept (its manifest's videos: kept frames over each video's rate)."""
    return sum(video.kept / video.fps for video in videos if video.fps > 0)
