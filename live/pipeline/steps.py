"""The per-frame steps of the pipeline, shared by the threaded pipeline and the sequential loop.

Track (landmarks) -> Sketch (retarget, head crop + draw_sketch) -> Render (generator + paste-back
into the target's frame, or the no-face fallback). Each step records its time in PipelineStats. A
`StageLoop` runs one step on its own thread between two ring buffers.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Generic, Protocol, TypeVar

import numpy as np

from live.engines.landmarks import LandmarkDetector
from live.face.alignment import HEAD_TEMPLATE, HeadFollower, HeadTemplate
from live.face.body import BodyFollower, BodyPlate
from live.face.corner_warp import CornerWarp
from live.face.eye_warp import EyeWarp
from live.face.head_plate import HeadPlate, in_plate
from live.face.retarget import Retargeter
from live.face.teeth import teeth_share
from live.formats.card import ModelCard
from live.formats.sketch import SKETCH_FORMAT_VERSION, TEETH_SKETCH_VERSION, draw_sketch
from live.pipeline.face_hold import NO_FACE_HOLD_S, FaceHold
from live.pipeline.matting import Matting
from live.pipeline.messages import Frame, Rendered, Sketched, Tracked
from live.pipeline.paste_back import PasteBack
from live.pipeline.ringbuffer import RingBuffer
from live.pipeline.stats import Event, PipelineStats

GET_TIMEOUT_S = 0.25  # a stage re-checks the stop event this often even if no buffer is closed

Incoming = TypeVar("Incoming")
Outgoing = TypeVar("Outgoing")


class BufferPool:
    """Reusable (S, S, 3) uint8 sketch buffers.

    A buffer goes back to the pool only when its last user calls release(), so
    a sketch still queued or on screen is never drawn over. Buffers of dropped
    frames are never released: the garbage collector takes them and the pool
    allocates a new one.
    """

    def __init__(self, size_px: int) -> None:
        self.shape = (size_px, size_px, 3)
        self._free: deque[np.ndarray] = deque()

    def acquire(self) -> np.ndarray:
        """A free buffer, or a new one."""
        try:
            return self._free.pop()
        except IndexError:
            return np.zeros(self.shape, dtype=np.uint8)

    def release(self, buffer: np.ndarray | None) -> None:
        """Give a buffer back (None is ignored); the caller must not touch it afterwards."""
        if buffer is not None and buffer.shape == self.shape:
            self._free.append(buffer)


def elapsed_ms(start_s: float) -> float:
    """Milliseconds since `start_s` (perf_counter)."""
    return (time.perf_counter() - start_s) * 1000.0


class TrackStep:
    """Frame -> Tracked: the largest face's landmarks, or None."""

    def __init__(self, detector: LandmarkDetector, stats: PipelineStats) -> None:
        self.detector = detector
        self.stats = stats

    def __call__(self, frame: Frame) -> Tracked:
        start_s = time.perf_counter()
        landmarks_px = self.detector.detect(frame.image_bgr)
        duration_ms = elapsed_ms(start_s)
        self.stats.record_stage("landmarks", duration_ms)
        if landmarks_px is None:
            self.stats.count(Event.FACE_LOST)
        return Tracked(frame, landmarks_px, duration_ms)


