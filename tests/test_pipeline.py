"""The threaded pipeline end to end: real MediaPipe, real ONNX Runtime on a really exported tiny
model, real sinks; fakes only at the device boundary (webcam, pyvirtualcam backend)."""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
import pyvirtualcam
from fake_camera import FakeCameraDevice

from live.engines.generator import GeneratorSessionConfig
from live.face.retarget import RetargetConfig
from live.io.sinks import SinkConfig, open_sink
from live.io.sources import SourceConfig, open_source
from live.pipeline.messages import Frame, Rendered
from live.pipeline.presenter import Output, Presenter
from live.pipeline.run import PipelineConfig, Stages, open_stages, run_pipeline
from live.pipeline.sequential import run_sequential
from live.pipeline.stats import PipelineStats
from live.pipeline.threads import StageError

DATA = Path(__file__).resolve().parents[1] / "data"
CLIP = DATA / "jwp_office.mp4"
CLIP_FRAMES = 40


@pytest.fixture(scope="module")
def clip_frames() -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(CLIP))
    frames = [capture.read()[1] for _ in range(CLIP_FRAMES)]
    capture.release()
    return frames


@pytest.fixture(scope="module")
def short_clip(clip_frames: list[np.ndarray], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first CLIP_FRAMES frames of the shipped clip, as a 30 fps mp4."""
    path = tmp_path_factory.mktemp("clips") / "short.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 30.0, (352, 288))
    for frame in clip_frames:
        writer.write(frame)
    writer.release()
    return path


def config_for(model_path: Path, **changes: object) -> PipelineConfig:
    return PipelineConfig(
        generator=GeneratorSessionConfig(model_path, device="cpu"), retarget=RetargetConfig(mode="off"), **changes
    )  # type: ignore[arg-type]


@pytest.fixture
def stages(tiny_model_path: Path) -> Iterator[Stages]:
    with open_stages(config_for(tiny_model_path)) as opened:
        yield opened


class RecordingBackend:
    """A pyvirtualcam backend (the device boundary) that keeps what it is sent, and when."""

    sent: list[np.ndarray] = []
    sent_s: list[float] = []
    closed = False

    def __init__(
        self, *, width: int, height: int, fps: float, fourcc: int, device: str | None, **options: object
    ) -> None:
        self.shape = (height, width, 3)
        RecordingBackend.sent, RecordingBackend.sent_s, RecordingBackend.closed = [], [], False

    def send(self, frame: np.ndarray) -> None:
        RecordingBackend.sent.append(frame.reshape(self.shape).copy())
        RecordingBackend.sent_s.append(time.perf_counter())

    def device(self) -> str:
        return "/dev/test-camera"

    def native_fourcc(self) -> int | None:
        return None

    def close(self) -> None:
        RecordingBackend.closed = True


@pytest.fixture
def vcam(monkeypatch: pytest.MonkeyPatch) -> Iterator[type[RecordingBackend]]:
    monkeypatch.setattr(pyvirtualcam.camera, "BACKENDS", {})
    pyvirtualcam.register_backend("test", RecordingBackend)
    yield RecordingBackend


def vcam_output(stages: Stages) -> Output:
    """A virtual camera as big as the avatar's frames (the target's own size), without badge: it receives
    the avatar pixels unchanged."""
    size_px = tuple(stages.card.plate_size_px)
    config = SinkConfig("vcam", fps=30.0, vcam_size_px=size_px, badge=False, vcam_backend="test")
    return Output(open_sink(config, size_px), keep_alive=True)


class EndStampedSource:
    """A real source, noting when it reported the end of input."""

    def __init__(self, config: SourceConfig) -> None:
        self._source = open_source(config)
        self.name, self.live, self.fps, self.size_px = (
            self._source.name,
            self._source.live,
            self._source.fps,
            self._source.size_px,
        )
        self.ended_s: float | None = None
        self.skipped = self._source.skipped

    def read(self) -> np.ndarray | None:
        image_bgr = self._source.read()
        if image_bgr is None and self.ended_s is None:
            self.ended_s = time.perf_counter()
        return image_bgr

    def reopen(self) -> bool:
        return self._source.reopen()

    def close(self) -> None:
        self._source.close()


def read_video(path: Path) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, image_bgr = capture.read()
        if not ok:
            break
        frames.append(image_bgr)
    capture.release()
    return frames


@pytest.mark.parametrize(
    "pace, lossless",
    [(True, False), (False, False), (False, True)],
    ids=["paced", "unpaced-dropping", "unpaced-lossless"],
)
def test_every_input_frame_is_written_or_counted_as_dropped(
    short_clip: Path, stages: Stages, tiny_model_path: Path, tmp_path: Path, pace: bool, lossless: bool
) -> None:
    source = EndStampedSource(SourceConfig(str(short_clip)))
    video_path = tmp_path / "out.mp4"
    file_output = Output(open_sink(SinkConfig("file", path=video_path, fps=source.fps), (64, 64)))
    report = run_pipeline(config_for(tiny_model_path, pace=pace, lossless=lossless), source, [file_output], stages)
    returned_s = time.perf_counter()

    assert report.end_reason == "end of input"
    assert report.frames_captured == CLIP_FRAMES
    assert report.frames_written + report.dropped_total == CLIP_FRAMES
    assert report.out_of_order_outputs == 0 and report.last_index == CLIP_FRAMES - 1
    if lossless:
        assert report.frames_written == CLIP_FRAMES and report.dropped_total == 0
    if not pace and not lossless:
        assert report.drops["frames"] > 0  # decoding outruns the landmarks: the capture buffer drops, counted
    assert set(report.drops) == {"frames", "sketches", "rendered"}
    assert {"capture", "landmarks", "retarget", "sketch", "generator", "paste_back", "sinks"} <= set(report.stage_ms)
    assert report.latency_ms.count == report.frames_written and report.latency_ms.p50_ms > 0
    assert report.face_lost_frames == 0
    written = read_video(video_path)
    assert len(written) == report.frames_written
    assert all(image.shape == (64, 64, 3) for image in written)
    assert source.ended_s is not None and returned_s - source.ended_s < 1.0


def test_sequential_loop_returns_the_same_statistics(
    short_clip: Path, stages: Stages, tiny_model_path: Path, vcam: type[RecordingBackend]
) -> None:
    report = run_sequential(
        config_for(tiny_model_path), open_source(SourceConfig(str(short_clip))), [vcam_output(stages)], stages
    )
    assert report.mode == "sequential"
    assert report.frames_captured == report.frames_written == CLIP_FRAMES
    assert report.dropped_total == 0 and report.out_of_order_outputs == 0
    assert list(report.stage_ms) == [
        "capture",
        "landmarks",
        "retarget",
        "sketch",
        "head_plate",
        "generator",
        "paste_back",
        "sinks",
    ]
    assert len(vcam.sent) == CLIP_FRAMES and vcam.closed


@pytest.mark.parametrize("workers", [1, 2])
def test_no_face_holds_the_last_output_then_shows_the_neutral_face(
    clip_frames: list[np.ndarray], tiny_model_path: Path, tmp_path: Path, vcam: type[RecordingBackend], workers: int
) -> None:
    face_count, blank_count = 6, 16
    for index, image_bgr in enumerate(clip_frames[:face_count] + [np.zeros_like(clip_frames[0])] * blank_count):
        cv2.imwrite(str(tmp_path / f"{index:03d}.png"), image_bgr)
    source = open_source(SourceConfig(str(tmp_path), fps=20.0))  # blank stretch: 0.8 s > the 0.5 s hold
    config = config_for(tiny_model_path, lossless=True, generator_workers=workers)
    with open_stages(config) as stages:
        report = run_pipeline(config, source, [vcam_output(stages)], stages)

    assert report.frames_written == face_count + blank_count
    assert report.face_lost_frames == blank_count
    assert report.held_frames >= 1 and report.neutral_frames >= 1
    assert report.held_frames + report.neutral_frames == blank_count
    neutral_bgr = stages.neutral_bgr
    is_neutral = [np.array_equal(image, neutral_bgr) for image in vcam.sent]
    first_face = is_neutral.index(False)  # before it, keep-alive may show the neutral face while starting
    first_neutral = is_neutral.index(True, first_face)
    assert all(is_neutral[first_neutral:])
    held_bgr = vcam.sent[first_neutral - 1]
    assert not np.array_equal(held_bgr, neutral_bgr)  # a generated face, held
    faces_shown = vcam.sent[first_face:first_neutral]
    changes = sum(not np.array_equal(before, after) for before, after in zip(faces_shown, faces_shown[1:]))
    assert changes == face_count - 1  # six faces in turn, then the last of them held (not an earlier one)
    assert all(image.shape == neutral_bgr.shape and image.any() for image in vcam.sent)  # never a (black) camera frame


def test_lost_camera_keeps_the_virtual_camera_fed_and_is_reopened(
    clip_frames: list[np.ndarray], stages: Stages, tiny_model_path: Path, vcam: type[RecordingBackend]
) -> None:
    device = FakeCameraDevice([clip_frames[:4], None, clip_frames[4:8]])  # delivers, fails, will not open, delivers
    source = open_source(SourceConfig("0"), device)
    report = run_pipeline(config_for(tiny_model_path, max_frames=8), source, [vcam_output(stages)], stages)

    assert report.source_failures == 1 and report.source_reopens == 2
    assert report.frames_captured == 8
    assert report.frames_written + report.dropped_total == 8
    assert report.frames_resent >= 15  # ~1.5 s without camera at 30 fps keep-alive
    gaps_s = np.diff(vcam.sent_s)
    assert gaps_s.max() < 0.5  # the virtual camera never stalled
    assert all(capture.released for capture in device.opened)


def test_a_failing_stage_stops_the_run_and_is_reported_once(
    clip_frames: list[np.ndarray], stages: Stages, tiny_model_path: Path, vcam: type[RecordingBackend]
) -> None:
    malformed = np.zeros((288, 352, 2), dtype=np.uint8)  # a device delivering a two-channel image
    device = FakeCameraDevice([clip_frames[:3] + [malformed] + clip_frames[3:20]])
    source = open_source(SourceConfig("0"), device)
    with pytest.raises(StageError, match=r"^stage 'landmarks' failed: error: .*channels") as raised:
        run_pipeline(config_for(tiny_model_path, lossless=True, max_frames=20), source, [vcam_output(stages)], stages)
    assert raised.value.stage == "landmarks"
    assert raised.value.report is not None and raised.value.report.frames_captured >= 4
    assert vcam.closed and device.opened[0].released


@pytest.mark.needs("Xvfb", "xdotool")
def test_window_shows_frames_until_q_is_pressed(short_clip: Path, stages: Stages, tiny_model_path: Path) -> None:
    assert shutil.which("xdotool"), "needs the Debian package xdotool"
    window = Output(open_sink(SinkConfig("window"), (64, 64)), preview=True)
    source = open_source(SourceConfig(str(CLIP)))  # paced: 8 s unless q ends it

    def press_q_once_the_window_is_up() -> None:
        threading.Event().wait(1.5)  # let some frames through first
        for _ in range(100):
            found = subprocess.run(
                ["xdotool", "search", "--name", "^live$"], capture_output=True, text=True
            ).stdout.split()
            if found:
                subprocess.run(["xdotool", "windowfocus", "--sync", found[-1], "key", "q"], timeout=10)
                return
            threading.Event().wait(0.1)

    presser = threading.Thread(target=press_q_once_the_window_is_up)
    presser.start()
    report = run_pipeline(config_for(tiny_model_path), source, [window], stages)
    presser.join(10)
    assert report.end_reason == "quit key"
    assert 0 < report.frames_written < 237


@pytest.mark.needs("Xvfb")
def test_window_keys_cycle_the_view_and_toggle_the_overlay(stages: Stages, clip_frames: list[np.ndarray]) -> None:
    calls: list[str] = []
    window = Output(open_sink(SinkConfig("window"), (64, 64)), preview=True)
    from live.pipeline.presenter import PresenterHooks

    presenter = Presenter(
        [window],
        PipelineStats("pipeline"),
        hooks=PresenterHooks(overlay_lines=lambda: ["in 30 fps"], recalibrate=lambda: calls.append("c")),
    )
    output_bgr = stages.neutral_bgr
    rendered = Rendered(Frame(0, time.perf_counter(), clip_frames[0]), None, output_bgr, False, {})
    assert presenter.preview_image(rendered) is output_bgr
    assert not presenter.handle_key(ord("v"))
    side_by_side = presenter.preview_image(rendered)
    assert side_by_side.shape[0] == 360 and side_by_side.shape[1] > 2 * 360
    assert not presenter.handle_key(ord("f"))
    overlaid = presenter.preview_image(rendered)
    assert not np.array_equal(overlaid, side_by_side)
    presenter.handle_key(ord("v"))
    assert presenter.preview_image(rendered) is not output_bgr and np.array_equal(
        output_bgr, stages.neutral_bgr
    )  # overlay on a copy
    presenter.handle_key(ord("c"))
    assert calls == ["c"]
    presenter.present(rendered)
    assert presenter.handle_key(ord("q")) and presenter.handle_key(27)
    presenter.close()


def test_the_crop_follows_the_head_with_the_model_s_own_template(tmp_path: Path, clip_frames: list[np.ndarray]) -> None:
    """A model whose card records a wider head template (prepared for more of the body) is cropped with it,
    not with this version's default template."""
    from card_edit import copy_with_card

    from live.face.alignment import HEAD_TEMPLATE, transform_parameters
    from live.pipeline.steps import BufferPool, SketchStep, TrackStep

    shipped = DATA.parent / "models" / "jwp.onnx"
    wider_points = (0.5 + (HEAD_TEMPLATE.points_unit - 0.5) * 0.5).tolist()
    wider = copy_with_card(
        shipped, tmp_path / "wider.onnx", template={**HEAD_TEMPLATE.to_dict(), "points_unit": wider_points}
    )
    sides_px = []
    for model in (shipped, wider):
        with open_stages(PipelineConfig(GeneratorSessionConfig(model, "cpu"))) as stages:
            stats = PipelineStats("test")
            track = TrackStep(stages.detector, stats)
            sketch = SketchStep(stages.retargeter, stages.card.size_px, BufferPool(stages.card.size_px), stats)
            sketched = sketch(track(Frame(0, 0.0, clip_frames[0], 0.0)))
            sides_px.append(transform_parameters(sketched.crop_transform, stages.card.size_px)[2])
    assert sides_px[1] == pytest.approx(2.0 * sides_px[0], rel=1e-3)


def test_two_generator_workers_write_what_one_writes_in_the_same_order(
    short_clip: Path, tiny_model_path: Path, tmp_path: Path
) -> None:
    written = {}
    for workers in (1, 2):
        config = config_for(tiny_model_path, pace=False, lossless=True, generator_workers=workers)
        with open_stages(config) as opened:
            assert len(opened.sessions) == workers
            source = open_source(SourceConfig(str(short_clip)))
            video_path = tmp_path / f"workers{workers}.mp4"
            file_output = Output(open_sink(SinkConfig("file", path=video_path, fps=source.fps), (64, 64)))
            report = run_pipeline(config, source, [file_output], opened)
        assert report.frames_written == CLIP_FRAMES and report.out_of_order_outputs == 0
        written[workers] = read_video(video_path)
    assert len(written[2]) == CLIP_FRAMES
    assert all(np.array_equal(one, two) for one, two in zip(written[1], written[2], strict=True))
    assert not all(np.array_equal(written[1][0], image) for image in written[1])  # the frames do change
