"""The generator against the reference pix2pix unet_256, timed side by side in alternating blocks."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnxruntime

from live.bench.timing import MIN_CALLS, WARMUP_CALLS, time_one
from live.engines.generator import session_options
from live.pipeline.stages import Stages
from live.pipeline.stats import TimingSummary, summarise

GENERATOR_BLOCK_S = 1.0


def export_reference(folder: Path, size_px: int) -> tuple[Path | None, str]:
    """pix2pix unet_256 exported by a child process (torch stays out of this one); (None, why) without torch."""
    if importlib.util.find_spec("torch") is None:
        return None, "torch not installed"
    if size_px % 256:
        return None, f"not run: unet_256 needs a side that is a multiple of 256 px, the model's is {size_px} px"
    path = folder / "reference_unet_256.onnx"
    command = [sys.executable, "-m", "live.training.reference_unet", str(path), "--size-px", str(size_px)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=900)
    if result.returncode != 0:
        last_line = (result.stderr.strip().splitlines() or ["no message"])[-1]
        raise RuntimeError(f"exporting the reference unet_256 failed: {last_line}")
    return (
        path,
        f"pix2pix unet_256 ngf 64, random weights, float NCHW input, same session options on {size_px}x{size_px}",
    )


def measure_generators(
    stages: Stages,
    sketches_bgr: list[np.ndarray],
    reference_path: Path | None,
    seconds_per_phase: float,
    intra_op_threads: int,
) -> tuple[TimingSummary, TimingSummary | None]:
    """The generator alone and the reference (same session options and provider), in alternating blocks of
    GENERATOR_BLOCK_S, so that load from other programs hits both alike while each runs with warm caches."""
    session = stages.session
    output_bgr = np.empty_like(sketches_bgr[0])

    def generate(index: int) -> None:
        session.generate(sketches_bgr[index % len(sketches_bgr)], output_bgr)

    calls: list[Callable[[int], object]] = [generate]
    if reference_path is not None:
        providers = list(dict.fromkeys([session.provider, "CPUExecutionProvider"]))
        reference = onnxruntime.InferenceSession(
            str(reference_path), session_options(intra_op_threads), providers=providers
        )
        inputs = [
            np.ascontiguousarray((sketch.astype(np.float32) / 127.5 - 1.0).transpose(2, 0, 1)[None])
            for sketch in sketches_bgr[:8]
        ]
        calls.append(lambda index: reference.run(None, {"input": inputs[index % len(inputs)]}))
    for call in calls:
        for index in range(WARMUP_CALLS):
            call(index)
    samples_ms: list[list[float]] = [[] for _ in calls]
    block_s = min(GENERATOR_BLOCK_S, seconds_per_phase / 4)
    deadline_s = time.perf_counter() + seconds_per_phase
    index = 0
    while time.perf_counter() < deadline_s or min(len(samples) for samples in samples_ms) < MIN_CALLS:
        for call, samples in zip(calls, samples_ms):
            call(index)  # the first run after switching models reloads caches: not timed
            block_end_s = time.perf_counter() + block_s
            while True:
                samples.append(time_one(call, index))
                index += 1
                if time.perf_counter() >= block_end_s:
                    break
    return summarise(samples_ms[0]), summarise(samples_ms[1]) if reference_path is not None else None
