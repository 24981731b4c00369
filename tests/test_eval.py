"""`live eval`: metric functions on synthetic arrays, and the command on a tiny real dataset and model."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import cv2
import numpy as np
import onnxruntime
import pytest

from live.cli import main
from live.engines.landmarks import LandmarkConfig, LandmarkDetector
from live.face.body import MAX_SHIFT_FRACTION
from live.formats.card import read_card_from_metadata
from live.formats.dataset import load_dataset
from live.formats.sketch import face_mask
from live.offline.eval_report import card_metrics
from live.offline.evaluate import output_metrics
from live.offline.image_metrics import (
    PSNR_CAP_DB,
    consecutive_pairs,
    flicker_0_255,
    keypoint_distance_px,
    l1_0_255,
    nearest_landmark_frames,
    psnr_db,
    ssim,
)

VIDEO = Path(__file__).resolve().parents[1] / "data" / "jwp_intro.mp4"
SIZE_PX = 64
CLIP_FRAMES = 40


# ---------------------------------------------------------------- metric functions on synthetic arrays


def _textured_image(seed: int = 0, size_px: int = 96) -> np.ndarray:
    """A smooth random colour image in 40..215, so +-20 never clips."""
    rng = np.random.default_rng(seed)
    small = rng.integers(40, 216, (12, 12, 3), dtype=np.uint8)
    return cv2.resize(small, (size_px, size_px), interpolation=cv2.INTER_LINEAR)


def test_identical_images_score_perfectly() -> None:
    image = _textured_image()
    mask = np.zeros(image.shape[:2], dtype=bool)
    mask[20:60, 30:70] = True
    assert psnr_db(image, image) == math.inf
    assert psnr_db(image, image, mask) == math.inf
    assert ssim(image, image) == pytest.approx(1.0, abs=1e-9)
    assert ssim(image, image, mask) == pytest.approx(1.0, abs=1e-9)
    assert l1_0_255(image, image) == 0.0


def test_psnr_of_known_differences() -> None:
    image = _textured_image()
    pattern = np.where(np.indices(image.shape).sum(axis=0) % 2 == 0, 10, -10)  # every value off by exactly 10
    shifted = (image.astype(np.int16) + pattern).astype(np.uint8)
    assert psnr_db(image, shifted) == pytest.approx(10 * math.log10(255**2 / 100), abs=1e-9)
    assert l1_0_255(image, shifted) == pytest.approx(10.0)

    grey = np.full((256, 256, 3), 128, dtype=np.uint8)
    sigma = 5.0
    noisy = np.clip(np.rint(128 + np.random.default_rng(1).normal(0, sigma, grey.shape)), 0, 255).astype(np.uint8)
    assert psnr_db(grey, noisy) == pytest.approx(20 * math.log10(255 / sigma), abs=0.1)


def test_face_region_metrics_see_only_the_mask() -> None:
    image = _textured_image()
    mask = np.zeros(image.shape[:2], dtype=bool)
    mask[24:72, 24:72] = True
    damaged = image.copy()
    damaged[~mask] = 255 - damaged[~mask]  # background ruined, face untouched
    assert psnr_db(image, damaged, mask) == math.inf
    assert psnr_db(image, damaged) < 15
    assert ssim(image, damaged, mask) > ssim(image, damaged) + 0.3
    assert -1.0 <= ssim(image, damaged) < 0.7


def test_ssim_falls_as_noise_grows() -> None:
    image = _textured_image()
    rng = np.random.default_rng(2)
    scores = [
        ssim(image, np.clip(image + rng.normal(0, sigma, image.shape), 0, 255).astype(np.uint8)) for sigma in (2, 8, 32)
    ]
    assert 1.0 > scores[0] > scores[1] > scores[2] > 0.0


def test_keypoints_pairs_flicker_and_nearest_frames() -> None:
    landmarks = np.random.default_rng(3).uniform(0, 64, (478, 3)).astype(np.float32)
    moved = landmarks + np.array([3.0, 4.0, 100.0], dtype=np.float32)  # z is ignored
    assert keypoint_distance_px(landmarks, moved) == pytest.approx(5.0, abs=1e-5)

    pairs = consecutive_pairs(np.array([0, 0, 0, 0, 1, 1]), np.array([5, 6, 8, 9, 10, 11]))
    assert pairs == [(0, 1), (2, 3), (4, 5)]
    frames = np.zeros((6, 4, 4, 3), dtype=np.uint8)
    frames[1], frames[3], frames[5] = 10, 20, 30  # changes 10, 20, 30 across the pairs; 1 -> 2 is a gap
    assert flicker_0_255(frames, pairs) == pytest.approx(20.0)
    assert flicker_0_255(frames, []) is None

    candidates = np.stack([landmarks + offset for offset in (0.0, 2.0, 5.0)])
    queries = np.stack([landmarks + 0.4, landmarks + 4.0])
    assert nearest_landmark_frames(queries, candidates).tolist() == [0, 2]
    assert nearest_landmark_frames(queries, candidates, exclude=np.array([0, -1])).tolist() == [1, 2]


# ---------------------------------------------------------------- a tiny real dataset and model


@pytest.fixture(scope="module")
def tiny_dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`live prepare` on the first 40 frames of the shipped intro clip, at 64 px."""
    from live.offline.prepare import PrepareConfig, prepare_dataset

    folder = tmp_path_factory.mktemp("eval")
    clip = folder / "clip.mp4"
    capture = cv2.VideoCapture(str(VIDEO))
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"mp4v"), 25.0, (640, 480))
    for _ in range(CLIP_FRAMES):
        ok, frame = capture.read()
        assert ok, f"cannot read {VIDEO}"
        writer.write(frame)
    writer.release()
    capture.release()
    out = folder / "dataset"
    prepare_dataset(
        PrepareConfig(
            videos=(clip,), out=out, consent="Jon Peirce, published under GPL-3.0; test data", size_px=SIZE_PX
        )
    )
    return out


