"""A run's statistics as plain text lines: the window's overlay, the log line and the dashboard share them."""

from __future__ import annotations

from live.pipeline.stats import PipelineReport


def milliseconds_text(value: float) -> str:
    """A duration in ms with one decimal."""
    return f"{value:.1f}"


def drops_text(report: PipelineReport) -> str:
    """'frames 3, sketches 1' or 'none'."""
    dropped = [f"{name} {count}" for name, count in report.drops.items() if count]
    return ", ".join(dropped) if dropped else "none"


def summary_lines(report: PipelineReport) -> list[str]:
    """A few short lines for the window's stats overlay and the non-terminal log."""
    latency = report.latency_ms
    stages = " ".join(f"{name} {milliseconds_text(timing.p50_ms)}" for name, timing in report.stage_ms.items())
    return [
        f"in {report.input_fps:.1f} fps  out {report.output_fps:.1f} fps  "
        f"latency p50 {milliseconds_text(latency.p50_ms)} p95 {milliseconds_text(latency.p95_ms)} ms",
        f"stages p50 ms: {stages}",
        f"dropped: {drops_text(report)}  face lost {report.face_lost_frames}  "
        f"held {report.held_frames}  neutral {report.neutral_frames}",
        f"{report.provider}  {report.source_status}",
        report.retarget_status,
    ]
