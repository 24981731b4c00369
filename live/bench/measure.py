"""`live bench`: the speed of the avatar, measured side by side in one process on one input.

Phases, one after another (`seconds_per_phase` each, about 4x in all):
1. stages alone on the clip's first frames (live.bench.stages_alone): landmarks, retarget, sketch; then the
   generator, in 1 s blocks alternating with the reference pix2pix `unet_256` (live.training.reference_unet,
   exported by a child process so torch never enters this one), so background load hits both alike;
2. the threaded pipeline unthrottled (live.pipeline.run.run_pipeline, lossless: the source is not paced,
   every frame is rendered, buffers wait instead of dropping);
3. the same stages in one plain loop (live.pipeline.sequential.run_sequential): read, landmarks, retarget, sketch,
   generate, write;
4. the threaded pipeline paced at `paced_fps` (drops allowed, as in a call): capture-to-output latency,
   drops, CPU and memory, and the first output's time from the start (model and MediaPipe loading included).
The clip is looped (re-decoded, as a camera delivers fresh frames) until the phase's time is up.

Every run writes to the same sink, a virtual camera whose device discards frames (live.bench.instruments).
Results are reported by live.bench.report (JSON and table).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field, replace
from pathlib import Path

from live.bench.generators import export_reference, measure_generators
from live.bench.instruments import (
    PASTE_BACK_FRAME_SIZE_PX,
    LoopingSource,
    MeasuringSink,
    paste_back_call,
    peak_rss_mb,
    reset_peak_rss,
)
from live.bench.stages_alone import measure_stages, read_frames
from live.bench.timing import time_calls
from live.engines.generator import GeneratorSessionConfig
from live.engines.landmarks import LandmarkConfig
from live.errors import UsageError
from live.pipeline.presenter import Output
from live.pipeline.run import PipelineConfig, open_stages, run_pipeline
from live.pipeline.sequential import run_sequential
from live.pipeline.stages import default_generator_workers, worker_threads
from live.pipeline.stats import PipelineReport, TimingSummary, summarise

STAGE_FRAME_COUNT = 60
COLD_START_RUN_S = 0.5


@dataclass(frozen=True, slots=True)
class BenchConfig:
    """What `live bench` measures. landmarks: the pipeline's LandmarkConfig (detect width); intra_op_threads:
    each generator session's threads (0: its default); generator_workers: the pipeline's (0: its default; the
    sequential loop has one session with all their threads, sequential_threads()); reference: time unet_256."""

    model_path: Path
    source_text: str
    seconds_per_phase: float = 20.0
    device: str = "auto"
    intra_op_threads: int = 0
    generator_workers: int = 0
    landmarks: LandmarkConfig = field(default_factory=LandmarkConfig)
    paced_fps: float = 30.0
    reference: bool = True

    def sequential_threads(self) -> int:
        """The sequential loop's generator threads: as many as the pipeline's workers have together."""
        workers = self.generator_workers or default_generator_workers()
        threads = self.intra_op_threads or worker_threads(workers)
        return min(threads * workers, os.cpu_count() or 1)

    def pipeline(self, pace: bool, sequential: bool = False) -> PipelineConfig:
        """The pipeline configuration of a run: paced (drops allowed) or unthrottled (lossless); the
        sequential loop has one generator worker."""
        generator = GeneratorSessionConfig(self.model_path, self.device, self.intra_op_threads)
        workers = 1 if sequential else self.generator_workers
        return PipelineConfig(
            generator=generator, landmarks=self.landmarks, pace=pace, lossless=not pace, generator_workers=workers
        )


@dataclass(frozen=True, slots=True)
class PacedRun:
    """The paced phase: its report, the start-to-first-output time, CPU and memory."""

    report: PipelineReport
    first_output_s: float | None  # from opening the stages, in this warm process
    first_output_wall_s: float | None  # time.time() of the first frame at the sink
    cpu_percent: float | None
    rss_mb: float | None
    rss_peak_mb: float | None


@dataclass(frozen=True, slots=True)
class BenchResult:
    """Everything one `live bench` run measured (live.bench.report turns it into JSON and a table)."""

    config: BenchConfig
    provider: str
    size_px: int
    stages_ms: dict[str, TimingSummary]
    generator_ms: TimingSummary
    reference_ms: TimingSummary | None
    reference_note: str
    unthrottled: PipelineReport
    sequential: PipelineReport
    paced: PacedRun
    process_peak_rss_mb: float | None
    cold_start_first_output_s: float
    load_average: tuple[float, float]


def run_unthrottled(config: BenchConfig, sequential: bool) -> PipelineReport:
    """The threaded pipeline (or the sequential loop) on the looped clip, every frame rendered, as fast as it goes."""
    pipeline_config = config.pipeline(pace=False, sequential=sequential)
    if sequential:
        threads = config.sequential_threads()
        pipeline_config = replace(
            pipeline_config, generator=replace(pipeline_config.generator, intra_op_threads=threads)
        )
    with ExitStack() as stack:
        stages = stack.enter_context(open_stages(pipeline_config))
        sink = stack.enter_context(MeasuringSink(tuple(stages.card.plate_size_px), config.paced_fps))
        source = stack.enter_context(LoopingSource(config.source_text, config.seconds_per_phase))
        outputs = [Output(sink, keep_alive=True)]
        if sequential:
            return run_sequential(pipeline_config, source, outputs, stages)
        return run_pipeline(pipeline_config, source, outputs, stages)


def run_paced(config: BenchConfig) -> PacedRun:
    """The pipeline as in a call: paced input, drops allowed; timed from before the model and MediaPipe load."""
    reset = reset_peak_rss()
    start_s = time.perf_counter()
    pipeline_config = config.pipeline(pace=True)
    with ExitStack() as stack:
        source = stack.enter_context(LoopingSource(config.source_text, config.seconds_per_phase, config.paced_fps))
        stages = stack.enter_context(open_stages(pipeline_config))
        sink = stack.enter_context(MeasuringSink(tuple(stages.card.plate_size_px), config.paced_fps))
        report = run_pipeline(pipeline_config, source, [Output(sink, keep_alive=True)], stages)
    first_output_s = None if sink.first_write is None else sink.first_write[0] - start_s
    rss_mb = None if sink.rss_max_bytes is None else sink.rss_max_bytes / 2**20
    return PacedRun(
        report, first_output_s, sink.first_write_wall_s, sink.cpu_percent(), rss_mb, peak_rss_mb() if reset else None
    )


def run_bench(config: BenchConfig, progress: Callable[[str], None] = lambda text: None) -> BenchResult:
    """All phases, in order; `progress` hears what is being measured."""
    if config.seconds_per_phase <= 0 or config.paced_fps <= 0:
        raise UsageError("--seconds and --fps must be more than 0")
    load_start = os.getloadavg()[0]
    frames_bgr, fps = read_frames(config.source_text, STAGE_FRAME_COUNT)
    alone = config.pipeline(pace=True, sequential=True)  # one session, as the reference has
    with tempfile.TemporaryDirectory(prefix="live-bench-") as folder, open_stages(alone) as stages:
        size_px, provider = stages.card.size_px, stages.session.provider
        reference_path, reference_note = (None, "skipped (--no-reference)")
        if config.reference:
            progress("exporting the reference unet_256 (child process)")
            reference_path, reference_note = export_reference(Path(folder), size_px)
        progress("stages alone: landmarks, retarget, sketch")
        stages_ms, sketches_bgr = measure_stages(stages, frames_bgr, fps, config.seconds_per_phase / 2)
        progress("generator alone" + (", alternating with the reference" if reference_path else ""))
        generator_ms, reference_ms = measure_generators(
            stages, sketches_bgr, reference_path, config.seconds_per_phase, config.intra_op_threads
        )
        width_px, height_px = PASTE_BACK_FRAME_SIZE_PX
        progress(f"paste-back alone at {width_px}x{height_px}")
        paste_ms = time_calls(paste_back_call(stages, sketches_bgr), config.seconds_per_phase / 4)
        stages_ms[f"paste_back {width_px}x{height_px}"] = summarise(paste_ms)
    del frames_bgr, sketches_bgr
    process_peak_rss_mb = peak_rss_mb()
    progress("threaded pipeline, unthrottled")
    unthrottled = run_unthrottled(config, sequential=False)
    progress("sequential loop")
    sequential = run_unthrottled(config, sequential=True)
    progress(f"threaded pipeline, paced at {config.paced_fps:g} fps")
    paced = run_paced(config)
    progress("first output of a fresh process (child process)")
    cold_start_s = measure_cold_start(config)
    return BenchResult(
        config,
        provider,
        size_px,
        stages_ms,
        generator_ms,
        reference_ms,
        reference_note,
        unthrottled,
        sequential,
        paced,
        process_peak_rss_mb,
        cold_start_s,
        (load_start, os.getloadavg()[0]),
    )


def measure_cold_start(config: BenchConfig) -> float:
    """Seconds from starting a fresh Python process to its first frame at the sink: interpreter start,
    imports, model and MediaPipe loading included (the child runs `python -m live.bench.measure`)."""
    arguments = [
        str(config.model_path),
        config.source_text,
        config.device,
        str(config.intra_op_threads),
        str(config.generator_workers),
        str(config.landmarks.detect_width_px),
    ]
    start_s = time.time()
    result = subprocess.run(
        [sys.executable, "-m", "live.bench.measure", *arguments], capture_output=True, text=True, timeout=300
    )
    if result.returncode != 0:
        last_line = (result.stderr.strip().splitlines() or ["no message"])[-1]
        raise RuntimeError(f"the cold-start child process failed: {last_line}")
    return float(result.stdout.split()[-1]) - start_s


def _cold_start_child(arguments: list[str]) -> None:
    """Run the paced pipeline briefly; print the wall-clock time (time.time) of the first frame at the sink."""
    model_path, source_text, device, threads, workers, detect_width_px = arguments
    landmarks = replace(LandmarkConfig(), detect_width_px=int(detect_width_px))
    config = BenchConfig(
        Path(model_path),
        source_text,
        COLD_START_RUN_S,
        device,
        intra_op_threads=int(threads),
        generator_workers=int(workers),
        landmarks=landmarks,
        reference=False,
    )
    first_output_wall_s = run_paced(config).first_output_wall_s
    if first_output_wall_s is None:
        raise SystemExit("no frame reached the sink")
    print(repr(first_output_wall_s))


if __name__ == "__main__":
    _cold_start_child(sys.argv[1:])
