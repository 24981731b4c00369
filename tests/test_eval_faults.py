"""`live eval` on a dataset other than the one the model was trained on (neither the manifest nor the videos its
card's provenance names): refused unless --other-dataset is given, and such figures are never stored in the card.
A dataset prepared again from the same videos is the model's own footage: scored, with a note."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from live.cli import main
from live.errors import UsageError
from live.formats.dataset import MANIFEST_NAME, load_dataset, sha256_of_file
from live.offline.eval_report import store_in_card

DATA = Path(__file__).resolve().parents[1] / "data"
SIZE_PX = 64
CLIP_FRAMES = 40


def _prepare(video: Path, folder: Path, consent: str) -> Path:
    """`live prepare` on the first 40 frames of a shipped clip, at 64 px."""
    from live.offline.prepare import PrepareConfig, prepare_dataset

    folder.mkdir()
    clip = folder / "clip.mp4"
    capture = cv2.VideoCapture(str(video))
    frames = [capture.read()[1] for _ in range(CLIP_FRAMES)]
    assert all(frame is not None for frame in frames), f"cannot read {video}"
    height_px, width_px = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"mp4v"), 25.0, (width_px, height_px))
    for frame in frames:
        writer.write(frame)
    writer.release()
    capture.release()
    prepare_dataset(PrepareConfig(videos=(clip,), out=folder / "dataset", consent=consent, size_px=SIZE_PX))
    return folder / "dataset"


@pytest.fixture(scope="module")
def own_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _prepare(DATA / "jwp_intro.mp4", tmp_path_factory.mktemp("eval_faults") / "own", "Jon Peirce, GPL-3.0")


@pytest.fixture(scope="module")
def other_dataset(own_dataset: Path) -> Path:
    """Another recording (another video, so another manifest and other sources): for the card, another dataset."""
    return _prepare(DATA / "jwp_office.mp4", own_dataset.parents[1] / "other", "Jon Peirce, GPL-3.0, office")


@pytest.fixture(scope="module")
def reprepared_dataset(own_dataset: Path) -> Path:
    """The model's own videos under another manifest (as `live prepare` run again writes: another date)."""
    again = own_dataset.parents[1] / "again"
    shutil.copytree(own_dataset, again)
    manifest = json.loads((again / MANIFEST_NAME).read_text())
    manifest["created"] = "2031-01-01T00:00:00Z"
    (again / MANIFEST_NAME).write_text(json.dumps(manifest, indent=1))
    return again


def _export(dataset_path: Path, out: Path, provenance: dict) -> Path:
    """An untrained 64 px generator of this dataset's target, with `provenance` in its card."""
    import torch

    from live.formats.card import ModelCard, encode_plate
    from live.training.networks import GeneratorConfig, UnetGenerator
    from live.training.onnx_export import export_onnx

    dataset = load_dataset(dataset_path)
    manifest = dataset.manifest
    torch.manual_seed(0)
    config = GeneratorConfig(size_px=SIZE_PX, ngf=4)
    plate_base64, plate_sha256 = encode_plate(dataset.plates_bgr[0])
    card = ModelCard(
        name=out.stem,
        size_px=SIZE_PX,
        neutral_landmarks_px=np.asarray(manifest.neutral_landmarks_px, dtype=np.float32),
        pose_range_deg=manifest.pose_range_deg,
        architecture=config.to_dict(),
        provenance={"consent": manifest.consent, "purpose": "tests: random weights", **provenance},
        template=manifest.template,
        plate_size_px=list(manifest.videos[0].frame_size_px),
        neutral_transform=[list(row) for row in manifest.videos[0].neutral_transform],
        plate_sha256=plate_sha256,
    )
    zeros = np.zeros((SIZE_PX, SIZE_PX, 3), dtype=np.uint8)
    out.parent.mkdir(parents=True, exist_ok=True)
    export_onnx(UnetGenerator(config), card, out, [(zeros, zeros)], plate_base64)
    return out


@pytest.fixture(scope="module")
def own_model(own_dataset: Path) -> Path:
    """A model whose card records own_dataset's manifest, as `live export` writes it."""
    manifest = load_dataset(own_dataset).manifest
    provenance = {
        "dataset_manifest_sha256": sha256_of_file(own_dataset / MANIFEST_NAME),
        "sources": [{"name": video.name, "sha256": video.sha256} for video in manifest.videos],
    }
    return _export(own_dataset, own_dataset.parent / "models" / "own.onnx", provenance)


