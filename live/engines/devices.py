"""Devices: which ONNX Runtime execution providers can run here, and why not.

Cheap probes (ctypes loads of the NVIDIA driver and of ORT's provider library)
find the reason a GPU cannot be used without creating a session, so `auto`
can skip it without ORT's loud C-level errors; `captured_stderr` catches those
errors when a session is created anyway, to name the reason of ORT's own
fallback to CPU. The CUDA/TensorRT probes are untested here (no GPU).
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import io
import re
import sys
from pathlib import Path

import onnxruntime

from live.errors import UsageError

DEVICES = ("auto", "cpu", "cuda", "tensorrt", "coreml", "directml")
PROVIDERS: dict[str, str] = {
    "cpu": "CPUExecutionProvider",
    "cuda": "CUDAExecutionProvider",
    "tensorrt": "TensorrtExecutionProvider",
    "coreml": "CoreMLExecutionProvider",
    "directml": "DmlExecutionProvider",
}
# TensorRT builds its engine for minutes on first use: only on request, never under auto.
AUTO_ORDER = ("cuda", "directml", "coreml")
_WINDOWS = sys.platform == "win32"
_SOURCE_LOCATION = re.compile(r"\S+\.(cc|cpp|h):\d+ (.*?\) )?")


def _provider_library(name: str) -> Path:
    filename = f"onnxruntime_providers_{name}.dll" if _WINDOWS else f"libonnxruntime_providers_{name}.so"
    return Path(onnxruntime.__file__).parent / "capi" / filename


def _preload_cuda_libraries() -> None:
    """Let ORT load CUDA/cuDNN from pip's nvidia-* wheels if present; its printed complaints are dropped
    (the probe below reports the first missing library precisely)."""
    preload = getattr(onnxruntime, "preload_dlls", None)
    if preload is None:
        return
    with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(OSError, RuntimeError):
        preload()


def _gpu_driver_problem() -> str | None:
    """Why the NVIDIA driver cannot run CUDA (no driver, no GPU), or None when a GPU is there."""
    try:
        driver = ctypes.CDLL("nvcuda.dll" if _WINDOWS else "libcuda.so.1")
    except OSError as error:
        return f"no NVIDIA driver ({error})"
    status = driver.cuInit(0)
    count = ctypes.c_int(0)
    if status == 0:
        status = driver.cuDeviceGetCount(ctypes.byref(count))
    if status != 0:
        message = ctypes.c_char_p()
        driver.cuGetErrorString(status, ctypes.byref(message))
        return f"CUDA driver error {status}: {(message.value or b'unknown').decode()}"
    return None if count.value > 0 else "no NVIDIA GPU found"


@functools.cache
def _cuda_problem(provider_library: str = "cuda") -> str | None:
    """Why CUDA (or TensorRT, which needs CUDA too) cannot run here, or None when it should."""
    provider = PROVIDERS["tensorrt" if provider_library == "tensorrt" else "cuda"]
    if provider not in onnxruntime.get_available_providers():
        return f"this onnxruntime has no {provider} (install onnxruntime-gpu instead of onnxruntime)"
    problems = []
    driver_problem = _gpu_driver_problem()
    if driver_problem:
        problems.append(driver_problem)
    _preload_cuda_libraries()
    try:
        # On Windows, search the DLL's own folder and PATH as ORT does (LOAD_WITH_ALTERED_SEARCH_PATH).
        ctypes.CDLL(str(_provider_library(provider_library)), **({"winmode": 0x8} if _WINDOWS else {}))
    except OSError as error:
        fix = (
            "install TensorRT 10 libraries (libnvinfer)"
            if "nvinfer" in str(error)
            else f"pip install 'onnxruntime-gpu[cuda,cudnn]', or install CUDA {_cuda_major()} and cuDNN 9"
        )
        problems.append(f"missing library: {error} (fix: {fix})")
    return "; ".join(problems) or None


def _cuda_major() -> str:
    """The CUDA major version this onnxruntime was built for ("13"), or "?"."""
    from onnxruntime.capi import onnxruntime_validation

    try:
        return str(onnxruntime_validation.get_package_name_and_version_info()[2] or "?").split(".")[0]
    except (AttributeError, IndexError, TypeError):
        return "?"


def device_problem(device: str) -> str | None:
    """Why `device` cannot run on this machine as far as cheap probes tell (no session is created), or None."""
    if device not in PROVIDERS:
        raise UsageError(f"unknown device {device!r}: use one of {', '.join(DEVICES)}")
    if device == "cuda":
        return _cuda_problem("cuda")
    if device == "tensorrt":
        return _cuda_problem("tensorrt")
    if PROVIDERS[device] not in onnxruntime.get_available_providers():
        hint = {
            "coreml": "it exists on macOS only",
            "directml": "it needs Windows and onnxruntime-directml",
            "cpu": "reinstall onnxruntime",
        }[device]
        return f"this onnxruntime has no {PROVIDERS[device]} ({hint})"
    return None


def ort_error_reason(log_text: str) -> str:
    """The most useful line of ORT's error log (e.g. the missing library), or a generic reason."""
    lines = log_text.splitlines()
    for marker in ("[E:", "[W:"):
        for line in lines:
            if marker in line:
                match = re.search(r"with error: (.*)", line) or re.search(r"\] (.*)", line)
                return clean_ort_message(match.group(1) if match else line)
    return "onnxruntime fell back to CPU without logging why"


def clean_ort_message(text: str) -> str:
    """ORT's message without source locations and signatures, one line, at most 300 characters."""
    return " ".join(_SOURCE_LOCATION.sub("", text).split())[:300]
