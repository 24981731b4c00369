"""What `live bench` prints and writes: the machine it ran on, every figure, and the targets.

The JSON always carries the machine (cores, CPU model, ONNX Runtime version and providers), so figures
from different machines are never mixed up, and the load average at the start and end of the run, as
other programs on the machine slow every phase down.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Any

import onnxruntime
from rich.console import Console
from rich.table import Table

from live.bench.measure import BenchResult
from live.formats.dataset import sha256_of_file
from live.pipeline.stages import default_generator_workers, worker_threads
from live.pipeline.stats import PipelineReport, TimingSummary

# name -> (comparison, target); the targets for a 2-core machine at 256x256.
TARGETS: dict[str, tuple[str, float]] = {
    "generator_speedup_vs_unet_256": (">=", 10.0),
    "pipeline_unthrottled_fps": (">=", 60.0),
    "pipeline_vs_sequential": (">=", 1.5),
    "paced_drops": ("<=", 0.0),
    "paced_latency_p50_ms": ("<=", 45.0),
    "paced_latency_p95_ms": ("<=", 70.0),
    "peak_rss_mb": ("<=", 700.0),
    "first_output_s": ("<=", 3.0),
}


def cpu_model() -> str:
    """The CPU's model name (/proc/cpuinfo on Linux, else what platform knows)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass  # not Linux
    return platform.processor() or platform.machine() or "unknown"


