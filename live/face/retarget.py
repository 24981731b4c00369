"""Retarget stage: driver landmarks (camera pixels) -> target landmarks (model pixels).

Modes (RetargetConfig.mode, `live run --retarget`):
    off:  the driver's raw landmarks where its face sits in its frame, placed in the avatar's usual
          crop (live/face/driver_placement.py): the target takes on the driver's face shape and
          position, and trembles with it; its own recording drives it unchanged.
    pose: the target's neutral face, turned, moved and scaled as the driver's
          head is relative to the driver's own neutral.
    full: pose plus expression: the driver's displacement from its neutral, in
          the pose-free face frame, scaled region by region (brows, eyes, nose,
          mouth, jaw) by the target-to-driver size ratio and added to the
          target's neutral shape before it is posed; each eye's opening is then set
          relative to both faces' own neutral and range (live/face/expression_transfer.py), and the
          mouth's corrected by the avatar's mouth response (live/face/mouth_response.py).
          The eye and mouth openings are measured on the driver's unsmoothed (pose-free) landmarks:
          the expression filter held slow lid changes back and flattened blinks.

`Retargeter` coordinates parts that each do one job:
    DriverNeutral (live/face/calibration.py): the calibration state machine;
    PoseExpressionSmoothing (live/face/smoothing.py): the two One Euro filters;
    TrainingRange (live/face/training_range.py): the clamps (pose, shift, scale, shape, openings);
    RetargetStatistics (below): frames retargeted / outside the training range, and the status line.
Files are not its job: live/io/calibration_file.py loads a saved calibration before the run
and writes new ones from the main thread (`take_new_calibration`).

Thread contract:
    retarget(), no_face(), use_neutral(): the one thread that retargets (the pipeline's track or
        sketch thread), or any thread before that thread starts;
    recalibrate(): any thread (sets an Event, acted on at the next frame);
    take_new_calibration(): any thread (a thread-safe queue hands each finished calibration over);
    calibration_status, frames_retargeted, frames_outside_training, calibrating: any thread. The
        retargeting thread replaces the status line (one immutable str) after every frame, so a
        reader always gets a whole line of a recent frame; the counters are plain ints.
While the driver's neutral is being calibrated, pose and full follow the driver against a provisional
neutral (the median of the frames collected so far, live/face/calibration.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from live.closing import Closing
from live.errors import UsageError
from live.face.calibration import CALIBRATION_HINT, DriverNeutral
from live.face.driver_placement import DriverPlacement
from live.face.expression_transfer import (
    set_eye_openings,
    set_mouth_opening,
    wanted_eye_openings,
    wanted_mouth_opening,
)
from live.face.mouth_response import MouthResponse, correct_mouth_opening
from live.face.pose import estimate_pose
from live.face.regions import REGION_NAMES, FaceReference, face_reference, region_labels
from live.face.smoothing import OneEuroParameters, PoseExpressionSmoothing
from live.face.training_range import RangeLimits, TrainingRange
from live.formats.card import ModelCard

RETARGET_MODES = ("off", "pose", "full")
# Regions that do not deform with expression: whatever MediaPipe reports there as "expression"
# is its shape estimate changing with head pitch (the nose measured up to 9% longer on a tilted
# head), and would leak into the target's identity. They follow the head pose only.
RIGID_REGIONS = ("nose",)


@dataclass(frozen=True, slots=True)
class RetargetConfig:
    """How driver landmarks become target landmarks.

    mode: off, pose or full (module docstring).
    calibration_s: seconds of continuously tracked frames averaged into the driver's neutral.
    calibration_path: JSON file; loaded at start when it exists (no calibration wait),
        written after every calibration (`live run --calibration FILE`, live/io/calibration_file.py).
    smoothing: False turns both One Euro filters off.
    pose_*: One Euro on the head pose (rotation vector in radians, shift in face
        sizes, log scale); expression_*: on each expression coordinate (in driver
        face sizes); speeds in those units per second.
    pose_margin_deg: how far beyond the training pose range the target may turn.
    max_shift_fraction: the target's shift from its neutral position, at most this
        fraction of the model's side; max_scale_change: its scale within [1/x, x].
    max_gap_s: a longer gap between tracked frames resets the filters (and restarts
        an unfinished calibration), as no_face() does.
    shape_clamp: in pose/full, project the result onto the card's shape space (the
        shapes the generator was trained on, live/shape_space.py), each coefficient
        within the training range widened by shape_margin of its width.
    mouth_from_closed: in full, set the mouth's opening from closed lips (live/face/expression_transfer.py);
        False keeps the lips where the displacement from the two neutral faces puts them.
    mouth_response: in full, correct the sketch's mouth opening by the card's mouth response
        (live/face/mouth_response.py; nothing for a card without one).
    body_follow, teeth: the pipeline's, set with these: the driver's body shift below the face moves the person
        on the target's plate (live/face/body.py); the driver's teeth share is drawn into v3 sketches (teeth.py).
    """

    mode: str = "full"
    calibration_s: float = 1.0
    calibration_path: str | None = None
    smoothing: bool = True
    pose_min_cutoff_hz: float = 0.2
    pose_beta: float = 2.0
    expression_min_cutoff_hz: float = 0.3
    expression_beta: float = 7.0
    pose_derivative_cutoff_hz: float = 0.6
    expression_derivative_cutoff_hz: float = 3.0
    pose_margin_deg: float = 0.0
    max_shift_fraction: float = 0.1
    max_scale_change: float = 1.25
    max_gap_s: float = 0.5
    shape_clamp: bool = True
    shape_margin: float = 0.1
    mouth_from_closed: bool = True
    mouth_response: bool = True
    body_follow: bool = True
    teeth: bool = True

    def __post_init__(self) -> None:
        if self.mode not in RETARGET_MODES:
            raise UsageError(f"--retarget must be one of {', '.join(RETARGET_MODES)}, not {self.mode!r}")
        if (
            self.calibration_s <= 0
            or self.max_scale_change < 1
            or self.max_shift_fraction < 0
            or self.pose_margin_deg < 0
        ):
            raise UsageError(
                "retarget limits must be positive: calibration seconds > 0, max scale change >= 1,"
                " shift and margin >= 0"
            )
        if (
            min(
                self.pose_min_cutoff_hz,
                self.expression_min_cutoff_hz,
                self.pose_derivative_cutoff_hz,
                self.expression_derivative_cutoff_hz,
            )
            <= 0
            or min(self.pose_beta, self.expression_beta) < 0
        ):
            raise UsageError("smoothing cutoffs must be > 0 Hz and betas >= 0")


class RetargetStatistics:
    """Frames retargeted and frames outside the avatar's training range, and the status line built from them."""

    def __init__(self) -> None:
        self.frames_retargeted = 0
        self.frames_outside_training = 0

    def count(self, outside: bool) -> None:
        """One more frame retargeted (outside the training range or not)."""
        self.frames_retargeted += 1
        self.frames_outside_training += outside

    def status_line(self, mode: str, neutral: DriverNeutral, calibration_s: float) -> str:
        """One line for the dashboard and the window."""
        if mode == "off":
            return "retarget off: raw driver landmarks"
        if not neutral.calibrated:
            return f"{CALIBRATION_HINT} ({neutral.collected_s:.1f}/{calibration_s:.1f} s)"
        status = f"retarget {mode}: calibrated{neutral.source} (press c to recalibrate)"
        if self.frames_outside_training:
            share = self.frames_outside_training / max(1, self.frames_retargeted)
            status += f"; driver outside the avatar's training range on {share:.0%} of frames (clamped)"
        return status


