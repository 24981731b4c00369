"""The dashboard: what a terminal and a log show during a run, and the final summary."""

from __future__ import annotations

import io

from rich.console import Console

from live.pipeline.report_text import summary_lines
from live.pipeline.stats import Event, PipelineStats, Status
from live.ui.dashboard import Dashboard, final_summary, print_final_summary


def _stats() -> PipelineStats:
    stats = PipelineStats("threaded")
    stats.set_text(Status.SOURCE, "clip.mp4 352x288 @ 30.0 fps")
    stats.set_text(Status.PROVIDER, "CPUExecutionProvider")
    stats.set_text(Status.END_REASON, "end of input")
    for index in range(60):
        stats.record_capture(index / 30)
        stats.record_stage("landmarks", 5.0)
        stats.record_stage("generator", 12.0)
        stats.record_output(index, index / 30, index / 30 + 0.025)
    stats.count(Event.FACE_LOST)
    stats.add_note("a note for the summary")
    stats.finish()
    return stats


def _render(renderable: object, terminal: bool = False) -> str:
    buffer = io.StringIO()
    Console(file=buffer, width=140, force_terminal=terminal, color_system=None).print(renderable)
    return buffer.getvalue()


def test_final_summary_shows_counts_timings_and_notes() -> None:
    text = _render(final_summary(_stats().snapshot()))
    assert "60 captured, 60 written, 0 dropped" in text
    assert "end of input" in text and "CPUExecutionProvider" in text and "a note for the summary" in text
    assert "landmarks" in text and "generator" in text and "capture -> output" in text
    assert "1 frames (0 held last output, 0 neutral face)" in text


def test_overlay_lines_name_rates_latency_and_stages() -> None:
    lines = summary_lines(_stats().snapshot(recent=True))
    assert "latency p50 25.0" in lines[0] and "landmarks 5.0" in lines[1] and "generator 12.0" in lines[1]
    assert "face lost 1" in lines[2] and "CPUExecutionProvider" in lines[3]


def test_without_a_terminal_a_line_is_logged_and_closing_twice_is_safe(monkeypatch) -> None:
    buffer = io.StringIO()
    console = Console(file=buffer, width=200, force_terminal=False)
    monkeypatch.setattr("live.ui.dashboard.LINE_INTERVAL_S", 0.0)
    with Dashboard(console) as dashboard:
        dashboard.update(_stats())
        dashboard.close()
    assert "latency p50" in buffer.getvalue()


def test_on_a_terminal_the_live_view_starts_and_stops() -> None:
    buffer = io.StringIO()
    console = Console(file=buffer, width=140, force_terminal=True, color_system=None)
    with Dashboard(console) as dashboard:
        assert dashboard._live is not None
        dashboard.update(_stats())
    assert dashboard._live is None
    print_final_summary(_stats().snapshot(), console)
    assert "run summary" in buffer.getvalue()