def _export_untrained(dataset_path: Path, out: Path, size_px: int) -> Path:
    import torch

    from live.formats.card import ModelCard, encode_plate
    from live.training.networks import GeneratorConfig, UnetGenerator
    from live.training.onnx_export import export_onnx

    dataset = load_dataset(dataset_path)
    manifest = dataset.manifest
    torch.manual_seed(0)
    config = GeneratorConfig(size_px=size_px, ngf=4)
    scale = size_px / manifest.size_px
    plate_base64, plate_sha256 = encode_plate(dataset.plates_bgr[0])
    neutral_transform = np.asarray(manifest.videos[0].neutral_transform) * scale
    card = ModelCard(
        name=out.stem,
        size_px=size_px,
        neutral_landmarks_px=np.asarray(manifest.neutral_landmarks_px, dtype=np.float32) * np.float32(scale),
        pose_range_deg=manifest.pose_range_deg,
        architecture=config.to_dict(),
        provenance={"consent": manifest.consent, "purpose": "tests: random weights"},
        template=manifest.template,
        plate_size_px=list(manifest.videos[0].frame_size_px),
        neutral_transform=neutral_transform.tolist(),
        plate_sha256=plate_sha256,
    )
    zeros = np.zeros((size_px, size_px, 3), dtype=np.uint8)
    export_onnx(UnetGenerator(config), card, out, [(zeros, zeros)], plate_base64)
    return out


@pytest.fixture(scope="module")
def tiny_model(tiny_dataset: Path) -> Path:
    return _export_untrained(tiny_dataset, tiny_dataset.parent / "models" / "tiny.onnx", SIZE_PX)


def _all_numbers(metrics: dict) -> list[float]:
    return [value for value in metrics.values() if isinstance(value, (int, float))]