class Retargeter(Closing):
    """Turns each frame's driver landmarks into target landmarks in the model's pixels (module docstring)."""

    def __init__(self, config: RetargetConfig, card: ModelCard, mouth_response: MouthResponse | None = None) -> None:
        """mouth_response: instead of the card's (when fitting one); used only with config.mouth_response."""
        self.config = config
        self.card = card
        self._placement = DriverPlacement(card) if config.mode == "off" else None
        labels = region_labels(card.neutral_landmarks_px)
        rigid = np.isin(labels, [REGION_NAMES.index(name) for name in RIGID_REGIONS])
        self._expression_weight = (~rigid).astype(np.float64)
        self._target = face_reference(card.neutral_landmarks_px, labels)
        if not (np.isfinite(self._target.rotation).all() and self._target.size_px > 0):
            raise UsageError(
                f"model card {card.name!r}: its neutral landmarks are not a face; re-export it with `live export`"
            )
        limits = RangeLimits(
            config.pose_margin_deg,
            config.max_shift_fraction,
            config.max_scale_change,
            config.shape_clamp,
            config.shape_margin,
        )
        self.range = TrainingRange(card, limits, self._target.rotation, self._target.size_px)
        self.neutral = DriverNeutral(config.calibration_s, labels)
        self.smoothing = PoseExpressionSmoothing(
            OneEuroParameters(config.pose_min_cutoff_hz, config.pose_beta, config.pose_derivative_cutoff_hz),
            OneEuroParameters(
                config.expression_min_cutoff_hz, config.expression_beta, config.expression_derivative_cutoff_hz
            ),
            config.smoothing,
        )
        self.statistics = RetargetStatistics()
        mouth_response = mouth_response or MouthResponse.from_card(card.mouth_response)
        self._mouth_response = mouth_response if config.mouth_response else None
        self.last_shape_distance_px = 0.0
        self._last_t_s = float("-inf")
        self._publish_status()

    @property
    def calibrating(self) -> bool:
        """True while pose/full calibrates the driver's neutral (following it against a provisional one)."""
        return self.config.mode != "off" and not self.neutral.calibrated

    @property
    def calibration_status(self) -> str:
        """One line for the dashboard and the window (any thread: the newest published line)."""
        return self._status

    @property
    def frames_retargeted(self) -> int:
        return self.statistics.frames_retargeted

    @property
    def frames_outside_training(self) -> int:
        return self.statistics.frames_outside_training

    def recalibrate(self) -> None:
        """Forget the driver's neutral and calibrate again from the next tracked frames (any thread)."""
        self.neutral.request_recalibration()

    def take_new_calibration(self) -> tuple[np.ndarray, tuple[int, int]] | None:
        """A calibration finished since the last call: (neutral (478, 3) px, frame (height, width)); any thread."""
        return self.neutral.take_new()

    def no_face(self) -> None:
        """Tracking lost: reset the filters and restart an unfinished calibration."""
        self.smoothing.reset()
        self.neutral.restart_collection()
        self._publish_status()

    def use_neutral(self, neutral_px: np.ndarray, frame_shape: tuple[int, ...], source: str = "") -> None:
        """Take a known driver neutral ((478, 3) pixels of a frame of frame_shape) instead of calibrating."""
        self.neutral.use(neutral_px, frame_shape, source)
        self.no_face()

    def retarget(self, landmarks_px: np.ndarray, frame_shape: tuple[int, ...], t_capture_s: float) -> np.ndarray:
        """Target landmarks (478, 3) float32 in pixels of the avatar's usual crop (the card's neutral_transform)."""
        if self._placement is not None:
            return self._placement.to_crop(landmarks_px, frame_shape)
        if t_capture_s - self._last_t_s > self.config.max_gap_s:
            self.no_face()
        self._last_t_s = t_capture_s
        # While calibrating, a provisional neutral; the filters run on through the switch to the final one.
        driver = self.neutral.reference(landmarks_px, frame_shape, t_capture_s)
        target_px = self._retarget_calibrated(landmarks_px.astype(np.float64), driver, t_capture_s)
        self._publish_status()
        return target_px

    def _retarget_calibrated(self, landmarks_px: np.ndarray, driver: FaceReference, t_s: float) -> np.ndarray:
        pose = estimate_pose(landmarks_px, driver.neutral_px)
        rotation_vector = cv2.Rodrigues(pose.rotation)[0].ravel()
        centre_px = pose.scale * pose.rotation @ driver.centre_px + pose.translation_px
        shift = (centre_px - driver.centre_px) / driver.size_px
        pose_vector = self.smoothing.pose(np.concatenate([rotation_vector, shift, [np.log(pose.scale)]]), t_s)
        target = self._target
        shape_px = target.neutral_px
        if self.config.mode == "full":
            unposed_px = pose.inverse().apply(landmarks_px)
            expression = self.smoothing.expression(
                (unposed_px - driver.neutral_px) @ driver.rotation / driver.size_px, t_s
            )
            gain_px = driver.size_px * target.region_size_px / driver.region_size_px * self._expression_weight
            shape_px = shape_px + (expression @ target.rotation.T) * gain_px[:, None]
            limits = self.range.expression  # openings from the unsmoothed landmarks (module docstring)
            wanted = wanted_eye_openings(unposed_px, driver.eye_openings, target.eye_openings, limits)
            shape_px = set_eye_openings(shape_px, target.rotation, wanted)
            if self.config.mouth_from_closed:
                wanted_mouth = wanted_mouth_opening(unposed_px, driver.mouth_opening, limits)
                shape_px = set_mouth_opening(shape_px, target.rotation, wanted_mouth)
            if self._mouth_response is not None:
                shape_px = correct_mouth_opening(shape_px, target.rotation, self._mouth_response)
        rotation, pose_clamped = self.range.rotation(cv2.Rodrigues(pose_vector[:3])[0])
        shift_px, scale = self.range.shift_and_scale(pose_vector[3:6] * target.size_px, float(pose_vector[6]))
        posed_px = scale * (shape_px - target.centre_px) @ rotation.T + target.centre_px + shift_px
        posed_px, self.last_shape_distance_px = self.range.shape(
            posed_px, rotation @ target.rotation, self.config.mode == "full"
        )
        self.statistics.count(self.range.outside(pose_clamped, self.last_shape_distance_px))
        return posed_px

    def _publish_status(self) -> None:
        self._status = self.statistics.status_line(self.config.mode, self.neutral, self.config.calibration_s)

    def close(self) -> None:
        """Nothing to release; present so every stage has the same shape."""
