"""Retarget stage: driver landmarks (camera pixels) -> target landmarks (model pixels).

Modes (RetargetConfig.mode, `live run --retarget`):
    off:  the driver's raw landmarks, its frame's centre square mapped onto the
          model's square (what the face2face-style seeds did: the target takes
          on the driver's face shape and position, and trembles with it).
    pose: the target's neutral face, turned, moved and scaled as the driver's
          head is relative to the driver's own neutral.
    full: pose plus expression: the driver's displacement from its neutral, in
          the pose-free face frame, scaled region by region (brows, eyes, nose,
          mouth, jaw) by the target-to-driver size ratio and added to the
          target's neutral shape before it is posed.
The target's head angles are clamped to the card's pose_range_deg (the poses the
generator saw in training); its shift and scale to the config's limits.

The driver's neutral comes from the first `calibration_s` of continuously tracked
frames (live/calibration.py). Until then `pose` and `full` output the target's
neutral face, unposed. Pose and expression are smoothed by separate One Euro
filters (live/smoothing.py), so fast mouth motion is not lagged by the head's
heavier smoothing. Threads: retarget()/no_face() belong to the pipeline's worker;
recalibrate() may be called from any thread (it only sets an Event).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from live.errors import UsageError
from live.face.calibration import (
    CALIBRATION_HINT,
    NeutralCalibration,
    load_calibration,
    neutral_for_frame,
    save_calibration,
)
from live.face.expression_transfer import (
    ExpressionRange,
    clamp_openings,
    keep_local_shape,
    set_eye_openings,
    wanted_eye_openings,
)
from live.face.pose import ANGLE_NAMES, angles_from_rotation_deg, estimate_pose, rotation_from_angles_deg
from live.face.regions import REGION_NAMES, FaceReference, face_reference, region_labels
from live.face.shape_space import ShapeSpace
from live.face.smoothing import OneEuroFilter, OneEuroParameters
from live.formats.card import ModelCard

RETARGET_MODES = ("off", "pose", "full")
# Regions that do not deform with expression: whatever MediaPipe reports there as "expression"
# is its shape estimate changing with head pitch (the nose measured up to 9% longer on a tilted
# head), and would leak into the target's identity. They follow the head pose only.
RIGID_REGIONS = ("nose",)
# A frame counts as "outside the avatar's training range" (shown on the dashboard) when the
# pose clamp cut more than this many degrees, or the shape space changed the sketch's shape
# by more than this many pixels on average (the default avatar driven by its own clip:
# 0.49 px median, 0.66 px at the 99th percentile; by the other recording: 1.24 / 2.03 px).
OUTSIDE_POSE_DEG = 5.0
OUTSIDE_SHAPES_PX = 1.5


@dataclass(frozen=True, slots=True)
class RetargetConfig:
    """How driver landmarks become target landmarks.

    mode: off, pose or full (module docstring).
    calibration_s: seconds of continuously tracked frames averaged into the driver's neutral.
    calibration_path: JSON file; loaded at start when it exists (no calibration wait),
        written after every calibration (`live run --calibration FILE`).
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
                "retarget limits must be positive: calibration seconds > 0, max scale change >= 1, shift and margin >= 0"
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


def centre_square_to_model(landmarks_px: np.ndarray, frame_shape: tuple[int, ...], size_px: int) -> np.ndarray:
    """Map landmarks from a frame's centred square crop onto a size_px square."""
    height_px, width_px = frame_shape[:2]
    side_px = min(height_px, width_px)
    offset = np.array([(width_px - side_px) / 2, (height_px - side_px) / 2, 0.0], dtype=np.float32)
    return (landmarks_px - offset) * np.float32(size_px / side_px)


def pose_limits_deg(card: ModelCard, margin_deg: float) -> np.ndarray:
    """(3, 2) [lo, hi] for yaw, pitch, roll from the card, widened by margin_deg."""
    try:
        limits = np.array(
            [[float(card.pose_range_deg[name][0]), float(card.pose_range_deg[name][1])] for name in ANGLE_NAMES]
        )
    except (KeyError, IndexError, TypeError, ValueError) as error:
        raise UsageError(
            f"model card {card.name!r}: pose_range_deg must map yaw, pitch and roll to [lo, hi] ({error!r}); re-export it"
        ) from error
    return limits + np.array([-margin_deg, margin_deg])