def test_eval_writes_json_strip_and_card(
    tiny_dataset: Path, tiny_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    model = tmp_path / "model.onnx"
    shutil.copy(tiny_model, model)  # --store-in-card rewrites the file
    out_json, out_strip = tmp_path / "eval.json", tmp_path / "strip.png"
    code = main(
        [
            "eval",
            str(model),
            str(tiny_dataset),
            "--json",
            str(out_json),
            "--strip",
            str(out_strip),
            "--store-in-card",
            "--device",
            "cpu",
        ]
    )
    assert code == 0
    assert "nearest-frame baseline" in capsys.readouterr().out

    report = json.loads(out_json.read_text(), parse_constant=lambda name: pytest.fail(f"JSON holds {name}"))
    dataset = load_dataset(tiny_dataset)
    frames = int(dataset.indices("val").size)
    assert frames > 0
    for key in (
        "model_path",
        "model_sha256",
        "dataset",
        "split",
        "frames",
        "size_px",
        "frame_size_px",
        "provider",
        "model",
        "nearest_frame_baseline",
        "real_frames",
        "generator_ms_p50",
    ):
        assert key in report, key
    assert (report["split"], report["frames"], report["size_px"], report["provider"]) == (
        "val",
        frames,
        SIZE_PX,
        "CPUExecutionProvider",
    )
    for side in ("model", "nearest_frame_baseline"):
        metrics = report[side]
        assert all(math.isfinite(value) for value in _all_numbers(metrics)), side
        for key in ("l1_0_255_frame", "l1_0_255_face"):
            assert 0 <= metrics[key] <= 255
        for key in ("psnr_db_frame", "psnr_db_face"):
            assert 0 < metrics[key] <= PSNR_CAP_DB
        for key in ("ssim_bgr_mean_frame", "ssim_bgr_mean_face"):
            assert -1 <= metrics[key] <= 1
        assert 0 <= metrics["face_found_rate"] <= 1
        assert 0 <= metrics["akd_frames"] <= frames
        assert (metrics["akd_px"] is None) == (metrics["akd_frames"] == 0)
        assert metrics["flicker_0_255"] is None or metrics["flicker_0_255"] >= 0
    # Real frames of one clip: a copied neighbour is close, and MediaPipe finds its face.
    baseline = report["nearest_frame_baseline"]
    assert baseline["face_found_rate"] == 1.0 and baseline["akd_frames"] == frames and baseline["akd_px"] < 3
    assert baseline["psnr_db_frame"] > report["model"]["psnr_db_frame"]  # random weights lose to the lookup

    assert report["body_follow"] and len(report["body_shifts_px"]) == frames  # the plate's person followed
    measured = [shift for shift in report["body_shifts_px"] if shift is not None]
    limit_px = MAX_SHIFT_FRACTION * report["frame_size_px"][1] + 1e-6
    assert measured and all(abs(value) <= limit_px for shift in measured for value in shift)
    width_px, height_px = report["frame_size_px"]
    assert (width_px, height_px) == dataset.manifest.videos[0].frame_size_px  # the target's own size
    strip = cv2.imread(str(out_strip))
    assert strip.shape[1] == height_px + 3 * width_px and strip.shape[0] > min(6, frames) * height_px

    session = onnxruntime.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    card = read_card_from_metadata(session.get_modelmeta().custom_metadata_map, str(model))
    assert card.metrics["eval"] == card_metrics(report)["eval"]
    assert 0 <= card.metrics["export_parity_max_abs_difference"] < 1e-3
    assert card.metrics["eval"]["psnr_db_face"] == report["model"]["psnr_db_face"]
    assert "psnr_db_face" in model.with_suffix(".md").read_text()


def test_native_eval_scores_a_copy_of_the_real_frames_perfectly(tiny_dataset: Path, tiny_model: Path) -> None:
    from live.offline.evaluate import EvalConfig, evaluate

    dataset = load_dataset(tiny_dataset)
    validation = dataset.indices("val")
    perfect = tiny_dataset.parent / "perfect"
    perfect.mkdir(exist_ok=True)
    for index in validation:
        frame_index = dataset.manifest.frames[index].frame_index
        cv2.imwrite(str(perfect / f"{frame_index:06d}.png"), dataset.native_frame(index))
    result = evaluate(EvalConfig(tiny_model, tiny_dataset, device="cpu", compare=(("copy", perfect),)))
    copy = result.report["compared"]["copy"]
    assert copy["psnr_db_frame"] == copy["psnr_db_face"] == PSNR_CAP_DB
    assert result.real_bgr.shape[1:3] == dataset.plates_bgr[0].shape[:2]
    assert result.generated_bgr.shape == result.real_bgr.shape


def test_perfect_output_beats_the_nearest_frame_baseline(tiny_dataset: Path) -> None:
    dataset = load_dataset(tiny_dataset)
    validation, train = dataset.indices("val"), dataset.indices("train")
    real = dataset.images_bgr[validation]
    nearest = dataset.images_bgr[
        train[nearest_landmark_frames(dataset.landmarks_px[validation], dataset.landmarks_px[train])]
    ]
    masks = [face_mask(landmarks, SIZE_PX) for landmarks in dataset.landmarks_px[validation]]
    frame_indices = np.array([dataset.manifest.frames[i].frame_index for i in validation])
    pairs = consecutive_pairs(dataset.video_indices[validation], frame_indices)
    assert pairs
    with LandmarkDetector(LandmarkConfig(static_image_mode=True)) as detector:
        real_found = [detector.detect(image) for image in real]
        nearest_found = [detector.detect(image) for image in nearest]
    real_flicker = flicker_0_255(real, pairs)
    perfect = output_metrics(real, real.copy(), masks, real_found, real_found, pairs, real_flicker)
    lookup = output_metrics(real, nearest, masks, real_found, nearest_found, pairs, real_flicker)
    assert perfect["psnr_db_frame"] == perfect["psnr_db_face"] == PSNR_CAP_DB
    assert perfect["ssim_bgr_mean_frame"] == perfect["ssim_bgr_mean_face"] == 1.0
    assert perfect["l1_0_255_face"] == 0.0 and perfect["akd_px"] == 0.0 and perfect["flicker_ratio"] == 1.0
    for key in ("psnr_db_frame", "psnr_db_face", "ssim_bgr_mean_frame", "ssim_bgr_mean_face"):
        assert perfect[key] > lookup[key], key
    assert perfect["l1_0_255_face"] < lookup["l1_0_255_face"]
    assert perfect["akd_px"] < lookup["akd_px"]


def _expect_usage_error(argv: list[str], capsys: pytest.CaptureFixture, words: str) -> None:
    assert main(argv) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("live eval: error:") and "\n" not in error and words in error, error


def test_bad_inputs_are_one_line_usage_errors(
    tiny_dataset: Path, tiny_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    _expect_usage_error(["eval", str(tmp_path / "missing.onnx"), str(tiny_dataset)], capsys, "does not exist")
    _expect_usage_error(["eval", str(tiny_model), str(tmp_path / "no_dataset")], capsys, "not a dataset")

    wrong_size = _export_untrained(tiny_dataset, tmp_path / "wrong.onnx", 32)
    _expect_usage_error(["eval", str(wrong_size), str(tiny_dataset), "--device", "cpu"], capsys, "--size 32")

    no_validation = tmp_path / "no_validation"
    shutil.copytree(tiny_dataset, no_validation)
    manifest = json.loads((no_validation / "manifest.json").read_text())
    for entry in manifest["frames"]:
        entry["split"] = "train"
    (no_validation / "manifest.json").write_text(json.dumps(manifest))
    _expect_usage_error(["eval", str(tiny_model), str(no_validation), "--device", "cpu"], capsys, "no 'val' frames")


def test_eval_refuses_a_model_of_other_sketches(
    tiny_dataset: Path, tiny_model: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    from card_edit import copy_with_card

    other = copy_with_card(tiny_model, tmp_path / "sketch_v1.onnx", sketch_format_version=1)
    assert main(["eval", str(other), str(tiny_dataset), "--device", "cpu"]) == 2
    message = capsys.readouterr().err
    assert "was trained on sketch format v1" in message and "retrain it on this dataset" in message


def test_eval_moves_the_lids_as_live_run_does(tiny_dataset: Path, tiny_model: Path, tmp_path: Path) -> None:
    """A card with an eye response: eval warps the generated eyes (only there), --no-eye-warp leaves them."""
    from card_edit import copy_with_card

    from live.offline.evaluate import EvalConfig, evaluate

    response = {"asked": [0.1, 0.3], "drawn": [0.1, 0.2], "strength": 2.0}  # wide eyes drawn much too narrow
    model = copy_with_card(tiny_model, tmp_path / "warped.onnx", eye_response=response)
    warped = evaluate(EvalConfig(model, tiny_dataset, device="cpu"))
    plain = evaluate(EvalConfig(model, tiny_dataset, device="cpu", eye_warp=False))
    assert warped.report["eye_warp"] and not plain.report["eye_warp"]
    dataset = load_dataset(tiny_dataset)
    for k, index in enumerate(dataset.indices("val")):
        changed = np.abs(warped.generated_bgr[k].astype(int) - plain.generated_bgr[k].astype(int)).max(axis=2) > 0
        assert changed.any(), "the eyes were warped"
        frame = dataset.native_frame(index)
        with LandmarkDetector(LandmarkConfig(static_image_mode=True)) as detector:
            face = detector.detect(frame)
        assert face is not None
        eyes = face[[33, 133, 263, 362, 159, 145, 386, 374], :2]
        rows, columns = np.nonzero(changed)
        reach_px = 1.2 * np.ptp(eyes[:, 0])  # the eye boxes with their bands, well inside the face
        assert np.all(np.abs(columns - eyes[:, 0].mean()) < reach_px) and np.all(
            np.abs(rows - eyes[:, 1].mean()) < reach_px
        )
