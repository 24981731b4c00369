"""prepare -> train -> kill -> resume -> export -> run -> eval, on real frames at 64 px, plus bad input."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

torch = pytest.importorskip("torch")

from live.cli import main as live_main  # noqa: E402
from live.engines.segmentation import head_plates  # noqa: E402
from live.face.head_plate import in_plate, plate_head_landmarks  # noqa: E402
from live.face.teeth import teeth_share  # noqa: E402
from live.formats.dataset import load_dataset  # noqa: E402
from live.formats.sketch import draw_sketch, face_mask  # noqa: E402
from live.training.augment import CropSampler  # noqa: E402
from live.training.checkpoints import list_checkpoints, load_checkpoint  # noqa: E402

SHARED_DATA = Path(__file__).resolve().parents[1] / "data"
REPOSITORY = Path(__file__).resolve().parents[1]
CLIP = REPOSITORY / "data" / "jwp_intro.mp4"
CONSENT = "Jon Peirce, GPL-3.0 PsychoPy recording, test fixture"
TINY = ["--ngf", "4", "--ndf", "8", "--threads", "1"]


def write_clip(path: Path, frames: list[np.ndarray], fps: float = 30.0) -> Path:
    height, width = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
    for frame in frames:
        writer.write(frame)
    writer.release()
    return path


@pytest.fixture(scope="module")
def dataset_64(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real dataset: the first 40 frames of the shipped training clip, prepared at 64 px."""
    folder = tmp_path_factory.mktemp("prepare")
    capture = cv2.VideoCapture(str(CLIP))
    frames = [capture.read()[1] for _ in range(40)]
    capture.release()
    clip = write_clip(folder / "clip.mp4", frames)
    assert (
        live_main(["prepare", str(clip), "--out", str(folder / "dataset"), "--size", "64", "--consent", CONSENT]) == 0
    )
    return folder / "dataset"


def test_prepare_writes_a_consistent_dataset(dataset_64: Path) -> None:
    manifest = json.loads((dataset_64 / "manifest.json").read_text())
    assert manifest["consent"] == CONSENT
    assert manifest["counts"]["frames"] == 40 and manifest["counts"]["val"] == 6
    splits = [entry["split"] for entry in manifest["frames"]]
    assert splits == sorted(splits, key=lambda split: split == "val"), "validation must be the last stretch in time"
    assert len(manifest["videos"][0]["sha256"]) == 64
    dataset = load_dataset(dataset_64)
    assert dataset.images_bgr.shape == (40, 64, 64, 3) and dataset.landmarks_px.shape == (40, 478, 3)
    assert np.asarray(manifest["neutral_landmarks_px"]).shape == (478, 3)
    for name in ("yaw", "pitch", "roll"):
        low, high = manifest["pose_range_deg"][name]
        assert low <= high


def test_prepare_and_run_draw_identical_sketches(dataset_64: Path) -> None:
    dataset = load_dataset(dataset_64)
    for index in (0, 17, 39):  # the teeth share measured on the crop, as `live run` measures it on the driver
        teeth = teeth_share(dataset.images_bgr[index], dataset.landmarks_px[index])
        assert np.array_equal(
            dataset.sketches_bgr[index], draw_sketch(dataset.landmarks_px[index], 64, teeth_share=teeth)
        )


def _train_command(dataset: Path, run: Path, steps: int, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "live",
        "train",
        str(dataset),
        "--out",
        str(run),
        "--steps",
        str(steps),
        "--checkpoint-every",
        "3",
        "--sample-every",
        "10",
        *TINY,
        *extra,
    ]


