"""`live record`: a guided recording of the person who will become an avatar.

Frames come from a camera, a video file or a pipe (live.io.sources), each is written to the video at the
camera's own size (live.io.record_writer), measured as `live prepare` will measure it (record_observe) and
added to the coverage meter (live.face.coverage), and the script's prompt advances when its bins are full or
it times out (record_script). A window (live.io.sinks, needs a display) shows the prompt, the meter and one
line per bad condition; without one (`window=False`) the same happens and the log says it. Stopping early
(q, Esc, closing the window, Ctrl-C, the end of a file) keeps every frame recorded so far. At the end the
sidecar (live.formats.sidecar) is written beside the video, and the end screen says what is still missing.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from live.engines.landmarks import LandmarkConfig, LandmarkDetector
from live.errors import UsageError
from live.face.coverage import CoverageMeter
from live.formats.dataset import sha256_of_file
from live.formats.sidecar import RecordingSidecar, sidecar_path, write_sidecar
from live.io.record_writer import RecordingWriter
from live.io.sinks import SinkConfig, WindowSink
from live.io.sources import Source, SourceConfig, describe_source, open_source
from live.io.video_writer import VideoWriteError, even_size_px
from live.pipeline.capture import fitted_frame
from live.ui.record_checks import check_record_paths, display_error, end_lines
from live.ui.record_observe import MINIMUM_FPS, ConditionTracker, RateMeter, observe
from live.ui.record_screen import ScreenView, draw_end_screen, draw_screen, screen_size_px
from live.ui.record_script import PromptRunner, pick_neutral, script_prompts

WARMUP_S = 2.0  # a camera's frame rate is measured this long before recording starts
FPS_TRUSTED_WITHIN = 0.2  # the camera's own figure is used when the measured rate is this close to it
SLOW_AFTER_FRAMES = 30  # the rate is judged once this many frames came
STOP_KEYS = {ord("q"), 27}
SKIP_KEYS = {ord(" "), ord("n")}
Log = Callable[[str], None]


def _log_to_stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


@dataclass(frozen=True, slots=True)
class RecordConfig:
    """out: the video (.mp4 or .avi); source: a camera index, video file or pipe; window: show the prompts
    (False: log only); max_frames: stop after this many (0: the script's end); size_px: the head crop
    `live prepare --size` will cut (coverage is measured in it); width_px / height_px / fps: asked of a camera
    (0: its default); end_screen_s: the end screen's longest stay; overwrite: replace an existing video."""

    out: Path
    consent: str
    source: str = "0"
    window: bool = True
    max_frames: int = 0
    size_px: int = 256
    width_px: int = 0
    height_px: int = 0
    fps: float = 0.0
    end_screen_s: float = 20.0
    overwrite: bool = False


@dataclass
class RecordResult:
    """What was written, and the lines of the end screen."""

    video: Path
    sidecar: RecordingSidecar
    end_lines: list[str] = field(default_factory=list)


def record(config: RecordConfig, log: Log = _log_to_stderr, camera_opener: Callable = cv2.VideoCapture) -> RecordResult:
    """Run the guided recording; UsageError (one line) on bad input, before the camera opens."""
    consent = check_record_paths(config)
    if config.window and (problem := display_error()):
        raise UsageError(problem)
    source_config = SourceConfig(config.source, config.width_px, config.height_px, config.fps)
    window = None
    try:
        with (
            open_source(source_config, camera_opener) as source,
            LandmarkDetector(LandmarkConfig(max_faces=2)) as detector,
        ):
            if config.window:
                window = WindowSink(SinkConfig(kind="window"), screen_size_px(source.size_px), title="live record")
            fps = _recording_fps(source, window, log)
            session = _Session(config, consent, source, detector, window, fps, log)
            session.run()
        return session.finish()
    finally:
        if window is not None:
            window.close()


def _recording_fps(source: Source, window: WindowSink | None, log: Log) -> float:
    """A file's own rate; a camera's measured over WARMUP_S (a "get ready" screen), or its own figure when
    that is within FPS_TRUSTED_WITHIN of the measure."""
    if not source.live:
        return source.fps
    times_s: list[float] = []
    view = ScreenView(title="Get ready: sit facing the light, alone in the picture, and look into the camera")
    while not times_s or times_s[-1] - times_s[0] < WARMUP_S:
        frame = source.read()
        if frame is None:
            raise UsageError(f"{source.name} delivers no frames: check that no other program uses it")
        times_s.append(time.monotonic())
        if window is not None:
            window.write(draw_screen(frame, view))
            window.poll_key()
            if window.closed:
                raise UsageError("the window was closed before the recording began: nothing was recorded")
    measured = (len(times_s) - 1) / (times_s[-1] - times_s[0])
    fps = source.fps if source.fps and abs(measured - source.fps) <= FPS_TRUSTED_WITHIN * source.fps else measured
    log(f"{source.name} delivers {measured:.1f} fps (it says {source.fps:g}); recording at {fps:.1f} fps")
    return fps


class _Session:
    """One recording: the writer, the meter, the script and the conditions, frame by frame."""

    def __init__(self, config, consent, source, detector, window, fps: float, log: Log) -> None:
        self.config, self.consent, self.source, self.detector, self.window, self.log = (
            config, consent, source, detector, window, log
        )  # fmt: skip
        self.fps = fps
        self.size_px = source.size_px
        self.runner = PromptRunner(script_prompts(consent), fps)
        self.meter = CoverageMeter()
        self.tracker = ConditionTracker()
        self.rate = RateMeter()
        self.neutral_candidates: list[tuple[int, np.ndarray]] = []
        self.neutral_frame: int | None = None
        self.index = 0
        self.stopped = ""
        try:
            self.writer = RecordingWriter(config.out, even_size_px(source.size_px), fps)
        except VideoWriteError as error:
            raise UsageError(str(error)) from error

    def run(self) -> None:
        """Record until the script ends or the person, the source or --max-frames stops it."""
        self.log(f"recording {describe_source(self.source)} into {self.config.out}")
        self._announce()
        try:
            while self.runner.current is not None and not self.stopped:
                self.stopped = self._next()
        except KeyboardInterrupt:
            self.stopped = "stopped by Ctrl-C"
        finally:
            try:
                self.writer.close()
            except VideoWriteError as error:
                raise UsageError(str(error)) from error
        if self.stopped and (span := self.runner.stop(self.index, self.stopped)):
            self._ended(span)

    def _next(self) -> str:
        """Record one frame; why the recording stops ("" to go on)."""
        if self.config.max_frames and self.index >= self.config.max_frames:
            return f"--max-frames {self.config.max_frames} reached"
        frame = self.source.read()
        if frame is None:
            return "the camera stopped delivering frames" if self.source.live else f"{self.source.name} ended"
        if (frame.shape[1], frame.shape[0]) != self.size_px:
            frame = fitted_frame(frame, self.size_px)
        try:
            self.writer.write(frame)
        except VideoWriteError as error:
            raise UsageError(str(error)) from error
        self._measure(frame)
        if self.window is None:
            return ""
        self.window.write(draw_screen(frame, self._view()))
        key = self.window.poll_key()
        if key in SKIP_KEYS and (span := self.runner.skip(self.index)):
            self._ended(span)
        if key in STOP_KEYS:
            return "stopped by the person"
        return "the window was closed" if self.window.closed else ""

    def _measure(self, frame: np.ndarray) -> None:
        """Measure the recorded frame: conditions, coverage, the neutral prompt's faces, the prompt's end."""
        time_s = self.index / self.fps
        observation = observe(frame, self.detector.detect_all(frame), self.config.size_px)
        conditions = observation.conditions
        if self.source.live:
            self.tracker.fps_measured = self.rate.tick(time.monotonic())
            if self.index >= SLOW_AFTER_FRAMES and self.tracker.fps_measured < MINIMUM_FPS:
                conditions = (*conditions, "slow")
        for name in self.tracker.update(conditions, time_s):
            self.log(f"{time_s:6.1f} s  {self.tracker.line(name)}")
        if observation.crop_landmarks_px is not None:
            self.meter.add(observation.crop_landmarks_px, observation.teeth_share)
            if self.runner.current is not None and self.runner.current.name == "neutral":
                self.neutral_candidates.append((self.index, observation.crop_landmarks_px))
        span = self.runner.step(self.index, self.meter.counts())
        self.index += 1
        if span is not None:
            self._ended(span)

    def _ended(self, span) -> None:
        note = f" ({span.note})" if span.note else ""
        self.log(f"{span.end_s:6.1f} s  {span.prompt}: {span.ended}{note}")
        if span.prompt == "neutral":
            self.neutral_frame = pick_neutral(self.neutral_candidates)
        if not self.stopped:
            self._announce()

    def _announce(self) -> None:
        if (prompt := self.runner.current) is not None:
            self.log(f"{self.index / self.fps:6.1f} s  prompt {self.runner.position} {prompt.name}: {prompt.text}")

    def _view(self, end: bool = False) -> ScreenView:
        prompt = self.runner.current
        title = f"{self.runner.position}  {prompt.text}" if prompt and not end else "Done"
        return ScreenView(
            title=title,
            read=prompt.read if prompt and not end else "",
            seconds_left=None if end or prompt is None else self.runner.seconds_left(self.index),
            counts=self.meter.counts(),
            target_frames=self.runner.target_frames,
            current_bins=prompt.bins if prompt and not end else (),
            warnings=tuple(self.tracker.line(name) for name in self.tracker.showing) if not end else (),
            frames=len(self.meter),
            keys="any key: close" if end else "space: next prompt    q: stop",
        )

    def finish(self) -> RecordResult:
        """Write the sidecar, log and show the end screen; the result."""
        frames = self.writer.frames_saved
        if not frames:
            raise UsageError(f"no frame was recorded from {self.source.name} ({self.stopped}): {self.config.out} "
                             "was not written")  # fmt: skip
        sidecar = RecordingSidecar(
            video_sha256=sha256_of_file(self.config.out),
            frames=frames,
            fps=round(self.fps, 3),
            frame_size_px=even_size_px(self.size_px),
            consent=self.consent,
            timeline=tuple(self.runner.timeline),
            neutral_frame=self.neutral_frame,
            coverage=self.meter.report() if len(self.meter) else {},
            conditions=tuple(self.tracker.summary()),
            created=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            source=describe_source(self.source),
        )
        try:
            write_sidecar(self.config.out, sidecar)
        except OSError as error:
            raise UsageError(f"cannot write {sidecar_path(self.config.out)}: {error.strerror or error}") from error
        lines = end_lines(self.config.out, sidecar, self.stopped)
        for line in lines:
            self.log(line)
        if self.window is not None:
            self._show_end_screen(lines)
        return RecordResult(self.config.out, sidecar, lines)

    def _show_end_screen(self, lines: list[str]) -> None:
        """The end screen until a key, the window's closing, or config.end_screen_s."""
        assert self.window is not None
        image = draw_end_screen(self.size_px, lines, self._view(end=True))
        deadline_s = time.monotonic() + self.config.end_screen_s
        while time.monotonic() < deadline_s and not self.window.closed:
            self.window.write(image)
            if self.window.poll_key() is not None:
                break
            time.sleep(0.02)
