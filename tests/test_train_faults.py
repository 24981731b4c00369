"""`live train` and `live export` on hostile input: numbers out of range, damaged checkpoints, a consent that
says nothing; each one line (exit 2) and nothing written. And a resumed run's TensorBoard shows each step once
(issue 27, fault 8 and the TensorBoard item)."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import cv2
import pytest

torch = pytest.importorskip("torch")

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402

from live.cli import main  # noqa: E402
from live.training.checkpoints import checkpoint_path, list_checkpoints, load_checkpoint  # noqa: E402
from live.training.config import TrainConfig  # noqa: E402
from live.training.train import train  # noqa: E402

REPOSITORY = Path(__file__).resolve().parents[1]
CONSENT = "Jon Peirce, GPL-3.0 PsychoPy recording, test fixture"
TINY = ["--ngf", "4", "--ndf", "8", "--threads", "1", "--steps", "2"]


@pytest.fixture(scope="module")
def dataset_64(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real dataset of the first 8 frames of the shipped training clip, at 64 px."""
    folder = tmp_path_factory.mktemp("faults")
    capture = cv2.VideoCapture(str(REPOSITORY / "data" / "jwp_intro.mp4"))
    frames = [capture.read()[1] for _ in range(8)]
    capture.release()
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(folder / "clip.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), 25.0, (width, height))
    for frame in frames:
        writer.write(frame)
    writer.release()
    out = folder / "dataset"
    assert main(["prepare", str(folder / "clip.mp4"), "--out", str(out), "--size", "64", "--consent", CONSENT]) == 0
    return out


def _one_error_line(argv: list[str], capsys: pytest.CaptureFixture[str], words: str) -> str:
    code = main(argv)
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if "error" in line]
    assert code == 2 and "Traceback" not in err and len(errors) == 1, err
    assert errors[0].startswith(f"live {argv[0]}: error:") and words in errors[0], errors
    return errors[0]


@pytest.mark.parametrize(
    "option, value",
    [
        ("--learning-rate", "nan"),
        ("--learning-rate", "inf"),
        ("--learning-rate", "-0.0002"),
        ("--learning-rate", "0"),
        ("--lambda-l1", "nan"),
        ("--lambda-l1", "inf"),
        ("--face-weight", "1e30"),
        ("--lambda-feature-matching", "-1"),
        ("--beta1", "1"),
        ("--decay-start-fraction", "2"),
        ("--augment-scale", "1"),
        ("--discriminator-scales", "4"),
        ("--batch-size", "0"),
        ("--steps", "-5"),
    ],
)
def test_numbers_out_of_range_are_refused_before_anything_is_written(
    dataset_64: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], option: str, value: str
) -> None:
    run = tmp_path / "run"
    argv = ["train", str(dataset_64), "--out", str(run), *TINY, option, value]
    _one_error_line(argv, capsys, f"error: {option} ")
    assert not run.exists()


