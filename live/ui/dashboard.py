"""What a run shows: a live rich dashboard on a terminal, a one-line summary every few
seconds otherwise, and a final summary table always. Every value is printed as plain text, never
as Rich markup: file names and notes may hold `[...]`."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from live.closing import Closing
from live.pipeline.report_text import drops_text, milliseconds_text, summary_lines
from live.pipeline.stats import PipelineReport, PipelineStats

REFRESH_INTERVAL_S = 0.25
LINE_INTERVAL_S = 5.0


def stage_table(report: PipelineReport, title: str) -> Table:
    """Per-stage and latency p50/p95/max in milliseconds."""
    table = Table(title=title, title_justify="left", expand=False)
    for column in ("stage", "count", "p50 ms", "p95 ms", "max ms"):
        table.add_column(column, justify="left" if column == "stage" else "right")
    for name, timing in report.stage_ms.items():
        table.add_row(
            Text(name),
            str(timing.count),
            milliseconds_text(timing.p50_ms),
            milliseconds_text(timing.p95_ms),
            milliseconds_text(timing.max_ms),
        )
    latency = report.latency_ms
    table.add_row(
        Text("capture -> output", style="bold"),
        str(latency.count),
        milliseconds_text(latency.p50_ms),
        milliseconds_text(latency.p95_ms),
        milliseconds_text(latency.max_ms),
    )
    return table


def facts_table(report: PipelineReport, final: bool, output_lines: Sequence[str] = ()) -> Table:
    """Counts, rates and status lines as two columns (output_lines: the sinks' own, e.g. web viewers)."""
    title = "run summary" if final else "live run (q or Ctrl-C to stop)"
    table = Table(title=title, title_justify="left", show_header=False, box=None, padding=(0, 1))
    table.add_column(style="bold")
    table.add_column()
    first_output = "none" if report.first_output_s is None else f"{report.first_output_s:.2f} s after start"
    rows = [
        ("source", report.source_status),
        (
            "frames",
            f"{report.frames_captured} captured, {report.frames_written} written, {report.dropped_total} dropped",
        ),
        ("dropped in", drops_text(report)),
        ("fps", f"input {report.input_fps:.1f}, output {report.output_fps:.1f}" + ("" if final else " (last 2 s)")),
        ("first output", first_output),
        (
            "face lost",
            f"{report.face_lost_frames} frames "
            f"({report.held_frames} held last output, {report.neutral_frames} neutral face)",
        ),
        ("camera failures", f"{report.source_failures} ({report.source_reopens} reopen attempts)"),
        ("keep-alive resends", str(report.frames_resent)),
        ("provider", f"{report.provider} ({report.provider_note})" if report.provider_note else report.provider),
        ("retarget", report.retarget_status),
    ]
    rows += [("output", line) for line in output_lines]
    if final:
        rows = [("mode", report.mode), ("ended", report.end_reason), ("duration", f"{report.duration_s:.2f} s")] + rows
        rows += [("note", note) for note in report.notes]
    for name, value in rows:
        table.add_row(Text(name), Text(value))
    return table


def final_summary(report: PipelineReport) -> Group:
    """The end-of-run summary: facts and the timing table."""
    return Group(facts_table(report, final=True), stage_table(report, "timings over the whole run"))


class Dashboard(Closing):
    """Live view of a run: rich.live.Live on a terminal, else one line every LINE_INTERVAL_S."""

    def __init__(self, console: Console | None = None, status_lines: Sequence[Callable[[], list[str]]] = ()) -> None:
        self.console = console or Console()
        self._status_lines = list(status_lines)  # the sinks' status_lines (web viewers), shown live
        self._live: Live | None = None
        self._next_refresh_s = 0.0
        self._next_line_s = time.perf_counter() + LINE_INTERVAL_S

    def __enter__(self) -> "Dashboard":
        if self.console.is_terminal:
            self._live = Live(console=self.console, auto_refresh=False, transient=True)
            self._live.start()
        return self

    def update(self, stats: PipelineStats) -> None:
        """Refresh if it is time (called from the main loop, cheap otherwise)."""
        now_s = time.perf_counter()
        if self._live is not None and now_s >= self._next_refresh_s:
            self._next_refresh_s = now_s + REFRESH_INTERVAL_S
            report = stats.snapshot(recent=True)
            output_lines = [line for status_lines in self._status_lines for line in status_lines()]
            facts = facts_table(report, final=False, output_lines=output_lines)
            self._live.update(Group(facts, stage_table(report, "last frames")), refresh=True)
        elif self._live is None and now_s >= self._next_line_s:
            self._next_line_s = now_s + LINE_INTERVAL_S
            line = " | ".join(summary_lines(stats.snapshot(recent=True))[:3])
            self.console.print(line, soft_wrap=True, highlight=False, markup=False)

    def close(self) -> None:
        """Stop the live display; idempotent."""
        if self._live is not None:
            self._live.stop()
            self._live = None


def print_final_summary(report: PipelineReport, console: Console | None = None) -> None:
    """Print the final summary table (always, terminal or not)."""
    (console or Console()).print(final_summary(report))
