"""The fine-detail measures of `live eval` and `live drive-eval`: the face's Laplacian-variance ratio and GMSD."""

from __future__ import annotations

import json
import math
from pathlib import Path

import cv2
import numpy as np
import pytest
from test_eval import tiny_dataset, tiny_model  # noqa: F401 (fixtures)

from live.cli import main
from live.offline.detail_reference import dataset_face_detail, detail_figures, median_detail
from live.offline.image_metrics import (
    DEFINITIONS,
    DETAIL_SIZE_PX,
    detail_metrics,
    face_box_grey,
    gmsd,
    laplacian_variance,
)

DETAIL_KEYS = ("detail_ratio_face", "laplacian_variance_face", "gmsd_face")


def _noise_image(size_px: int = DETAIL_SIZE_PX, seed: int = 0) -> np.ndarray:
    """Grey random texture in 64..191, as BGR (equal channels), so a 2x contrast about 128 never clips."""
    grey = np.random.default_rng(seed).integers(64, 192, (size_px, size_px), dtype=np.uint8)
    return np.repeat(grey[:, :, None], 3, axis=2)


def _whole(image: np.ndarray) -> np.ndarray:
    return np.ones(image.shape[:2], dtype=bool)


def test_identical_images_keep_all_detail_and_the_same_edges() -> None:
    image = _noise_image()
    figures = detail_metrics(image[None], image[None].copy(), [_whole(image)])
    assert figures["detail_ratio_face"] == 1.0
    assert figures["gmsd_face"] == 0.0
    assert figures["laplacian_variance_face"] == pytest.approx(laplacian_variance(face_box_grey(image, _whole(image))))


def test_a_blurred_image_loses_detail_and_edges() -> None:
    image = _noise_image()
    blurred = cv2.GaussianBlur(image, (0, 0), 1.5)
    figures = detail_metrics(image[None], blurred[None], [_whole(image)])
    assert figures["detail_ratio_face"] < 0.5
    assert figures["gmsd_face"] > 0.05


def test_twice_the_contrast_gives_four_times_the_laplacian_variance() -> None:
    image = _noise_image()
    stronger = (2 * image.astype(np.int16) - 128).astype(np.uint8)  # 64..191 -> 0..254, no clipping
    figures = detail_metrics(image[None], stronger[None], [_whole(image)])
    assert figures["detail_ratio_face"] == pytest.approx(4.0, rel=1e-9)
    assert figures["gmsd_face"] > 0


def test_the_face_box_is_the_masks_bounding_box_at_the_detail_size() -> None:
    image = np.zeros((120, 200, 3), dtype=np.uint8)
    image[30:70, 50:130] = 200  # the face box, bright; everything outside it black
    mask = np.zeros(image.shape[:2], dtype=bool)
    mask[30:70, 50:130] = True
    mask[30, 50] = True
    box = face_box_grey(image, mask)
    assert box.shape == (DETAIL_SIZE_PX, DETAIL_SIZE_PX)
    assert box.min() == pytest.approx(200.0)
    with pytest.raises(ValueError, match="non-empty"):
        face_box_grey(image, np.zeros(image.shape[:2], dtype=bool))


def test_gmsd_is_symmetric_and_refuses_different_shapes() -> None:
    a = face_box_grey(_noise_image(seed=1), _whole(_noise_image()))
    b = cv2.GaussianBlur(a, (0, 0), 1.0)
    assert gmsd(a, b) == pytest.approx(gmsd(b, a))
    with pytest.raises(ValueError, match="shape"):
        gmsd(a, a[:-2])


def test_definitions_name_the_new_figures() -> None:
    for key in DETAIL_KEYS:
        assert key in DEFINITIONS, key
    assert "Laplacian" in DEFINITIONS["detail_ratio_face"] and "Xue" in DEFINITIONS["gmsd_face"]


def test_eval_json_carries_detail_and_gmsd(tiny_dataset: Path, tiny_model: Path, tmp_path: Path) -> None:  # noqa: F811
    out_json = tmp_path / "eval.json"
    assert main(["eval", str(tiny_model), str(tiny_dataset), "--json", str(out_json), "--device", "cpu"]) == 0
    report = json.loads(out_json.read_text())
    for side in ("model", "nearest_frame_baseline"):
        figures = report[side]
        for key in DETAIL_KEYS:
            assert isinstance(figures[key], float) and math.isfinite(figures[key]), (side, key)
        assert figures["detail_ratio_face"] > 0 and 0 <= figures["gmsd_face"] < 1
    # The baseline copies real frames of the same clip, so its edges are nearer the real ones than those that
    # random weights paint.
    assert report["nearest_frame_baseline"]["gmsd_face"] < report["model"]["gmsd_face"]
    for key in DETAIL_KEYS:
        assert key in report["definitions"]
    # The real faces' detail, the ratio's denominator, is that of the dataset's held-out frames as recorded.
    model = report["model"]
    real_variance = model["laplacian_variance_face"] / model["detail_ratio_face"]
    assert real_variance == pytest.approx(dataset_face_detail(tiny_dataset), rel=1e-3)


def test_detail_figures_are_the_ratio_of_the_output_faces_to_the_reference() -> None:
    figures = detail_figures([2.0, math.nan, 4.0], ("real", 6.0))
    assert figures["ratio"] == pytest.approx(0.5) and figures["output_laplacian_variance"] == pytest.approx(3.0)
    assert detail_figures([math.nan], ("real", 6.0))["ratio"] is None
    assert median_detail([{"detail": {"ratio": r}} for r in (0.4, None, 0.8, 0.6)]) == {"ratio": 0.6}


def test_drive_eval_reports_the_detail_ratio_against_the_datasets_real_faces(
    tiny_dataset: Path,  # noqa: F811
    tiny_model: Path,  # noqa: F811
    tmp_path: Path,
    capsys: pytest.CaptureFixture,
) -> None:
    clip = tiny_dataset.parent / "clip.mp4"  # the dataset's own 40 frames drive the model
    out_json = tmp_path / "drive.json"
    argv = ["drive-eval", str(tiny_model), str(clip), "--dataset", str(tiny_dataset), "--json", str(out_json)]
    assert main(argv) == 0
    assert "detail ratio (output face / held-out frames of" in capsys.readouterr().out
    detail = json.loads(out_json.read_text())["drivers"][0]["detail"]
    assert detail["reference_laplacian_variance"] == pytest.approx(dataset_face_detail(tiny_dataset), abs=1e-3)
    assert detail["reference"].startswith("held-out frames of")
    if detail["output_laplacian_variance"] is not None:  # random weights: MediaPipe may find no face
        ratio = detail["output_laplacian_variance"] / detail["reference_laplacian_variance"]
        assert detail["ratio"] == pytest.approx(ratio, abs=1e-3)