def test_more_discriminator_scales_than_the_crop_allows_is_refused(
    dataset_64: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "run"
    argv = ["train", str(dataset_64), "--out", str(run), *TINY, "--discriminator-scales", "3"]
    _one_error_line(argv, capsys, "needs crops of 128 px or more, the dataset's are 64 px")
    assert not run.exists()


def _scalar_steps(folder: Path, tag: str = "loss/l1") -> list[int]:
    accumulator = EventAccumulator(str(folder))
    accumulator.Reload()
    return [event.step for event in accumulator.Scalars(tag)]


def _next_second() -> None:
    """Event files are named by the second they start in: the resumed run's file sorts after the first one's."""
    time.sleep(1.01 - time.time() % 1.0)


def test_a_resumed_run_shows_each_step_once_in_tensorboard(dataset_64: Path, tmp_path: Path) -> None:
    common = dict(dataset=str(dataset_64), ngf=4, ndf=8, steps=4, checkpoint_every=2, sample_every=100, threads=1)
    config = TrainConfig(out=str(tmp_path / "run"), keep_last=5, **common)
    train(config)
    assert _scalar_steps(tmp_path / "run" / "tensorboard") == [1, 2, 3, 4]
    # Killed after logging steps 3 and 4 but before their checkpoint: --resume goes on from step 2.
    checkpoint_path(tmp_path / "run" / "checkpoints", 4).unlink()
    _next_second()
    assert train(config, resume=True).step == 4
    assert len(list((tmp_path / "run" / "tensorboard").glob("events.out.tfevents.*"))) == 2
    assert _scalar_steps(tmp_path / "run" / "tensorboard") == [1, 2, 3, 4], "the killed run's steps 3, 4 are gone"


@pytest.fixture(scope="module")
def trained_run(dataset_64: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    run = tmp_path_factory.mktemp("trained") / "run"
    train(TrainConfig(dataset=str(dataset_64), out=str(run), ngf=4, ndf=8, steps=1, threads=1))
    return run


def _damaged(folder: Path, kind: str) -> Path:
    """A run folder whose only checkpoint is damaged in the way `kind` names."""
    path = checkpoint_path(folder / "checkpoints", 1)
    path.parent.mkdir(parents=True)
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "random bytes":
        path.write_bytes(os.urandom(4096))
    elif kind == "text":
        path.write_text("hi\n")
    elif kind == "a folder":
        path.mkdir()
    elif kind == "a list":
        torch.save([1, 2, 3], path)
    else:
        assert kind == "no generator"
        torch.save({"step": 1, "config": {}}, path)
    return folder


@pytest.mark.parametrize("kind", ["empty", "random bytes", "text", "a folder", "a list", "no generator"])
def test_export_of_a_damaged_checkpoint_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    run = _damaged(tmp_path / "run", kind)
    out = tmp_path / "model.onnx"
    _one_error_line(["export", str(run), "--out", str(out)], capsys, "step_00000001.pt")
    assert sorted(path.name for path in tmp_path.iterdir()) == ["run"]


def test_export_of_a_truncated_or_unreadable_checkpoint_is_one_line(
    trained_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    whole = list_checkpoints(trained_run / "checkpoints")[-1].read_bytes()
    run = tmp_path / "run"
    path = checkpoint_path(run / "checkpoints", 1)
    path.parent.mkdir(parents=True)
    path.write_bytes(whole[: len(whole) // 2])
    _one_error_line(["export", str(run), "--out", str(tmp_path / "model.onnx")], capsys, "cannot load checkpoint")
    if os.geteuid() != 0:  # (root reads any file)
        path.write_bytes(whole)
        path.chmod(0)
        _one_error_line(["export", str(run), "--out", str(tmp_path / "model.onnx")], capsys, "Permission denied")
    state = load_checkpoint(list_checkpoints(trained_run / "checkpoints")[-1])
    torch.save(state | {"generator_config": {"size_px": "large"}}, path)
    _one_error_line(["export", str(run), "--out", str(tmp_path / "model.onnx")], capsys, "holds no generator")
    assert not (tmp_path / "model.onnx").exists()


@pytest.mark.parametrize("consent", ["\u200b", "ok", "\x1b[2J\x1b[0m"])
def test_export_refuses_a_dataset_whose_consent_says_nothing(
    trained_run: Path, dataset_64: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], consent: str
) -> None:
    dataset = tmp_path / "dataset"
    shutil.copytree(dataset_64, dataset)
    manifest = json.loads((dataset / "manifest.json").read_text())
    (dataset / "manifest.json").write_text(json.dumps(manifest | {"consent": consent}))
    state = load_checkpoint(list_checkpoints(trained_run / "checkpoints")[-1])
    run = tmp_path / "run"
    path = checkpoint_path(run / "checkpoints", 1)
    path.parent.mkdir(parents=True)
    torch.save(state | {"config": state["config"] | {"dataset": str(dataset)}}, path)
    out = tmp_path / "model.onnx"
    _one_error_line(["export", str(run), "--out", str(out)], capsys, "the consent in")
    assert not out.exists() and not out.with_suffix(".md").exists()


def test_export_notes_that_are_not_text_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    notes = tmp_path / "notes.md"
    notes.write_bytes(b"\xff\xfe\x00binary")
    argv = ["export", str(tmp_path / "run"), "--out", str(tmp_path / "m.onnx"), "--notes", str(notes)]
    _one_error_line(argv, capsys, "not UTF-8 text")


def test_resume_from_a_checkpoint_without_its_optimisers_is_one_line(
    trained_run: Path, dataset_64: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = load_checkpoint(list_checkpoints(trained_run / "checkpoints")[-1])
    run = tmp_path / "run"
    path = checkpoint_path(run / "checkpoints", 1)
    path.parent.mkdir(parents=True)
    torch.save({key: value for key, value in state.items() if key != "generator_optimizer"}, path)
    argv = ["train", str(dataset_64), "--out", str(run), *TINY[:-2], "--steps", "1", "--resume"]
    _one_error_line(argv, capsys, "lacks generator_optimizer")
    assert sorted(path.name for path in run.iterdir()) == ["checkpoints"], "nothing else written"
