"""What a run opens before its threads start: the configuration, the per-frame components, and their status."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field, replace

import cv2
import numpy as np

from live.engines.generator import GeneratorSession, GeneratorSessionConfig, default_intra_op_threads
from live.engines.landmarks import LandmarkConfig, LandmarkDetector
from live.engines.segmentation import PersonSegmenter
from live.errors import UsageError
from live.face.background import Background
from live.face.body import BodyFollower, BodyPlate
from live.face.corner_warp import CornerResponse, CornerWarp
from live.face.eye_warp import EyeResponse, EyeWarp
from live.face.head_plate import HeadPlate, in_plate
from live.face.mouth_response import MouthResponse
from live.face.retarget import RetargetConfig, Retargeter
from live.formats.card import ModelCard
from live.io.calibration_file import CalibrationFile
from live.pipeline.matting import Matting, open_matting
from live.pipeline.stats import PipelineStats, Status
from live.pipeline.steps import (
    NO_FACE_HOLD_S,
    RenderStep,
    neutral_face_bgr,
)


@dataclass(frozen=True, slots=True)
class PipelineConfig:
    """How a run is wired (built by the CLI or by `live bench`).

    pace: deliver video files and folders at their own frame rate (cameras are never paced).
    lossless: buffers wait instead of dropping (offline runs where every frame must be rendered).
    buffer_capacity: items each buffer holds before dropping the oldest (1 = always the newest).
    no_face_hold_s: how long the last good output is held when the face is lost.
    max_frames: stop after this many captured frames (0: no limit).
    keep_alive_fps: the rate at which the last frame is re-sent to virtual cameras.
    generator_workers: generator threads, each with its own session, rendering frames side by side
        (live.pipeline.workers; 0: default_generator_workers()), each with `generator.intra_op_threads`
        (0: worker_threads()). The sequential loop uses one.
    eye_warp: move the generated lids to the asked eye opening by the card's eye response
        (live.face.eye_warp; nothing for a card without one); eye_response: instead of the card's (fitting one).
    mouth_response: instead of the card's, for the retargeter (fitting one; live.face.mouth_response).
    corner_warp: move the generated mouth corners to the asked lift by the card's corner response
        (live.face.corner_warp; nothing for a card without one); corner_response: instead of the card's.
    head_follow: bend the plate's own head to where the avatar's head is before the generator paints over it
        (live.face.head_plate; its own head is where the card's neutral face sits in the neutral crop).
    background: what is behind the person (live.face.background; the default, the plate's own, costs nothing).
    """

    generator: GeneratorSessionConfig
    landmarks: LandmarkConfig = field(default_factory=LandmarkConfig)
    retarget: RetargetConfig = field(default_factory=RetargetConfig)
    pace: bool = True
    lossless: bool = False
    buffer_capacity: int = 1
    no_face_hold_s: float = NO_FACE_HOLD_S
    max_frames: int = 0
    keep_alive_fps: float = 30.0
    generator_workers: int = 0
    eye_warp: bool = True
    eye_response: EyeResponse | None = None
    mouth_response: MouthResponse | None = None
    head_follow: bool = True
    corner_warp: bool = True
    corner_response: CornerResponse | None = None
    background: Background = field(default_factory=Background)


MAX_WORKER_THREADS = 4


def default_generator_workers() -> int:
    """2 from 2 cores up, else 1. On 2 cores, two workers of 1 thread each ran 8-12% more frames per second
    than one of 2 threads, at the same paced latency (README, "Measured on a 2-core CPU")."""
    return 2 if (os.cpu_count() or 1) >= 2 else 1


def worker_threads(workers: int) -> int:
    """Each generator session's threads when not given: one worker gets default_intra_op_threads(); several
    share the cores (1 each on 2 cores, 2 each on 4; at most 4)."""
    if workers <= 1:
        return default_intra_op_threads()
    return max(1, min(MAX_WORKER_THREADS, (os.cpu_count() or 1) // workers))


@dataclass(slots=True)
class Stages:
    """The opened per-frame components of a run; close() releases them."""

    sessions: tuple[GeneratorSession, ...]  # one per generator worker
    detector: LandmarkDetector
    retargeter: Retargeter
    card: ModelCard
    neutral_bgr: np.ndarray
    calibration_file: CalibrationFile | None = None
    body_follower: BodyFollower | None = None  # with retarget.body_follow: the driver's body moves the plate's
    body_plate: BodyPlate | None = None
    segmenter: PersonSegmenter | None = None
    eye_warp: EyeWarp | None = None  # with config.eye_warp and a card with an eye response
    head_plate: HeadPlate | None = None  # with config.head_follow
    corner_warp: CornerWarp | None = None  # with config.corner_warp and a card with a corner response
    matting: Matting | None = None  # with a background other than the plate's own
    neutral_alpha: np.ndarray | None = None  # the neutral face's matte, with a transparent background

    @property
    def session(self) -> GeneratorSession:
        """The first generator session (the sequential loop's, and the one describing the device)."""
        return self.sessions[0]

    def render_step(
        self, session: GeneratorSession, stats: PipelineStats, hold_s: float = NO_FACE_HOLD_S
    ) -> RenderStep:
        """A render step of one generator session, with this run's body plate and eye warp."""
        return RenderStep(
            session,
            self.neutral_bgr,
            stats,
            hold_s,
            body_plate=self.body_plate,
            eye_warp=self.eye_warp,
            head_plate=self.head_plate,
            corner_warp=self.corner_warp,
            matting=self.matting,
            neutral_alpha=self.neutral_alpha,
        )

    def save_new_calibration(self) -> None:
        """Write a calibration the retargeter finished (main thread: no file IO on the tracking thread)."""
        if self.calibration_file is not None:
            self.calibration_file.write_new(self.retargeter)

    def close(self) -> None:
        """Release MediaPipe and ONNX Runtime; idempotent."""
        self.retargeter.close()
        self.detector.close()
        if self.segmenter is not None:
            self.segmenter.close()
        for session in self.sessions:
            session.close()


@contextmanager
def open_stages(config: PipelineConfig) -> Iterator[Stages]:
    """Load the generator (one session per worker; UsageError for a bad model or device), the detector and
    the retargeter, and render the target's neutral face once. OpenCV's own thread pool is turned off: on 2
    cores it only competes with the pipeline's own threads (an earlier `live bench` measured paste-back slower
    with it)."""
    cv2.setNumThreads(1)
    with ExitStack() as stack:
        workers = config.generator_workers or default_generator_workers()
        if workers < 1:
            raise UsageError(f"generator workers must be 1 or more (0: automatic), got {workers}")
        generator = config.generator
        if not generator.intra_op_threads:
            generator = replace(generator, intra_op_threads=worker_threads(workers))
        sessions = tuple(stack.enter_context(GeneratorSession(generator)) for _ in range(workers))
        session = sessions[0]
        detector = stack.enter_context(LandmarkDetector(config.landmarks))
        retargeter = stack.enter_context(Retargeter(config.retarget, session.card, config.mouth_response))
        calibration_file = CalibrationFile(config.retarget.calibration_path)
        calibration_file.load_into(retargeter)
        card = session.card
        neutral_bgr = neutral_face_bgr(session, card.neutral_landmarks_px, card.size_px, card.sketch_format_version)
        stages = Stages(sessions, detector, retargeter, session.card, neutral_bgr, calibration_file)
        response = config.eye_response or EyeResponse.from_card(card.eye_response)
        if config.eye_warp and response is not None:
            stages.eye_warp = EyeWarp(response)
        corners = config.corner_response or CornerResponse.from_card(card.corner_response)
        if config.corner_warp and corners is not None:
            stages.corner_warp = CornerWarp(corners, card.neutral_landmarks_px)
        _add_plate_followers(stack, stages, config)
        yield stages


def _add_plate_followers(stack: ExitStack, stages: Stages, config: PipelineConfig) -> None:
    """The body plate and follower, the head plate and the matting a run asks for, from the plate's person
    (segmented once); a matted background also makes the neutral face's matte (or composite)."""
    if not (config.retarget.body_follow or config.head_follow or config.background.matted):
        return
    stages.segmenter = stack.enter_context(PersonSegmenter())
    card, plate_bgr = stages.card, stages.session.plate_bgr
    person_mask = stages.segmenter.person_mask(plate_bgr)
    plate_head_px = in_plate(card.neutral_landmarks_px, card.neutral_transform)
    if config.retarget.body_follow:
        stages.body_plate = BodyPlate(plate_bgr, person_mask)
        stages.body_follower = BodyFollower(stages.segmenter.person_mask, plate_bgr.shape[0])
    if config.head_follow:
        stages.head_plate = HeadPlate(plate_bgr, person_mask, plate_head_px)
    if config.background.matted:
        stages.matting = open_matting(config.background, plate_bgr, person_mask, stages.head_plate, plate_head_px)
        stages.neutral_bgr, stages.neutral_alpha = stages.matting.apply(stages.neutral_bgr, None, plate_head_px)


def describe_stages(stats: PipelineStats, stages: Stages) -> None:
    """Put the execution provider and retarget status on the dashboard."""
    stats.set_text(Status.PROVIDER, stages.session.provider)
    stats.set_text(Status.PROVIDER_NOTE, stages.session.provider_note)
    stats.set_text(Status.RETARGET, retarget_status(stages.retargeter))


def retarget_status(retargeter: Retargeter) -> str:
    """The retargeter's calibration status line."""
    return retargeter.calibration_status
