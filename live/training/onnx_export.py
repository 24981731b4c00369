"""Export a trained generator to ONNX with its model card, and verify it against torch."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from live.formats.card import (
    CARD_METADATA_KEY,
    INPUT_NAME,
    OUTPUT_NAME,
    PLATE_INPUT_NAME,
    PLATE_METADATA_KEY,
    ModelCard,
)
from live.formats.replacing import replacing
from live.training.fast_export import InferenceUnet
from live.training.networks import Uint8Wrapper, UnetGenerator

OPSET_VERSION = 17
PARITY_TOLERANCE = 1e-3


class ExportError(Exception):
    """The model could not be exported (it does not match torch, or the file could not be written);
    nothing was left behind and a model already at the path is unchanged."""


def export_onnx(
    generator: UnetGenerator,
    card: ModelCard,
    path: Path,
    check_inputs_bgr: list[tuple[np.ndarray, np.ndarray]],
    plate_base64: str,
) -> float:
    """Write `generator` to `path` (opset 17, fixed 1xHxWx3 uint8 inputs sketch and plate) with `card`
    and the native plate (base64 PNG, see live.formats.card.encode_plate) in its metadata.

    Runs ONNX Runtime and torch on `check_inputs_bgr` ((sketch, plate crop) pairs) and returns the max abs
    difference of their float outputs; above PARITY_TOLERANCE the file is
    removed and ExportError raised.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with replacing(path) as temporary:
            difference = _write_checked(generator, card, temporary, check_inputs_bgr, plate_base64)
    except OSError as error:  # a read-only folder, a full disk, a quota
        reason = error.strerror or str(error)
        raise ExportError(f"cannot write {path}: {reason}; nothing was written") from error
    return difference


def _write_checked(
    generator: UnetGenerator,
    card: ModelCard,
    temporary: Path,
    check_inputs_bgr: list[tuple[np.ndarray, np.ndarray]],
    plate_base64: str,
) -> float:
    """Export to `temporary` with the card and plate in its metadata; the parity difference (ExportError above
    PARITY_TOLERANCE)."""
    wrapper = Uint8Wrapper(generator.eval()).eval()
    exported = Uint8Wrapper(InferenceUnet(generator)).eval()  # the same function, faster on CPU (fast_export.py)
    export_uint8_graph(exported, generator.config.size_px, temporary)
    difference = parity_difference(wrapper, temporary, check_inputs_bgr)
    if difference >= PARITY_TOLERANCE:  # an existing model at the path is left as it was
        raise ExportError(
            f"ONNX Runtime differs from torch by {difference:.2e} (limit {PARITY_TOLERANCE:.0e}); nothing was written"
        )
    card.metrics["export_parity_max_abs_difference"] = float(f"{difference:.3g}")
    store_metadata(temporary, card, plate_base64)
    return difference


def export_uint8_graph(module: torch.nn.Module, size_px: int, path: Path) -> None:
    """Trace a uint8 (sketch, plate) -> (image, image_float) module of size_px into an ONNX file at `path`."""
    example = torch.zeros(1, size_px, size_px, 3, dtype=torch.uint8)
    with torch.no_grad():
        torch.onnx.export(
            module,
            (example, example),
            str(path),
            input_names=[INPUT_NAME, PLATE_INPUT_NAME],
            output_names=[OUTPUT_NAME, OUTPUT_NAME + "_float"],
            opset_version=OPSET_VERSION,
            dynamo=False,
        )


def store_metadata(path: Path, card: ModelCard, plate_base64: str) -> None:
    """Put the card and the plate into the ONNX file's metadata (producer "live")."""
    import onnx

    model = onnx.load(str(path))
    for key, value in ((CARD_METADATA_KEY, card.to_json()), (PLATE_METADATA_KEY, plate_base64)):
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    model.producer_name = "live"
    onnx.save(model, str(path))


def parity_difference(wrapper: Uint8Wrapper, onnx_path: Path, inputs_bgr: list[tuple[np.ndarray, np.ndarray]]) -> float:
    """Max abs difference between torch and ONNX Runtime float outputs over the given (sketch, plate) pairs."""
    import onnxruntime

    session = onnxruntime.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    worst = 0.0
    with torch.no_grad():
        for sketch_bgr, plate_bgr in inputs_bgr:
            batch, plate = np.ascontiguousarray(sketch_bgr[None]), np.ascontiguousarray(plate_bgr[None])
            _, expected = wrapper(torch.from_numpy(batch), torch.from_numpy(plate))
            _, actual = session.run(None, {INPUT_NAME: batch, PLATE_INPUT_NAME: plate})
            worst = max(worst, float(np.abs(actual - expected.numpy()).max()))
    return worst