def machine_info() -> dict[str, Any]:
    """The machine the figures belong to."""
    return {
        "cores": os.cpu_count(),
        "cpu_model": cpu_model(),
        "ort_version": onnxruntime.__version__,
        "ort_providers": onnxruntime.get_available_providers(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def timing_json(timing: TimingSummary | None) -> dict[str, float] | None:
    """{p50, p95, max, count} in milliseconds."""
    if timing is None:
        return None
    return {
        "p50": round(timing.p50_ms, 3),
        "p95": round(timing.p95_ms, 3),
        "max": round(timing.max_ms, 3),
        "count": timing.count,
    }


def run_json(report: PipelineReport) -> dict[str, Any]:
    """The figures of one pipeline or sequential run."""
    return {
        "fps": round(report.output_fps, 2),
        "input_fps": round(report.input_fps, 2),
        "frames_captured": report.frames_captured,
        "frames_written": report.frames_written,
        "duration_s": round(report.duration_s, 3),
        "drops": report.dropped_total,
        "stages_ms_p50": {name: round(timing.p50_ms, 3) for name, timing in report.stage_ms.items()},
        "face_lost_frames": report.face_lost_frames,
    }


def largest_stage(report: PipelineReport) -> dict[str, Any] | None:
    """The stage with the largest p50 in a run (the sequential loop: each stage timed without contention)."""
    if not report.stage_ms:
        return None
    name, timing = max(report.stage_ms.items(), key=lambda item: item[1].p50_ms)
    total_ms = sum(stage.p50_ms for stage in report.stage_ms.values())
    return {
        "stage": name,
        "p50_ms": round(timing.p50_ms, 3),
        "share_of_frame": round(timing.p50_ms / total_ms, 3) if total_ms else None,
    }


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    """numerator / denominator, or None when either is missing or the denominator is 0."""
    if numerator is None or not denominator:
        return None
    return round(numerator / denominator, 3)


def target_json(name: str, value: float | None) -> dict[str, Any]:
    """{value, target, comparison, met}; met is None when the value was not measured."""
    comparison, target = TARGETS[name]
    met = None if value is None else (value >= target if comparison == ">=" else value <= target)
    return {"value": value, "target": target, "comparison": comparison, "met": met}


def _paced_json(result: BenchResult) -> dict[str, Any]:
    """The paced run into the virtual camera: rate, latency, drops, CPU and memory."""
    config, paced = result.config, result.paced
    latency = paced.report.latency_ms
    return {
        "fps": config.paced_fps,
        "output_fps": round(paced.report.output_fps, 2),
        "latency_ms": timing_json(latency),
        "drops": paced.report.dropped_total,
        "drops_by_buffer": dict(paced.report.drops),
        "frames_captured": paced.report.frames_captured,
        "frames_written": paced.report.frames_written,
        "keep_alive_resends": paced.report.frames_resent,
        "cpu_percent": None if paced.cpu_percent is None else round(paced.cpu_percent, 1),
        "rss_mb": None if paced.rss_mb is None else round(paced.rss_mb, 1),
        "rss_peak_mb": None if paced.rss_peak_mb is None else round(paced.rss_peak_mb, 1),
        "stages_ms_p50": run_json(paced.report)["stages_ms_p50"],
    }


def _targeted_values(result: BenchResult) -> dict[str, float | None]:
    """The figures that have targets (TARGETS), by name."""
    paced = result.paced
    latency = paced.report.latency_ms
    peak_rss_mb = paced.rss_peak_mb if paced.rss_peak_mb is not None else paced.rss_mb
    speedup = ratio(result.reference_ms.p50_ms if result.reference_ms else None, result.generator_ms.p50_ms)
    return {
        "generator_speedup_vs_unet_256": speedup,
        "pipeline_unthrottled_fps": round(result.unthrottled.output_fps, 2),
        "pipeline_vs_sequential": ratio(result.unthrottled.output_fps, result.sequential.output_fps),
        "paced_drops": float(paced.report.dropped_total),
        "paced_latency_p50_ms": round(latency.p50_ms, 2) if latency.count else None,
        "paced_latency_p95_ms": round(latency.p95_ms, 2) if latency.count else None,
        "peak_rss_mb": None if peak_rss_mb is None else round(peak_rss_mb, 1),
        "first_output_s": round(result.cold_start_first_output_s, 3),
    }


def result_json(result: BenchResult) -> dict[str, Any]:
    """The whole run as JSON-ready data."""
    config, paced = result.config, result.paced
    speedup = ratio(result.reference_ms.p50_ms if result.reference_ms else None, result.generator_ms.p50_ms)
    pipeline_vs_sequential = ratio(result.unthrottled.output_fps, result.sequential.output_fps)
    values = _targeted_values(result)
    workers = config.generator_workers or default_generator_workers()
    return {
        "machine": machine_info(),
        "model": {
            "path": str(config.model_path),
            "size_px": result.size_px,
            "sha256": sha256_of_file(config.model_path),
            "provider": result.provider,
        },
        "settings": {
            "device": config.device,
            "intra_op_threads": config.intra_op_threads or worker_threads(workers),
            "pipeline_generator_workers": workers,
            "sequential_intra_op_threads": config.sequential_threads(),
            "detect_width_px": config.landmarks.detect_width_px,
            "source": config.source_text,
            "sink": "virtual camera 1280x720 (live.io.sinks.VirtualCameraSink), "
            "device replaced by a BGR->I420 conversion that discards",
        },
        "generator_ms": {
            "model": timing_json(result.generator_ms),
            "reference_unet_256": timing_json(result.reference_ms),
            "reference_note": result.reference_note,
            "speedup": speedup,
        },
        "stages_ms": {name: timing_json(timing) for name, timing in result.stages_ms.items()},
        "pipeline_unthrottled": run_json(result.unthrottled),
        "sequential": run_json(result.sequential),
        "pipeline_vs_sequential": pipeline_vs_sequential,
        "largest_stage": largest_stage(result.sequential),
        f"paced_{config.paced_fps:g}fps": _paced_json(result),
        "first_output_s": values["first_output_s"],
        "first_output_note": "from starting a fresh process (interpreter, imports, model and MediaPipe loading) "
        "to its first frame at the sink",
        "first_output_warm_s": None if paced.first_output_s is None else round(paced.first_output_s, 3),
        "process_peak_rss_mb": None if result.process_peak_rss_mb is None else round(result.process_peak_rss_mb, 1),
        "targets": {name: target_json(name, value) for name, value in values.items()},
        "seconds_per_phase": config.seconds_per_phase,
        "load_average_1min": {"start": round(result.load_average[0], 2), "end": round(result.load_average[1], 2)},
    }


def _ms(timing: dict[str, float] | None) -> str:
    return "—" if timing is None else f"p50 {timing['p50']:.1f} ms, p95 {timing['p95']:.1f} ms"


def _number(value: float | None, unit: str = "", digits: int = 1) -> str:
    return "—" if value is None else f"{value:.{digits}f}{unit}"


def _largest_text(largest: dict[str, Any] | None) -> str:
    if largest is None:
        return "—"
    share_percent = 100 * largest["share_of_frame"]
    return f"{largest['stage']}: p50 {largest['p50_ms']:.1f} ms ({share_percent:.0f}% of a frame's stage time)"


def _target_cells(target: dict[str, Any]) -> tuple[str, str]:
    met = {True: "[green]yes[/green]", False: "[red]no[/red]", None: "not measured"}[target["met"]]
    return f"{target['comparison']} {target['target']:g}", met


def bench_table(data: dict[str, Any]) -> Table:
    """One table: every figure, and beside the targeted ones the target and whether it was met."""
    machine, settings, targets = data["machine"], data["settings"], data["targets"]
    paced_key = next(key for key in data if key.startswith("paced_"))
    paced, generator = data[paced_key], data["generator_ms"]
    sequential_threads = settings.get("sequential_intra_op_threads", settings["intra_op_threads"])
    title = (
        f"live bench — {machine['cores']} cores, {machine['cpu_model']}, "
        f"ORT {machine['ort_version']} on {data['model']['provider']}, "
        f"pipeline: {settings['pipeline_generator_workers']} generator workers x {settings['intra_op_threads']} "
        f"threads, sequential loop: {sequential_threads} threads, "
        f"load {data['load_average_1min']['start']:.1f}→{data['load_average_1min']['end']:.1f}"
    )
    table = Table(title=title, title_justify="left")
    for column in ("measure", "value", "target", "met"):
        table.add_column(column)
    rows: list[tuple[str, str, str | None]] = [
        (f"generator alone ({data['model']['size_px']} px)", _ms(generator["model"]), None),
        (
            "reference unet_256 ngf 64",
            _ms(generator["reference_unet_256"]) if generator["reference_unet_256"] else generator["reference_note"],
            None,
        ),
        ("generator speedup (p50)", _number(generator["speedup"], "x"), "generator_speedup_vs_unet_256"),
        *[(f"{name} alone", _ms(timing), None) for name, timing in data["stages_ms"].items()],
        ("pipeline unthrottled", _number(data["pipeline_unthrottled"]["fps"], " fps"), "pipeline_unthrottled_fps"),
        ("sequential loop", _number(data["sequential"]["fps"], " fps"), None),
        ("pipeline / sequential", _number(data["pipeline_vs_sequential"], "x", 2), "pipeline_vs_sequential"),
        ("largest cost in the loop", _largest_text(data["largest_stage"]), None),
        (
            f"paced {paced['fps']:g} fps: latency p50",
            _number(targets["paced_latency_p50_ms"]["value"], " ms"),
            "paced_latency_p50_ms",
        ),
        ("paced: latency p95", _number(targets["paced_latency_p95_ms"]["value"], " ms"), "paced_latency_p95_ms"),
        ("paced: latency max", _number(paced["latency_ms"]["max"] if paced["latency_ms"] else None, " ms"), None),
        ("paced: drops", f"{paced['drops']} of {paced['frames_captured']} frames", "paced_drops"),
        ("paced: CPU (% of one core)", _number(paced["cpu_percent"], " %"), None),
        (
            "paced: RSS sampled / peak",
            f"{_number(paced['rss_mb'], ' MB')} / {_number(paced['rss_peak_mb'], ' MB')}",
            "peak_rss_mb",
        ),
        (
            "first output: fresh process / warm",
            f"{_number(data['first_output_s'], ' s', 2)} / {_number(data['first_output_warm_s'], ' s', 2)}",
            "first_output_s",
        ),
    ]
    for name, value, target_name in rows:
        cells = _target_cells(targets[target_name]) if target_name else ("", "")
        table.add_row(name, value, *cells)
    return table


def print_bench_table(data: dict[str, Any], console: Console | None = None) -> None:
    """Print the table (terminal or not)."""
    (console or Console()).print(bench_table(data))