class Retargeter:
    """Turns each frame's driver landmarks into target landmarks in the model's pixels."""

    def __init__(self, config: RetargetConfig, card: ModelCard) -> None:
        self.config = config
        self.card = card
        self._labels = region_labels(card.neutral_landmarks_px)
        self._expression_weight = (~np.isin(self._labels, [REGION_NAMES.index(name) for name in RIGID_REGIONS])).astype(
            np.float64
        )
        self._target = face_reference(card.neutral_landmarks_px, self._labels)
        if not (np.isfinite(self._target.rotation).all() and self._target.size_px > 0):
            raise UsageError(
                f"model card {card.name!r}: its neutral landmarks are not a face; re-export it with `live export`"
            )
        self._limits_deg = pose_limits_deg(card, config.pose_margin_deg)
        self._shape_space = ShapeSpace.from_dict(card.shape_space) if config.shape_clamp else None
        self._range = ExpressionRange.from_card(card.expression_range, card.neutral_landmarks_px)
        self.last_shape_distance_px = 0.0
        self.frames_retargeted = 0
        self.frames_outside_training = 0
        self._calibration = NeutralCalibration(config.calibration_s)
        self._recalibrate = threading.Event()
        self._neutral_px: np.ndarray | None = None
        self._neutral_frame_size = (0, 0)
        self._driver: FaceReference | None = None
        self._driver_frame_shape: tuple[int, ...] = ()
        self._last_t_s = float("-inf")
        self._source = ""
        self._pose_filter = OneEuroFilter(
            OneEuroParameters(config.pose_min_cutoff_hz, config.pose_beta, config.pose_derivative_cutoff_hz)
        )
        self._expression_filter = OneEuroFilter(
            OneEuroParameters(
                config.expression_min_cutoff_hz, config.expression_beta, config.expression_derivative_cutoff_hz
            )
        )
        if config.mode != "off" and config.calibration_path and Path(config.calibration_path).exists():
            self.load_calibration(config.calibration_path)

    @property
    def calibrating(self) -> bool:
        """True while pose/full waits for the driver's neutral (outputs the target's neutral)."""
        return self.config.mode != "off" and self._neutral_px is None

    @property
    def calibration_status(self) -> str:
        """One line for the dashboard and the window."""
        if self.config.mode == "off":
            return "retarget off: raw driver landmarks"
        if self._neutral_px is None:
            return f"{CALIBRATION_HINT} ({self._calibration.collected_s:.1f}/{self.config.calibration_s:.1f} s)"
        status = f"retarget {self.config.mode}: calibrated{self._source} (press c to recalibrate)"
        if self.frames_outside_training:
            share = self.frames_outside_training / max(1, self.frames_retargeted)
            status += f"; driver outside the avatar's training range on {share:.0%} of frames (clamped)"
        return status

    def recalibrate(self) -> None:
        """Forget the driver's neutral and calibrate again from the next tracked frames (any thread)."""
        self._recalibrate.set()

    def no_face(self) -> None:
        """Tracking lost: reset the filters and restart an unfinished calibration."""
        self._pose_filter.reset()
        self._expression_filter.reset()
        self._calibration.reset()

    def use_neutral(self, neutral_px: np.ndarray, frame_shape: tuple[int, ...], source: str = "") -> None:
        """Take a known driver neutral ((478, 3) pixels of a frame of frame_shape) instead of calibrating."""
        self._neutral_px = np.asarray(neutral_px, dtype=np.float32)
        self._neutral_frame_size = (int(frame_shape[0]), int(frame_shape[1]))
        self._driver = None
        self._source = source
        self.no_face()

    def load_calibration(self, path: str | Path) -> None:
        """Use a saved driver neutral; UsageError when the file is unusable."""
        neutral_px, frame_size = load_calibration(path)
        self.use_neutral(neutral_px, frame_size, f" from {path}")

    def save_calibration(self, path: str | Path) -> None:
        """Write the driver's neutral as JSON; UsageError before calibration finished."""
        if self._neutral_px is None:
            raise UsageError(f"cannot save calibration to {path}: calibration has not finished yet")
        save_calibration(path, self._neutral_px, self._neutral_frame_size)

    def retarget(self, landmarks_px: np.ndarray, frame_shape: tuple[int, ...], t_capture_s: float) -> np.ndarray:
        """Target landmarks (478, 3) float32 in pixels of the model's square for one tracked frame."""
        if self.config.mode == "off":
            return centre_square_to_model(landmarks_px, frame_shape, self.card.size_px)
        if self._recalibrate.is_set():
            self._recalibrate.clear()
            self._neutral_px, self._driver, self._source = None, None, ""
            self.no_face()
        if t_capture_s - self._last_t_s > self.config.max_gap_s:
            self.no_face()
        self._last_t_s = t_capture_s
        driver = self._driver_reference(landmarks_px, frame_shape, t_capture_s)
        if driver is None:
            return self._target.neutral_px.astype(np.float32)
        return self._retarget_calibrated(landmarks_px.astype(np.float64), driver, t_capture_s)

    def _driver_reference(
        self, landmarks_px: np.ndarray, frame_shape: tuple[int, ...], t_s: float
    ) -> FaceReference | None:
        if self._neutral_px is None:
            neutral_px = self._calibration.add(landmarks_px, t_s)
            if neutral_px is None:
                return None
            self.use_neutral(neutral_px, frame_shape)
            if self.config.calibration_path:
                self.save_calibration(self.config.calibration_path)
        if self._driver is None or self._driver_frame_shape != tuple(frame_shape[:2]):
            neutral_px = neutral_for_frame(self._neutral_px, self._neutral_frame_size, frame_shape)
            self._driver = face_reference(neutral_px, self._labels)
            self._driver_frame_shape = tuple(frame_shape[:2])
        return self._driver

    def _retarget_calibrated(self, landmarks_px: np.ndarray, driver: FaceReference, t_s: float) -> np.ndarray:
        pose = estimate_pose(landmarks_px, driver.neutral_px)
        rotation_vector = cv2.Rodrigues(pose.rotation)[0].ravel()
        centre_px = pose.scale * pose.rotation @ driver.centre_px + pose.translation_px
        shift = (centre_px - driver.centre_px) / driver.size_px
        pose_vector = np.concatenate([rotation_vector, shift, [np.log(pose.scale)]])
        if self.config.smoothing:
            pose_vector = self._pose_filter.filter(pose_vector, t_s)
        target = self._target
        shape_px = target.neutral_px
        if self.config.mode == "full":
            unposed_px = pose.inverse().apply(landmarks_px)
            expression = (unposed_px - driver.neutral_px) @ driver.rotation / driver.size_px
            if self.config.smoothing:
                expression = self._expression_filter.filter(expression, t_s)
            gain_px = driver.size_px * target.region_size_px / driver.region_size_px * self._expression_weight
            shape_px = shape_px + (expression @ target.rotation.T) * gain_px[:, None]
            driver_shape_px = driver.neutral_px + (expression @ driver.rotation.T) * driver.size_px
            wanted = wanted_eye_openings(driver_shape_px, driver.neutral_px, target.neutral_px, self._range)
            shape_px = set_eye_openings(shape_px, target.rotation, wanted)
        rotation, pose_clamped = self._clamped_rotation(cv2.Rodrigues(pose_vector[:3])[0])
        limit_px = self.config.max_shift_fraction * self.card.size_px
        shift_px = np.clip(pose_vector[3:6] * target.size_px, -limit_px, limit_px)
        scale = float(np.clip(np.exp(pose_vector[6]), 1.0 / self.config.max_scale_change, self.config.max_scale_change))
        posed_px = (scale * (shape_px - target.centre_px) @ rotation.T + target.centre_px + shift_px).astype(np.float32)
        if self._shape_space is not None:
            projected_px, self.last_shape_distance_px = self._shape_space.project(posed_px, self.config.shape_margin)
            posed_px = keep_local_shape(projected_px, posed_px)
        if self.config.mode == "full":
            posed_px = clamp_openings(posed_px, rotation @ target.rotation, self._range).astype(np.float32)
        self.frames_retargeted += 1
        self.frames_outside_training += pose_clamped or self.last_shape_distance_px > OUTSIDE_SHAPES_PX
        return posed_px

    def _clamped_rotation(self, driver_rotation: np.ndarray) -> tuple[np.ndarray, bool]:
        """The driver's rotation change applied to the target, its result clamped to the pose limits;
        and whether the clamp cut more than OUTSIDE_POSE_DEG off any angle."""
        target_angles_deg = angles_from_rotation_deg(driver_rotation @ self._target.rotation)
        clamped_deg = np.clip(target_angles_deg, self._limits_deg[:, 0], self._limits_deg[:, 1])
        clamped = bool(np.abs(clamped_deg - target_angles_deg).max() > OUTSIDE_POSE_DEG)
        return rotation_from_angles_deg(*clamped_deg) @ self._target.rotation.T, clamped

    def close(self) -> None:
        """Nothing to release; present so every stage has the same shape."""

    def __enter__(self) -> "Retargeter":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
