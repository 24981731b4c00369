"""`live bench`: the web output's cost beside the virtual camera's, in one paced run.

The pipeline runs paced at `paced_fps` on the looped clip into two sinks at once: the bench's virtual camera
(live.bench.instruments.MeasuringSink, the real VirtualCameraSink with a discarding device) and the real
WebSink watched by one headless Chromium on this machine (its decoding runs in Chromium's processes, not
counted here). Per sink: the main thread's write time and CPU per frame; for the web output also the encode
time per frame, the CPU of its threads (event loop + encoders) and the latency each frame took from capture to
the browser's display (measured by the page); for the virtual camera the pipeline's capture-to-output latency.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from contextlib import ExitStack
from typing import Any

import numpy as np
from rich.table import Table

from live.bench.instruments import LoopingSource, MeasuringSink
from live.bench.measure import BenchConfig
from live.bench.report import timing_json
from live.closing import Closing
from live.io.sinks import SinkConfig, open_sink
from live.io.web_sink import WebConfig, WebSink
from live.pipeline.presenter import Output
from live.pipeline.run import open_stages, run_pipeline
from live.pipeline.stats import summarise

VIEWER_TIMEOUT_S = 30.0
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
)


class TimedSink(Closing):
    """Wraps a sink: the wall time and this thread's CPU time of every write, in ms."""

    def __init__(self, sink: Any) -> None:
        self.sink = sink
        self.name = sink.name
        self.wall_ms: list[float] = []
        self.cpu_ms: list[float] = []

    def write(self, image_bgr: np.ndarray) -> None:
        self._timed(self.sink.write, image_bgr)

    def write_captured(self, image_bgr: np.ndarray, t_capture_s: float) -> None:
        self._timed(self.sink.write_captured, image_bgr, t_capture_s)

    def _timed(self, call: Any, *arguments: Any) -> None:
        start_s, start_cpu_s = time.perf_counter(), time.thread_time()
        call(*arguments)
        self.cpu_ms.append((time.thread_time() - start_cpu_s) * 1000.0)
        self.wall_ms.append((time.perf_counter() - start_s) * 1000.0)

    def close(self) -> None:
        """Close the wrapped sink."""
        self.sink.close()


class BrowserViewer(Closing):
    """A headless Chromium showing `url` (its own profile in a temporary folder)."""

    def __init__(self, binary: str, url: str) -> None:
        self._profile = tempfile.mkdtemp(prefix="live-bench-chromium-")
        command = [binary, *CHROMIUM_FLAGS, f"--user-data-dir={self._profile}", url]
        self._process: subprocess.Popen[bytes] | None = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )

    def close(self) -> None:
        """Quit Chromium, remove its profile; idempotent."""
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None
            shutil.rmtree(self._profile, ignore_errors=True)


def chromium_binary() -> str | None:
    """The first Chromium on PATH, or None."""
    return next((path for name in CHROMIUM_NAMES if (path := shutil.which(name))), None)


def measure_web_beside_vcam(config: BenchConfig) -> dict[str, Any]:
    """The paced run into both sinks; JSON-ready figures (or {"skipped": why} without a browser)."""
    binary = chromium_binary()
    if binary is None:
        return {"skipped": "no chromium on PATH to watch the web output"}
    pipeline_config = config.pipeline(pace=True)
    with ExitStack() as stack:
        source = stack.enter_context(LoopingSource(config.source_text, config.seconds_per_phase, config.paced_fps))
        stages = stack.enter_context(open_stages(pipeline_config))
        frame_size_px = tuple(stages.card.plate_size_px)
        vcam = TimedSink(stack.enter_context(MeasuringSink(frame_size_px, config.paced_fps)))  # type: ignore[arg-type]
        web_sink: WebSink = open_sink(SinkConfig("web", web=WebConfig(port=0)), frame_size_px)  # type: ignore
        stack.callback(web_sink.close)
        web = TimedSink(web_sink)
        stack.enter_context(BrowserViewer(binary, web_sink.url))
        if not web_sink.wait_for_viewer(VIEWER_TIMEOUT_S):
            return {"skipped": f"the headless Chromium did not connect within {VIEWER_TIMEOUT_S:g} s"}
        outputs = [Output(vcam, keep_alive=True), Output(web, capture_times=True)]
        report = run_pipeline(pipeline_config, source, outputs, stages)
    figures = web_sink.figures()
    frames_sent = sum(viewer.frames_sent for viewer in figures.viewers)
    duration_s = max(report.duration_s, 1e-9)
    return {
        "fps": config.paced_fps,
        "frame_size_px": list(frame_size_px),
        "viewer": "headless chromium on this machine (its decoding not counted)",
        "frames_captured": report.frames_captured,
        "drops": report.dropped_total,
        "vcam": {
            "latency_ms": timing_json(report.latency_ms),
            "latency_note": "capture to the end of the main thread's writes (all sinks)",
            "write_ms": timing_json(summarise(vcam.wall_ms)),
            "cpu_ms_per_frame": round(float(np.mean(vcam.cpu_ms)), 3) if vcam.cpu_ms else None,
            "cpu_percent": round(100.0 * sum(vcam.cpu_ms) / 1000.0 / duration_s, 1),
        },
        "web": {
            "latency_ms": timing_json(summarise(figures.all_samples("latency_ms"))),
            "latency_note": "capture to display in the browser (requestVideoFrameCallback expectedDisplayTime)",
            "write_ms": timing_json(summarise(web.wall_ms)),
            "encode_ms": timing_json(summarise(figures.all_samples("encode_ms"))),
            "frames_sent": frames_sent,
            "frames_dropped": sum(viewer.frames_dropped for viewer in figures.viewers),
            "cpu_ms_per_frame": None
            if not frames_sent or figures.cpu_s is None
            else round(1000.0 * figures.cpu_s / frames_sent, 3),
            "cpu_percent": None if figures.cpu_s is None else round(100.0 * figures.cpu_s / duration_s, 1),
            "cpu_note": "the web output's own threads: event loop (RTP, SRTP) and VP8 encoders",
        },
    }


def _ms(timing: dict[str, float] | None) -> str:
    return "—" if not timing else f"p50 {timing['p50']:.1f} ms, p95 {timing['p95']:.1f} ms"


def web_table(data: dict[str, Any]) -> Table:
    """The side-by-side table of the two outputs."""
    table = Table(title="web output beside the virtual camera (one paced run)", title_justify="left")
    if "skipped" in data:
        table.add_column("skipped")
        table.add_row(data["skipped"])
        return table
    vcam, web = data["vcam"], data["web"]
    for column in ("measure", "virtual camera", "web (1 viewer)"):
        table.add_column(column)
    table.add_row("latency: capture to output", _ms(vcam["latency_ms"]), _ms(web["latency_ms"]) + " (display)")
    table.add_row("main thread write", _ms(vcam["write_ms"]), _ms(web["write_ms"]))
    table.add_row("encode per frame", "— (raw I420)", _ms(web["encode_ms"]))
    cpu_web = "—" if web["cpu_ms_per_frame"] is None else f"{web['cpu_ms_per_frame']:.2f} ms/frame"
    table.add_row("CPU per frame", f"{vcam['cpu_ms_per_frame'] or 0:.2f} ms/frame", cpu_web)
    table.add_row("CPU (% of one core)", f"{vcam['cpu_percent']:.1f} %", f"{web['cpu_percent'] or 0:.1f} %")
    table.add_row(
        "frames",
        f"{data['frames_captured']} captured, {data['drops']} dropped",
        (f"{web['frames_sent']} sent, {web['frames_dropped']} dropped"),
    )
    return table