class SketchStep:
    """Tracked -> Sketched: retarget onto the model's square, place the result in the target's frame, find
    the head crop that follows it (live.face.alignment.HeadFollower), then draw the sketch in that crop."""

    def __init__(
        self,
        retargeter: Retargeter,
        size_px: int,
        pool: BufferPool,
        stats: PipelineStats,
        follower: HeadFollower | None = None,
        body: BodyFollower | None = None,
    ) -> None:
        self.retargeter = retargeter
        self.size_px = size_px
        self.pool = pool
        self.stats = stats
        self.body = body
        card = retargeter.card
        template = HeadTemplate.from_dict(card.template) if card.template else HEAD_TEMPLATE
        self.follower = follower or HeadFollower(np.asarray(card.neutral_transform), size_px, template=template)

    def __call__(self, tracked: Tracked) -> Sketched:
        frame = tracked.frame
        if tracked.landmarks_px is None:
            self.retargeter.no_face()  # resets its smoothing and an unfinished calibration
            self.follower.reset()
            return Sketched(frame, None, None, None, {"landmarks": tracked.landmarks_ms})
        start_s = time.perf_counter()
        transform, crop_px, body_shift_px = self.place(frame, tracked.landmarks_px)
        retarget_ms = elapsed_ms(start_s)
        start_s = time.perf_counter()
        version = self.retargeter.card.sketch_format_version  # the format the model was trained on
        drawn = version >= TEETH_SKETCH_VERSION and self.retargeter.config.teeth
        teeth = teeth_share(frame.image_bgr, tracked.landmarks_px) if drawn else 0.0
        sketch_bgr = draw_sketch(crop_px, self.size_px, self.pool.acquire(), version, teeth_share=teeth)
        sketch_ms = elapsed_ms(start_s)
        self.stats.record_stage("retarget", retarget_ms)
        self.stats.record_stage("sketch", sketch_ms)
        stage_ms = {"landmarks": tracked.landmarks_ms, "retarget": retarget_ms, "sketch": sketch_ms}
        return Sketched(frame, tracked.landmarks_px, crop_px, sketch_bgr, stage_ms, transform, body_shift_px)

    def place(
        self, frame: Frame, landmarks_px: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, tuple[float, float] | None]:
        """The retarget stage's work (timed as "retarget"): the target's landmarks for the driver's, the head
        crop that follows them (transform, landmarks in the crop) and the body's shift."""
        target_px = self.retargeter.retarget(landmarks_px, frame.image_bgr.shape, frame.t_stream_s)
        transform, crop_px = self.follower.follow(target_px, frame.t_stream_s)
        return transform, crop_px, self._body_shift(frame, landmarks_px, target_px)

    def _body_shift(self, frame: Frame, driver_px: np.ndarray, target_px: np.ndarray) -> tuple[float, float] | None:
        """The body's shift (timed with the retarget stage); its reference is taken once calibration ends."""
        if self.body is None:
            return None
        if self.retargeter.calibrating:
            self.body.reset()
            return None
        return self.body.follow(frame.image_bgr, driver_px, target_px, frame.t_stream_s)


class Generator(Protocol):
    """What the render step needs of live.engines.generator.GeneratorSession."""

    card: ModelCard
    plate_bgr: np.ndarray
    neutral_transform: np.ndarray

    def generate(
        self, sketch_bgr: np.ndarray, out_bgr: np.ndarray | None = None, plate_bgr: np.ndarray | None = None
    ) -> np.ndarray: ...