def _copy(model: Path, folder: Path) -> Path:
    target = folder / model.name
    shutil.copy(model, target)
    return target


def test_the_datasets_differ_for_the_card(own_dataset: Path, other_dataset: Path, reprepared_dataset: Path) -> None:
    digests = {sha256_of_file(folder / MANIFEST_NAME) for folder in (own_dataset, other_dataset, reprepared_dataset)}
    assert len(digests) == 3
    videos = [load_dataset(folder).manifest.videos[0].sha256 for folder in (own_dataset, other_dataset)]
    assert videos[0] != videos[1] and load_dataset(reprepared_dataset).manifest.videos[0].sha256 == videos[0]


@pytest.mark.parametrize("store", [False, True], ids=["plain", "store-in-card"])
def test_eval_refuses_another_dataset(
    store: bool, own_model: Path, other_dataset: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    model = _copy(own_model, tmp_path)
    before = model.read_bytes()
    out_json = tmp_path / "eval.json"
    argv = ["eval", str(model), str(other_dataset), "--json", str(out_json), "--device", "cpu"]
    assert main(argv + (["--store-in-card"] if store else [])) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("live eval: error: "), lines
    assert "is not the dataset" in lines[0] and "--other-dataset" in lines[0] and "never stored" in lines[0]
    assert model.read_bytes() == before, "the model file is untouched"
    assert not out_json.exists() and not model.with_suffix(".md").exists()


def test_other_dataset_figures_are_never_stored(
    own_model: Path, other_dataset: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    model = _copy(own_model, tmp_path)
    before = model.read_bytes()
    argv = ["eval", str(model), str(other_dataset), "--other-dataset", "--store-in-card", "--device", "cpu"]
    assert main(argv) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "--store-in-card" in lines[0] and "--other-dataset" in lines[0], lines
    assert model.read_bytes() == before


def test_store_in_card_refuses_a_report_of_another_dataset(own_model: Path, tmp_path: Path) -> None:
    model = _copy(own_model, tmp_path)
    before = model.read_bytes()
    with pytest.raises(UsageError, match="not the dataset"):
        store_in_card(model, {"dataset": "elsewhere", "dataset_match": "other"})
    assert model.read_bytes() == before


def test_other_dataset_runs_with_a_note(
    own_model: Path, other_dataset: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    model = _copy(own_model, tmp_path)
    before = model.read_bytes()
    out_json = tmp_path / "eval.json"
    argv = ["eval", str(model), str(other_dataset), "--other-dataset", "--json", str(out_json), "--device", "cpu"]
    assert main(argv) == 0
    output = capsys.readouterr()
    assert "note:" in output.out and "not the dataset" in output.out
    report = json.loads(out_json.read_text())
    assert report["dataset_match"] == "other"
    assert report["dataset_manifest_sha256"] == sha256_of_file(other_dataset / MANIFEST_NAME)
    assert model.read_bytes() == before


def test_own_dataset_runs_without_a_note_and_stores(
    own_model: Path, own_dataset: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    model = _copy(own_model, tmp_path)
    out_json = tmp_path / "eval.json"
    argv = ["eval", str(model), str(own_dataset), "--store-in-card", "--json", str(out_json), "--device", "cpu"]
    assert main(argv) == 0
    output = capsys.readouterr()
    assert "note:" not in output.out + output.err and "stored the metrics" in output.out
    assert json.loads(out_json.read_text())["dataset_match"] == "manifest"


def test_a_dataset_prepared_again_from_the_same_videos_is_scored_with_a_note(
    own_model: Path, reprepared_dataset: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    model = _copy(own_model, tmp_path)
    out_json = tmp_path / "eval.json"
    assert main(["eval", str(model), str(reprepared_dataset), "--json", str(out_json), "--device", "cpu"]) == 0
    output = capsys.readouterr().out
    assert "note:" in output and "prepared again from the videos" in output
    assert json.loads(out_json.read_text())["dataset_match"] == "videos"