def test_killed_training_resumes_and_exports_and_plays(dataset_64: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    process = subprocess.Popen(
        _train_command(dataset_64, run, 400), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(list_checkpoints(run / "checkpoints")) < 2:
        time.sleep(0.2)
    process.send_signal(signal.SIGKILL)
    process.wait()
    killed_at = [int(path.stem.split("_")[1]) for path in list_checkpoints(run / "checkpoints")]
    assert killed_at, "no checkpoint before the kill"
    assert all(path.suffix == ".pt" for path in list_checkpoints(run / "checkpoints")), (
        "a .partial file is never listed"
    )
    for path in list_checkpoints(run / "checkpoints"):
        assert load_checkpoint(path)["step"] == int(path.stem.split("_")[1])
    last = max(killed_at)
    resumed = subprocess.run(
        _train_command(dataset_64, run, last + 6, "--resume"), capture_output=True, text=True, timeout=300
    )
    assert resumed.returncode == 0, resumed.stderr
    assert f"at step {last}" in resumed.stderr
    assert max(int(path.stem.split("_")[1]) for path in list_checkpoints(run / "checkpoints")) == last + 6
    assert list((run / "samples").glob("*.png")) and (run / "config.json").is_file()

    model = tmp_path / "tiny.onnx"
    assert live_main(["export", str(run), "--out", str(model)]) == 0
    assert model.is_file() and model.with_suffix(".md").is_file()
    video = tmp_path / "out.mp4"
    played = subprocess.run(
        [
            sys.executable,
            "-m",
            "live",
            "run",
            "--model",
            str(model),
            "--source",
            str(dataset_64.parent / "clip.mp4"),
            "--no-pace",
            "--output",
            str(video),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert played.returncode == 0, played.stderr
    capture = cv2.VideoCapture(str(video))
    assert capture.isOpened() and int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) > 0
    capture.release()
    report = tmp_path / "eval.json"
    assert live_main(["eval", str(model), str(dataset_64), "--json", str(report)]) == 0
    assert json.loads(report.read_text())["frames"] == 6


def test_resume_continues_exactly(dataset_64: Path, tmp_path: Path) -> None:
    from live.training.train import TrainConfig, train

    common = dict(dataset=str(dataset_64), ngf=4, ndf=8, checkpoint_every=100, sample_every=100, threads=1)
    straight = load_checkpoint(train(TrainConfig(out=str(tmp_path / "straight"), steps=8, **common)).last_checkpoint)
    train(TrainConfig(out=str(tmp_path / "split"), steps=8, **common), stop_at_step=4)
    resumed = load_checkpoint(
        train(TrainConfig(out=str(tmp_path / "split"), steps=8, **common), resume=True).last_checkpoint
    )
    assert resumed["step"] == straight["step"] == 8
    for name, tensor in straight["generator"].items():
        assert torch.equal(tensor, resumed["generator"][name]), name


def test_torchrun_two_processes_keep_identical_weights(dataset_64: Path, tmp_path: Path) -> None:
    run = tmp_path / "ddp"
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node",
        "2",
        "--master_port",
        "29517",
        "-m",
        "live",
        "train",
        str(dataset_64),
        "--out",
        str(run),
        "--steps",
        "3",
        *TINY,
    ]
    result = subprocess.run(
        command, capture_output=True, text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"}
    )
    assert result.returncode == 0, result.stderr[-2000:]
    digests = [json.loads((run / "ranks" / f"{rank}.json").read_text()) for rank in (0, 1)]
    assert digests[0]["step"] == digests[1]["step"] == 3
    assert digests[0]["generator_sha256"] == digests[1]["generator_sha256"]
    saved = load_checkpoint(list_checkpoints(run / "checkpoints")[-1])
    states = saved["random_per_rank"]
    assert len(states) == 2 and not torch.equal(states[0], states[1]), "each rank keeps its own sampling stream"
    resumed = subprocess.run(
        [*command[: command.index("--steps") + 1], "5", *TINY, "--resume"],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    digests = [json.loads((run / "ranks" / f"{rank}.json").read_text()) for rank in (0, 1)]
    assert (
        digests[0]["step"] == digests[1]["step"] == 5
        and digests[0]["generator_sha256"] == digests[1]["generator_sha256"]
    )


def _exit_and_message(argv: list[str], capsys: pytest.CaptureFixture) -> tuple[int, str]:
    code = live_main(argv)
    error = capsys.readouterr().err.strip().splitlines()
    return code, error[-1] if error else ""


def test_prepare_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    blank = write_clip(tmp_path / "blank.mp4", [np.full((120, 160, 3), 90, np.uint8)] * 10)
    code, message = _exit_and_message(
        ["prepare", str(blank), "--out", str(tmp_path / "a"), "--consent", CONSENT], capsys
    )
    assert code == 2 and "no usable face" in message
    text = tmp_path / "notes.mp4"
    text.write_text("not a video")
    code, message = _exit_and_message(
        ["prepare", str(text), "--out", str(tmp_path / "b"), "--consent", CONSENT], capsys
    )
    assert code == 2 and "cannot read" in message
    code, message = _exit_and_message(["prepare", str(CLIP), "--out", str(tmp_path / "c")], capsys)
    assert code == 2 and "--consent is required" in message
    assert not (tmp_path / "c").exists()


def test_train_bad_input(dataset_64: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    import shutil

    other = tmp_path / "other_format"
    shutil.copytree(dataset_64, other)
    manifest = json.loads((other / "manifest.json").read_text())
    manifest["format_version"] = 99
    (other / "manifest.json").write_text(json.dumps(manifest))
    code, message = _exit_and_message(
        ["train", str(other), "--out", str(tmp_path / "r1"), "--steps", "1", *TINY], capsys
    )
    assert code == 2 and "format_version" in message

    run = tmp_path / "r2"
    assert live_main(["train", str(dataset_64), "--out", str(run), "--steps", "1", *TINY]) == 0
    code, message = _exit_and_message(
        ["train", str(dataset_64), "--out", str(run), "--steps", "2", "--resume", "--ngf", "8", "--threads", "1"],
        capsys,
    )
    assert code == 2 and "another architecture" in message


def test_ctrl_c_saves_and_exits_130(dataset_64: Path, tmp_path: Path) -> None:
    run = tmp_path / "interrupted"
    process = subprocess.Popen(
        _train_command(dataset_64, run, 100000, "--checkpoint-every", "1000"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (run / "config.json").is_file():
        time.sleep(0.2)
    time.sleep(1.0)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, "a shell's `live train ... && live export ...` must stop here"
    assert "interrupted at step" in stderr and "--resume" in stderr
    saved = list_checkpoints(run / "checkpoints")
    assert len(saved) == 1 and 0 < load_checkpoint(saved[0])["step"] < 1000, (
        "saved where it stopped, not at a scheduled checkpoint"
    )


def test_export_that_fails_its_parity_check_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from live.formats.card import ModelCard
    from live.training import onnx_export
    from live.training.networks import GeneratorConfig, UnetGenerator

    monkeypatch.setattr(onnx_export, "PARITY_TOLERANCE", 0.0)  # nothing passes a zero tolerance
    card = ModelCard(
        name="t",
        size_px=64,
        neutral_landmarks_px=np.zeros((478, 3), np.float32),
        pose_range_deg={"yaw": [0, 1], "pitch": [0, 1], "roll": [0, 1]},
    )
    target = tmp_path / "model.onnx"
    target.write_bytes(b"the previous model")
    with pytest.raises(onnx_export.ExportError, match="differs from torch"):
        grey = np.full((64, 64, 3), 200, np.uint8)
        onnx_export.export_onnx(UnetGenerator(GeneratorConfig(size_px=64, ngf=4)), card, target, [(grey, grey)], "")
    assert target.read_bytes() == b"the previous model", "a failed export loses nothing"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["model.onnx"]


def test_resume_refuses_other_settings(dataset_64: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    run = tmp_path / "settings"
    assert (
        live_main(["train", str(dataset_64), "--out", str(run), "--steps", "4", "--checkpoint-every", "2", *TINY]) == 0
    )
    code, message = _exit_and_message(
        ["train", str(dataset_64), "--out", str(run), "--steps", "8", "--learning-rate", "0.001", "--resume", *TINY],
        capsys,
    )
    assert code == 2 and "--learning-rate 0.001 (the run has 0.0002)" in message and "steps" not in message
    code, message = _exit_and_message(
        ["train", str(dataset_64), "--out", str(tmp_path / "bad"), "--checkpoint-every", "0", *TINY], capsys
    )
    assert code == 2 and "--checkpoint-every 0: must be 1 or more" in message


def test_resume_without_checkpoint_says_so(dataset_64: Path, tmp_path: Path) -> None:
    result = subprocess.run(
        _train_command(dataset_64, tmp_path / "fresh", 2, "--resume"), capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "no checkpoint in" in result.stderr and "starting from step 0" in result.stderr


def test_init_from_starts_a_new_run_from_another_runs_weights(
    dataset_64: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    from live.training.train import TrainConfig, train

    common = dict(dataset=str(dataset_64), ngf=4, ndf=8, checkpoint_every=100, sample_every=100, threads=1)
    first = train(TrainConfig(out=str(tmp_path / "first"), steps=3, **common)).last_checkpoint
    assert first is not None
    started = train(
        TrainConfig(out=str(tmp_path / "tuned"), steps=1, balance_expressions=True, init_from=str(first), **common),
        stop_at_step=0,
    )
    tuned = load_checkpoint(started.last_checkpoint)
    assert tuned["step"] == 0 and tuned["config"]["balance_expressions"] is True
    for name, tensor in load_checkpoint(first)["generator"].items():
        assert torch.equal(tensor, tuned["generator"][name]), name
    fresh = load_checkpoint(
        train(TrainConfig(out=str(tmp_path / "fresh"), steps=1, **common), stop_at_step=0).last_checkpoint
    )
    assert any(not torch.equal(tensor, fresh["generator"][name]) for name, tensor in tuned["generator"].items())

    code, message = _exit_and_message(
        [
            "train",
            str(dataset_64),
            "--out",
            str(tmp_path / "wider"),
            "--steps",
            "1",
            "--init-from",
            str(first),
            "--ngf",
            "8",
            "--threads",
            "1",
        ],
        capsys,
    )
    assert code == 2 and "--init-from" in message and "another architecture" in message
    code, message = _exit_and_message(
        ["train", str(dataset_64), "--out", str(tmp_path / "none"), "--init-from", str(tmp_path / "no.pt"), *TINY],
        capsys,
    )
    assert code == 2 and "no such checkpoint" in message


def test_shape_augmentation_trains_on_sketch_variants(dataset_64: Path, tmp_path: Path) -> None:
    from live.formats.dataset import load_dataset
    from live.training.augment import CropSampler
    from live.training.shape_augment import shape_variant_sketches
    from live.training.train import TrainConfig, train

    common = dict(dataset=str(dataset_64), ngf=4, ndf=8, checkpoint_every=100, sample_every=100, threads=1)
    result = train(TrainConfig(out=str(tmp_path / "run"), steps=2, shape_augment=0.3, shape_variants=3, **common))
    saved = load_checkpoint(result.last_checkpoint)
    assert saved["step"] == 2 and saved["config"]["shape_augment"] == 0.3

    dataset = load_dataset(dataset_64)
    indices = dataset.indices("train")[:2]
    sampler = CropSampler(dataset, indices, 1.0, torch.device("cpu"))
    bank = shape_variant_sketches(dataset.landmarks_px[indices], [0.0, 0.2], dataset.size_px, 3, 0.3, seed=0)
    sampler.use_sketch_variants(bank)
    identity = torch.tensor([[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]])
    for frame in range(2):
        for variant in range(3):
            sketch = sampler.sample(torch.tensor([frame]), identity, torch.tensor([variant]))[0]
            drawn = ((sketch[0].permute(1, 2, 0) + 1.0) * 127.5).round().to(torch.uint8).numpy()
            assert np.abs(drawn.astype(int) - bank[frame * 3 + variant]).max() <= 1


def test_eye_mixing_takes_the_partner_s_eyes_and_keeps_the_rest(dataset_64: Path, tmp_path: Path) -> None:
    from live.errors import UsageError
    from live.face.regions import PART_INDICES
    from live.formats.dataset import load_dataset
    from live.training.augment import CropSampler
    from live.training.eye_mixing import EyeMixer
    from live.training.train import TrainConfig, train

    common = dict(dataset=str(dataset_64), ngf=4, ndf=8, checkpoint_every=100, sample_every=100, threads=1)
    result = train(TrainConfig(out=str(tmp_path / "run"), steps=2, mix_eyes=0.5, **common))
    assert load_checkpoint(result.last_checkpoint)["config"]["mix_eyes"] == 0.5
    with pytest.raises(UsageError, match="--mix-eyes 1.5: give a share from 0 to 1"):
        TrainConfig(out=str(tmp_path / "bad"), mix_eyes=1.5, **common)

    dataset = load_dataset(dataset_64)
    indices = dataset.indices("train")
    sampler = CropSampler(dataset, indices, 1.0, torch.device("cpu"))
    sampler.eye_mixer = EyeMixer.of_frames(dataset, indices, 1.0)
    assert (sampler.eye_mixer.draw(50, torch.Generator().manual_seed(0)) >= 0).all()
    assert (EyeMixer.of_frames(dataset, indices, 0.0).draw(50, torch.Generator().manual_seed(0)) == -1).all()
    identity = torch.tensor([[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]])
    own, partner = 0, len(indices) - 1

    def images(frame: int, partners: torch.Tensor | None = None) -> tuple[np.ndarray, np.ndarray]:
        sketch, real = sampler.sample(torch.tensor([frame]), identity, None, partners)[:2]
        return sketch[0].permute(1, 2, 0).numpy(), real[0].permute(1, 2, 0).numpy()

    own_sketch, own_real = images(own)
    partner_sketch, partner_real = images(partner)
    mixed_sketch, mixed_real = images(own, torch.tensor([partner]))
    kept_sketch, kept_real = images(own, torch.tensor([-1]))
    assert np.array_equal(kept_sketch, own_sketch) and np.array_equal(kept_real, own_real)
    assert not np.allclose(own_real, partner_real, atol=0.05)  # the two frames differ
    landmarks = dataset.landmarks_px[indices[own]]
    for part, mixed in (("right_eye", True), ("left_eye", True), ("inner_lips", False)):
        x, y = np.rint(landmarks[PART_INDICES[part], :2].mean(axis=0)).astype(int)
        for own_image, partner_image, mixed_image in (
            (own_sketch, partner_sketch, mixed_sketch),
            (own_real, partner_real, mixed_real),
        ):
            expected = partner_image if mixed else own_image
            np.testing.assert_allclose(mixed_image[y, x], expected[y, x], atol=1e-4, err_msg=part)
    np.testing.assert_allclose(mixed_real[-1, -1], own_real[-1, -1], atol=1e-4)  # the crop's corner: its own


def test_local_discriminator_sees_the_eyes_and_mouth_under_the_crop_jitter(dataset_64: Path, tmp_path: Path) -> None:
    from live.training.augment import _warp
    from live.training.config import TrainConfig
    from live.training.local_discriminator import PARTS, jittered_centres_px, part_centres_px, part_patches
    from live.training.train import train

    common = {"dataset": str(dataset_64), "ngf": 4, "ndf": 8, "threads": 1}
    result = train(TrainConfig(out=str(tmp_path / "run"), steps=2, local_discriminator=1.0, **common))
    state = load_checkpoint(result.last_checkpoint)
    assert state["config"]["local_discriminator"] == 1.0
    assert any(key.startswith("local.") for key in state["discriminator"]), "saved with the run's discriminator"
    dataset = load_dataset(dataset_64)
    centres_px = part_centres_px(dataset.landmarks_px[:1])
    assert centres_px.shape == (1, len(PARTS), 2)
    assert centres_px[0, 0, 1] < centres_px[0, 2, 1], "the eyes above the mouth"
    theta = torch.tensor([[[0.9, -0.08, 0.12], [0.08, 0.9, -0.07]]])  # scale, rotation and shift, as jitter_thetas
    moved_px = jittered_centres_px(centres_px, theta, 64)
    for part in range(len(PARTS)):
        dot = torch.zeros(1, 1, 64, 64)
        x, y = centres_px[0, part].round().long().tolist()
        dot[0, 0, y - 1 : y + 2, x - 1 : x + 2] = 1.0
        warped = _warp(dot, theta, 64, "zeros")[0, 0]
        rows, columns = torch.meshgrid(torch.arange(64.0), torch.arange(64.0), indexing="ij")
        found = torch.stack([(warped * columns).sum(), (warped * rows).sum()]) / warped.sum()
        expected = jittered_centres_px(torch.tensor([[[float(x), float(y)]]]), theta, 64)[0, 0]
        assert torch.allclose(found, expected, atol=0.3), PARTS[part]
    patches = part_patches(torch.zeros(2, 3, 64, 64), torch.cat([moved_px, moved_px]), 16)
    assert patches.shape == (2 * len(PARTS), 3, 16, 16)


def test_recover_checkpoint_gives_back_the_shipped_generator(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("recover_checkpoint", REPOSITORY / "tools" / "recover_checkpoint.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    out = tmp_path / "recovered.pt"
    assert tool.main(str(REPOSITORY / "models" / "jwp.onnx"), str(out)) == 0
    assert "recovered network vs ONNX Runtime: max difference" in capsys.readouterr().out
    state = load_checkpoint(out)
    from live.training.networks import GeneratorConfig, UnetGenerator

    generator = UnetGenerator(GeneratorConfig(**state["generator_config"]))
    generator.load_state_dict(state["generator"])
    assert tool.largest_difference(REPOSITORY / "models" / "jwp.onnx", generator.eval()) <= 1, "the same function"


def test_training_plates_have_the_head_bent_onto_each_frame_s_face(dataset_64: Path) -> None:
    """With head follow (the default), each sampled plate is the video's plate with its own head moved onto the
    frame's face, as `live run` moves it onto the avatar's; without, the still plate."""
    dataset = load_dataset(dataset_64)
    indices = dataset.indices("train")
    sampler = CropSampler(dataset, indices, 3.0, torch.device("cpu"))
    identity = torch.tensor([[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]])
    neutral_px = plate_head_landmarks(dataset)[0]
    moves = [
        np.abs(in_plate(dataset.landmarks_px[i], dataset.transforms[i])[:, :2] - neutral_px[:, :2]).mean()
        for i in indices
    ]
    frame = int(np.argmax(moves))  # the training frame whose head is farthest from the plate's
    still = sampler.sample(torch.tensor([frame]), identity)[3]
    sampler.use_head_plates(head_plates(dataset.plates_bgr, plate_head_landmarks(dataset)))
    followed = sampler.sample(torch.tensor([frame]), identity)[3]
    real = sampler.sample(torch.tensor([frame]), identity)[1]
    face = torch.from_numpy(face_mask(dataset.landmarks_px[indices[frame]], dataset.size_px))
    error = lambda plate: float((plate - real).abs().mean(dim=1)[0][face].mean())  # noqa: E731
    print(
        f"frame {frame}: head {moves[frame]:.1f} px from the plate's; face |plate - real|",
        error(still),
        error(followed),
    )
    assert error(followed) < error(still)


def test_head_follow_in_training_changes_what_the_generator_is_shown_and_is_carded(
    dataset_64: Path, tmp_path: Path
) -> None:
    """`live train --head-follow`: the same seed and steps train other weights (the plates differ), and the
    exported card says so (a model trained with it must run with it)."""
    from live.training.train import TrainConfig, train

    common = dict(dataset=str(dataset_64), ngf=4, ndf=8, steps=3, checkpoint_every=100, sample_every=100, threads=1)
    still = load_checkpoint(train(TrainConfig(out=str(tmp_path / "still"), **common)).last_checkpoint)
    followed_run = tmp_path / "followed"
    followed = load_checkpoint(train(TrainConfig(out=str(followed_run), head_follow=True, **common)).last_checkpoint)
    assert still["config"]["head_follow"] is False and followed["config"]["head_follow"] is True
    assert any(not torch.equal(tensor, followed["generator"][name]) for name, tensor in still["generator"].items())
    assert live_main(["export", str(followed_run), "--out", str(tmp_path / "followed.onnx")]) == 0
    assert "| train.head_follow | True |" in (tmp_path / "followed.md").read_text()