class RenderStep:
    """Sketched -> Rendered: the generator's head crop painted over the plate in that crop, pasted back into
    the target's own frame (live.pipeline.paste_back, timed as its own stage "paste_back"); without a face,
    the last good frame for up to `hold_s` (capture time), then the target's neutral face (FaceHold). Never
    the camera image. Several workers (live.pipeline.workers) each `render` with their own generator and
    share one FaceHold, applied in capture order."""

    def __init__(
        self,
        generator: Generator,
        neutral_bgr: np.ndarray,
        stats: PipelineStats,
        hold_s: float = NO_FACE_HOLD_S,
        paste_back: PasteBack | None = None,
        body_plate: BodyPlate | None = None,
        eye_warp: EyeWarp | None = None,
        head_plate: HeadPlate | None = None,
        corner_warp: CornerWarp | None = None,
        matting: Matting | None = None,
        neutral_alpha: np.ndarray | None = None,
    ) -> None:
        self.generator = generator
        self.matting = matting
        self.neutral_alpha = neutral_alpha
        self.eye_warp = eye_warp
        self.corner_warp = corner_warp
        self.head_plate = head_plate
        self.neutral_bgr = neutral_bgr
        self.stats = stats
        self.paste_back = paste_back or PasteBack(generator.plate_bgr, generator.card.size_px)
        self.body_plate = body_plate
        self.hold_s = hold_s
        self.hold: FaceHold | None = None  # made at the first __call__: workers only `render`

    def __call__(self, sketched: Sketched) -> Rendered:
        if self.hold is None:
            self.hold = FaceHold(self.neutral_bgr, self.stats, self.hold_s, self.neutral_alpha)
        return self.hold(self.render(sketched))

    def render(self, sketched: Sketched) -> Rendered:
        """The frame with the generated head pasted back; without a face, the neutral face (for FaceHold)."""
        frame = sketched.frame
        if sketched.sketch_bgr is None:
            return Rendered(frame, None, self.neutral_bgr, False, dict(sketched.stage_ms), self.neutral_alpha)
        transform = self.generator.neutral_transform if sketched.crop_transform is None else sketched.crop_transform
        plate_bgr, shift_px, landmarks_px, stage_ms = self._plate(sketched, transform)
        start_s = time.perf_counter()
        plate_crop_bgr = self.paste_back.plate_crop(transform, plate_bgr=plate_bgr)
        crop_bgr = self.generator.generate(sketched.sketch_bgr, plate_bgr=plate_crop_bgr)
        stage_ms["generator"] = elapsed_ms(start_s)
        self.stats.record_stage("generator", stage_ms["generator"])
        for name, warp in (("eye_warp", self.eye_warp), ("corner_warp", self.corner_warp)):
            if warp is not None and sketched.target_landmarks_px is not None:
                start_s = time.perf_counter()
                crop_bgr = warp.apply(crop_bgr, sketched.target_landmarks_px)
                stage_ms[name] = elapsed_ms(start_s)
                self.stats.record_stage(name, stage_ms[name])
        start_s = time.perf_counter()
        output_bgr = self.paste_back.paste(crop_bgr, plate_crop_bgr, transform, plate_bgr=plate_bgr)
        stage_ms["paste_back"] = elapsed_ms(start_s)
        self.stats.record_stage("paste_back", stage_ms["paste_back"])
        alpha = None
        if self.matting is not None:
            start_s = time.perf_counter()
            output_bgr, alpha = self.matting.apply(output_bgr, shift_px, landmarks_px)
            stage_ms["matte"] = elapsed_ms(start_s)
            self.stats.record_stage("matte", stage_ms["matte"])
        return Rendered(frame, sketched.sketch_bgr, output_bgr, True, stage_ms, alpha)

    def _plate(
        self, sketched: Sketched, transform: np.ndarray
    ) -> tuple[np.ndarray | None, tuple[float, float] | None, np.ndarray | None, dict[str, float]]:
        """This frame's plate (None: the still one): the body moved, then the plate's head bent onto the avatar's
        (timed as "head_plate"); the body's shift as composed, the avatar's landmarks in plate pixels (None
        without head follow or matting), and the stage times so far."""
        start_s = time.perf_counter()
        plate_bgr, shift_px = None, None
        if self.body_plate is not None and sketched.body_shift_px is not None:
            shift_px = self.body_plate.rounded(sketched.body_shift_px)
            plate_bgr = self.body_plate.shifted(shift_px)
        needs_landmarks = self.head_plate is not None or self.matting is not None
        if not needs_landmarks or sketched.target_landmarks_px is None:
            return plate_bgr, shift_px, None, dict(sketched.stage_ms)
        landmarks_px = in_plate(sketched.target_landmarks_px, transform)
        if self.head_plate is None:
            return plate_bgr, shift_px, landmarks_px, dict(sketched.stage_ms)
        plate_bgr = self.head_plate.follow(landmarks_px, plate_bgr, shift_px)
        head_plate_ms = elapsed_ms(start_s)
        self.stats.record_stage("head_plate", head_plate_ms)
        return plate_bgr, shift_px, landmarks_px, {**sketched.stage_ms, "head_plate": head_plate_ms}


def neutral_face_bgr(
    generator: Generator, neutral_landmarks_px: np.ndarray, size_px: int, sketch_version: int = SKETCH_FORMAT_VERSION
) -> np.ndarray:
    """The target's neutral face in its own frame: the card's neutral landmarks, sketched (in the model's
    format), generated in the usual crop and pasted back into the plate, once."""
    crop_bgr = generator.generate(draw_sketch(neutral_landmarks_px, size_px, version=sketch_version))
    paste_back = PasteBack(generator.plate_bgr, size_px)
    return paste_back.paste(crop_bgr, paste_back.plate_crop(generator.neutral_transform), generator.neutral_transform)


class StageLoop(Generic[Incoming, Outgoing]):
    """A thread body: take from `inbox`, apply `step`, put into `outbox`, until the inbox
    is finished (end of input) or the stop event is set."""

    def __init__(
        self,
        inbox: RingBuffer[Incoming],
        step: Callable[[Incoming], Outgoing],
        outbox: RingBuffer[Outgoing],
        stop: threading.Event,
    ) -> None:
        self.inbox = inbox
        self.step = step
        self.outbox = outbox
        self.stop = stop

    def run(self) -> None:
        """Process items until there are no more."""
        while not self.stop.is_set():
            item = self.inbox.get(GET_TIMEOUT_S)
            if item is None:
                if self.inbox.finished:
                    return
                continue
            self.outbox.put(self.step(item))
