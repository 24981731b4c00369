"""Generator stage: the exported pix2pix generator run by ONNX Runtime (no torch).

Devices map to ONNX Runtime execution providers. An explicit device that cannot
run raises UsageError with the reason (for CUDA: the missing library, driver or
GPU); `auto` tries CUDA, DirectML and CoreML and falls back to CPU, saying why
in `provider_note`. ORT's own fallback to CPU is never accepted silently: the
providers of the created session are compared with the ones asked for.

Probing devices lives in live.engines.devices (DEVICES is re-exported here). The CUDA and TensorRT
paths (probes, IO binding with CPU buffers, which ORT
copies to and from the GPU) follow ORT's documentation but are untested here
(no GPU on the development machine).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import onnxruntime

from live.closing import Closing
from live.engines.devices import (
    AUTO_ORDER,
    DEVICES,
    PROVIDERS,
    clean_ort_message,
    device_problem,
    ort_error_reason,
)
from live.engines.stderr_capture import captured_stderr
from live.errors import UsageError
from live.formats.card import (
    INPUT_NAME,
    OUTPUT_NAME,
    PLATE_INPUT_NAME,
    ModelCard,
    read_card_from_metadata,
    read_plate_from_metadata,
)

__all__ = ["DEVICES", "GeneratorSession", "GeneratorSessionConfig", "default_intra_op_threads"]


@dataclass(frozen=True, slots=True)
class GeneratorSessionConfig:
    """model_path: an ONNX file written by `live export`; device: one of DEVICES;
    intra_op_threads: CPU threads for one inference (0 = default_intra_op_threads())."""

    model_path: Path
    device: str = "auto"
    intra_op_threads: int = 0


def default_intra_op_threads() -> int:
    """Half the cores, at least 2 (1 on a single core) and at most 4. With threads that sleep instead of spinning
    (session_options), a second generator thread uses the core the landmark thread leaves idle between frames;
    on 2 cores it lowered paced latency without costing unthrottled fps (docs/performance.md).
    The format-1 avatar, half as costly, gained nothing from it, so this was 1 on 2 cores before."""
    cores = os.cpu_count() or 1
    return 1 if cores < 2 else min(4, max(2, cores // 2))


def session_options(intra_op_threads: int) -> onnxruntime.SessionOptions:
    """The ORT session options of every generator run (also `live bench`'s reference, for a fair comparison)."""
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    options.intra_op_num_threads = intra_op_threads or default_intra_op_threads()
    options.inter_op_num_threads = 1
    # Spinning threads would take the cores the landmark thread needs between frames.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return options


def _tensorrt_options() -> dict[str, str]:
    """Cache built TensorRT engines per user, so only the first start takes minutes (fp32, like the export)."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "live" / "tensorrt"
    cache.mkdir(parents=True, exist_ok=True)
    return {"trt_engine_cache_enable": "True", "trt_engine_cache_path": str(cache)}


def _check_model_file(path: Path) -> None:
    if not path.is_file():
        raise UsageError(f"model {path} does not exist" if not path.exists() else f"model {path} is not a file")
    try:
        with path.open("rb") as handle:
            handle.read(1)
    except OSError as error:
        raise UsageError(f"cannot read model {path}: {error.strerror}") from error


class GeneratorSession(Closing):
    """One ONNX Runtime session of a generator: `generate(sketch_bgr, plate_bgr) -> image_bgr`.

    The generator paints the head over `plate_bgr`, the target's own frame (`plate_bgr` of the session,
    native size) warped into the current head crop. `plate_bgr` is the native plate, `neutral_transform`
    the card's usual plate->crop transform and `neutral_plate_crop_bgr` the plate in that crop (used when
    generate() is given no plate)."""

    def __init__(self, config: GeneratorSessionConfig) -> None:
        if config.device not in DEVICES:
            raise UsageError(f"unknown device {config.device!r}: use one of {', '.join(DEVICES)}")
        self.config = config
        path = Path(config.model_path)
        _check_model_file(path)
        options = session_options(config.intra_op_threads)
        if config.device == "auto":
            self._session, self.provider_note = self._open_auto(path, options)
        else:
            problem = device_problem(config.device)
            if problem:
                raise UsageError(f"device {config.device} cannot run: {problem}")
            self._session = self._open(path, options, config.device)
            self.provider_note = f"{config.device}: running on {PROVIDERS[config.device]}"
        self.provider: str = self._session.get_providers()[0]
        metadata = self._session.get_modelmeta().custom_metadata_map
        self.card: ModelCard = read_card_from_metadata(metadata, str(path))
        self.plate_bgr: np.ndarray = read_plate_from_metadata(metadata, self.card, str(path))
        self._check_tensors(path)
        size_px = self.card.size_px
        self.neutral_transform = np.asarray(self.card.neutral_transform, dtype=np.float64)
        self.neutral_plate_crop_bgr = cv2.warpAffine(
            self.plate_bgr,
            self.neutral_transform,
            (size_px, size_px),
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_REPLICATE,
        )
        self._input_bgr = np.zeros((1, size_px, size_px, 3), dtype=np.uint8)
        self._plate_input_bgr = self.neutral_plate_crop_bgr[None].copy()
        self._binding = self._session.io_binding()
        self._binding.bind_input(INPUT_NAME, "cpu", 0, np.uint8, self._input_bgr.shape, self._input_bgr.ctypes.data)
        self._binding.bind_input(
            PLATE_INPUT_NAME, "cpu", 0, np.uint8, self._plate_input_bgr.shape, self._plate_input_bgr.ctypes.data
        )

    def _open(self, path: Path, options: onnxruntime.SessionOptions, device: str) -> onnxruntime.InferenceSession:
        """A session on `device`; UsageError when ORT cannot load the file or falls back to another provider."""
        wanted = PROVIDERS[device]
        providers: list = [(wanted, _tensorrt_options()) if device == "tensorrt" else wanted]
        providers += ["CUDAExecutionProvider"] if device == "tensorrt" else []
        providers += ["CPUExecutionProvider"] if device != "cpu" else []
        with captured_stderr() as log:
            try:
                session = onnxruntime.InferenceSession(str(path), options, providers=providers, enable_fallback=0)
            except Exception as error:  # ORT raises its own Fail/InvalidProtobuf/... classes
                session, failure = None, error
        if session is None:
            if device == "cpu" or "protobuf" in str(failure).lower() or "Load model" in str(failure):
                raise UsageError(
                    f"{path} is not a readable ONNX model ({clean_ort_message(str(failure))})"
                ) from failure
            raise UsageError(f"device {device} cannot load {path}: {clean_ort_message(str(failure))}") from failure
        if session.get_providers()[0] != wanted:
            raise UsageError(f"device {device} cannot run: {ort_error_reason(log[0])}")
        if log[0].strip():
            sys.stderr.write(log[0])
        return session

    def _open_auto(self, path: Path, options: onnxruntime.SessionOptions) -> tuple[onnxruntime.InferenceSession, str]:
        """The first accelerator that works, else CPU; the note says what was skipped and why."""
        skipped = []
        for device in AUTO_ORDER:
            if PROVIDERS[device] not in onnxruntime.get_available_providers():
                continue  # not built into this onnxruntime: nothing to report
            problem = device_problem(device)
            if problem is None:
                try:
                    return self._open(path, options, device), f"auto: running on {PROVIDERS[device]}"
                except UsageError as error:
                    if "not a readable ONNX model" in str(error):
                        raise
                    problem = str(error).removeprefix(f"device {device} cannot run: ")
            skipped.append(f"{device.upper() if device == 'cuda' else device} not usable ({problem})")
        session = self._open(path, options, "cpu")
        return session, "auto: " + "; ".join(skipped + ["running on CPU"])

    def _check_tensors(self, path: Path) -> None:
        """The inputs and the `image` output the card's IO format promises, from the session's metadata: uint8
        [1, S, S, 3] each (a float or channels-first output would fail at the first frame)."""
        size_px = self.card.size_px
        wanted = [1, size_px, size_px, 3]
        inputs = {tensor.name: tensor for tensor in self._session.get_inputs()}
        outputs = {tensor.name: tensor for tensor in self._session.get_outputs()}
        for name in (INPUT_NAME, PLATE_INPUT_NAME):
            tensor = inputs.get(name)
            if tensor is None or tensor.type != "tensor(uint8)" or list(tensor.shape) != wanted:
                raise UsageError(
                    f"{path}: tensors do not match its card (need uint8 inputs {INPUT_NAME!r} and "
                    f"{PLATE_INPUT_NAME!r} [1, {size_px}, {size_px}, 3] and output {OUTPUT_NAME!r}); re-export it"
                )
        output = outputs.get(OUTPUT_NAME)
        if output is None or output.type != "tensor(uint8)" or list(output.shape) != wanted:
            found = "none" if output is None else f"{output.type} {list(output.shape)}"
            raise UsageError(
                f"{path}: its output {OUTPUT_NAME!r} must be tensor(uint8) {wanted} for its card, found {found}; "
                "re-export it with `live export`"
            )

    def generate(
        self, sketch_bgr: np.ndarray, out_bgr: np.ndarray | None = None, plate_bgr: np.ndarray | None = None
    ) -> np.ndarray:
        """The generator's (S, S, 3) uint8 BGR head crop for an (S, S, 3) uint8 BGR sketch, painted over
        `plate_bgr` (the plate in this crop; None: neutral_plate_crop_bgr).

        The result is written straight into `out_bgr` (C-contiguous (S, S, 3) uint8) when given,
        else into a new array owned by the caller; ORT allocates nothing else per frame.
        """
        if self._session is None:
            raise RuntimeError("GeneratorSession is closed")
        expected_shape = self._input_bgr.shape[1:]
        if sketch_bgr.shape != expected_shape or sketch_bgr.dtype != np.uint8:
            raise ValueError(f"sketch must be {expected_shape} uint8, got {sketch_bgr.shape} {sketch_bgr.dtype}")
        if out_bgr is None:
            out_bgr = np.empty(expected_shape, dtype=np.uint8)
        elif out_bgr.shape != expected_shape or out_bgr.dtype != np.uint8 or not out_bgr.flags.c_contiguous:
            raise ValueError(f"out_bgr must be C-contiguous {expected_shape} uint8")
        np.copyto(self._input_bgr[0], sketch_bgr)
        plate = self.neutral_plate_crop_bgr if plate_bgr is None else plate_bgr
        if plate.shape != expected_shape or plate.dtype != np.uint8:
            raise ValueError(f"plate must be {expected_shape} uint8, got {plate.shape} {plate.dtype}")
        np.copyto(self._plate_input_bgr[0], plate)
        self._binding.bind_output(OUTPUT_NAME, "cpu", 0, np.uint8, self._input_bgr.shape, out_bgr.ctypes.data)
        self._session.run_with_iobinding(self._binding)
        self._binding.synchronize_outputs()
        return out_bgr

    def close(self) -> None:
        """Release the session; safe to call twice."""
        self._binding = None
        self._session = None
