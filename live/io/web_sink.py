"""`--output web`: the avatar in a browser page over WebRTC (an OBS browser source, another device on the LAN).

WebSink runs an aiohttp page server and the viewers' aiortc peer connections on one asyncio loop in a
background thread, started here and stopped by close() within SHUTDOWN_BUDGET_S. The pipeline's main thread
only copies the frame and hands it to the loop (write() never waits on the network or an encoder); each viewer
gets the newest frame, so a slow viewer skips frames for itself only. The server binds 127.0.0.1 unless told
otherwise, and the media (WebRTC's UDP sockets) go on the same address (live.io.ice_hosts); any other address
requires a random token in the URL (403 without it) and prints a warning. With the person's matte
(`--background transparent`, `keeps_alpha`) each frame goes out with its alpha beside it (live.io.alpha_pack)
and the page composites the two on a canvas.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import secrets
import sys
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass

import numpy as np

from live.closing import Closing
from live.errors import UsageError
from live.io.alpha_pack import AlphaLayout, pack
from live.io.compose import add_badge

SHUTDOWN_BUDGET_S = 0.8  # inside the pipeline's 1 s
START_TIMEOUT_S = 10.0
ENCODER_THREADS = 2
CANCEL_WAIT_S = 0.1
VIEWER_LINES = 4  # the summary shows the last few viewers


@dataclass(frozen=True, slots=True)
class WebConfig:
    """host: the address the page and its media (WebRTC's UDP sockets) are on (127.0.0.1: this machine only;
    0.0.0.0: every address, the LAN, token required);
    port: the TCP port (0: any free one); max_viewers: peer connections at once; connect_timeout_s: how long a
    viewer may take to connect before its slot is freed."""

    host: str = "127.0.0.1"
    port: int = 8765
    max_viewers: int = 8
    connect_timeout_s: float = 10.0


@dataclass(frozen=True, slots=True)
class ViewerFigures:
    """One viewer's figures so far."""

    number: int
    connected: bool
    closed: bool
    frames_sent: int
    frames_dropped: int
    encode_ms: tuple[float, ...]
    latency_ms: tuple[float, ...]


@dataclass(frozen=True, slots=True)
class WebFigures:
    """The web sink's figures: viewers now and ever, per viewer, and CPU seconds of its threads
    (loop + encoders; None off Linux)."""

    url: str
    viewers_now: int
    refused: int
    viewers: tuple[ViewerFigures, ...]
    cpu_s: float | None

    def all_samples(self, name: str) -> list[float]:
        """Every viewer's encode_ms or latency_ms samples together."""
        return [value for viewer in self.viewers for value in getattr(viewer, name)]


def is_loopback(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and localhost."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def percentiles_text(samples_ms: Sequence[float]) -> str:
    """'p50 3.1 p95 5.0 ms' or 'none'."""
    if not samples_ms:
        return "none"
    p50_ms, p95_ms = np.percentile(np.asarray(samples_ms), [50, 95])
    return f"p50 {p50_ms:.1f} p95 {p95_ms:.1f} ms"


def thread_cpu_s(native_ids: Sequence[int]) -> float | None:
    """User + system CPU seconds of these threads of this process (Linux /proc), None elsewhere."""
    ticks_per_s = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    total = 0
    for native_id in native_ids:
        try:
            with open(f"/proc/self/task/{native_id}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            return None
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return total / ticks_per_s


class WebSink(Closing):
    """Serves the composed frames to browsers over WebRTC; see the module docstring."""

    def __init__(self, config: object, frame_size_px: tuple[int, int]) -> None:
        web = getattr(config, "web", None) or WebConfig()
        if not 0 <= web.port <= 65535:
            raise UsageError(f"--web-port {web.port}: give a TCP port from 1 to 65535 (0: any free one)")
        from live.io.web_server import WebServer  # aiortc and aiohttp load only for --output web

        self.config = web
        self.badge = bool(getattr(config, "badge", True))
        self.frame_size_px = frame_size_px
        self.keeps_alpha = bool(getattr(config, "alpha", False))  # BGRA frames in, colour | alpha out
        self.alpha_layout = AlphaLayout.of(frame_size_px) if self.keeps_alpha else None
        self.token = None if is_loopback(web.host) else secrets.token_urlsafe(16)
        layout = self.alpha_layout.page_fields() if self.alpha_layout else None
        self._server = WebServer(web.host, web.port, self.token, web.max_viewers, web.connect_timeout_s, layout)
        self._viewer_connected = threading.Event()
        self._server.on_connected = self._viewer_connected.set
        self._loop = asyncio.new_event_loop()
        self._executor = ThreadPoolExecutor(ENCODER_THREADS, thread_name_prefix="web-encoder")
        self._loop.set_default_executor(self._executor)
        self._thread = threading.Thread(target=self._run_loop, name="web sink", daemon=True)
        self._thread.start()
        self._pending: tuple[np.ndarray, float] | None = None
        self._pending_lock = threading.Lock()
        self._closed = False
        self._final_cpu_s: float | None = None
        self._start_server()
        self.name = f"web {self.url}"
        self._announce()

    def _run_loop(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_forever()
        pending = asyncio.all_tasks(self._loop)  # aiortc's leftovers once the server stopped
        for task in pending:
            task.cancel()
        if pending:
            self._loop.run_until_complete(asyncio.wait(pending, timeout=CANCEL_WAIT_S))
        self._loop.close()

    def _start_server(self) -> None:
        from live.io.ice_hosts import IceHostsError

        future = asyncio.run_coroutine_threadsafe(self._server.start(), self._loop)
        try:
            future.result(START_TIMEOUT_S)
        except IceHostsError as error:
            self.close()
            raise UsageError(
                f"--web-host {self.config.host}: cannot keep the media on this address: {error}"
            ) from error
        except OSError as error:
            self.close()
            reason = error.strerror or str(error)
            raise UsageError(
                f"--web-host {self.config.host} --web-port {self.config.port}: cannot listen there ({reason}); "
                "pick another port (or 0 for any free one)"
            ) from error
        except FutureTimeout as error:
            self.close()
            raise UsageError(f"--output web: the page server did not start within {START_TIMEOUT_S:g} s") from error

    @property
    def url(self) -> str:
        """The page's address (with the token when one is needed)."""
        host = self.config.host
        shown = "127.0.0.1" if is_loopback(host) else ("THIS-MACHINE" if host in ("0.0.0.0", "::") else host)
        shown = f"[{shown}]" if ":" in shown else shown
        token = f"?token={self.token}" if self.token else ""
        return f"http://{shown}:{self._server.port}/{token}"

    @property
    def addresses(self) -> list[tuple[str, int]]:
        """The (host, port) pairs the page server listens on."""
        return list(self._server.addresses)

    @property
    def serving(self) -> bool:
        """True until close() has stopped the loop thread."""
        return self._thread.is_alive()

    def wait_for_viewer(self, timeout_s: float) -> bool:
        """Wait until a viewer has connected (at any time so far); False at the timeout."""
        return self._viewer_connected.wait(timeout_s)

    def _announce(self) -> None:
        print(f"live: web output at {self.url} (OBS: add a Browser source with this URL)", file=sys.stderr)
        if self.token is not None:
            print(
                f"live: warning: --web-host {self.config.host} exposes the avatar to the network; anyone with the "
                "URL above (token included) can watch; THIS-MACHINE: this machine's LAN address",
                file=sys.stderr,
            )

    def write(self, image_bgr: np.ndarray) -> None:
        """Hand a frame to the viewers, captured now (see write_captured)."""
        self.write_captured(image_bgr, time.perf_counter())

    def write_captured(self, image_bgr: np.ndarray, t_capture_s: float) -> None:
        """Hand a frame captured at t_capture_s (perf_counter) to the viewers: a copy (with the "AI" badge unless
        --no-badge; packed with its alpha when the sink keeps alpha) and a wake-up of the loop; never waits.
        Nothing is copied while nobody watches."""
        if self._closed:
            raise RuntimeError(f"{self.name} is closed")
        if not self._server.viewers:
            return
        copy_bgr = image_bgr.copy()
        if self.badge:
            add_badge(copy_bgr)
        if self.alpha_layout is not None:
            copy_bgr = pack(copy_bgr, self.alpha_layout)
        with self._pending_lock:
            wake = self._pending is None
            self._pending = (copy_bgr, t_capture_s)
        if wake:
            self._loop.call_soon_threadsafe(self._publish_pending)

    def _publish_pending(self) -> None:
        from live.io.web_server import PublishedFrame

        with self._pending_lock:
            pending, self._pending = self._pending, None
        if pending is not None:
            image_bgr, t_capture_s = pending
            self._server.publish(PublishedFrame(image_bgr, t_capture_s))

    def figures(self) -> WebFigures:
        """The figures so far (also after close)."""
        with self._server.lock:
            viewers = tuple(
                ViewerFigures(
                    counts.number,
                    counts.connected,
                    counts.closed,
                    counts.frames_sent,
                    counts.frames_dropped,
                    tuple(counts.encode_ms),
                    tuple(counts.latency_ms),
                )
                for counts in self._server.history
            )
            viewers_now = len(self._server.viewers)
        return WebFigures(self.url, viewers_now, self._server.refused, viewers, self._cpu_s())

    def _cpu_s(self) -> float | None:
        if self._closed:
            return self._final_cpu_s
        threads = [self._thread, *getattr(self._executor, "_threads", ())]
        return thread_cpu_s([thread.native_id for thread in threads if thread.native_id is not None])

    def status_lines(self) -> list[str]:
        """Lines for the dashboard and the summary: viewers, and per viewer frames sent and dropped,
        encode time per frame and the latency the viewer measured (capture to display)."""
        figures = self.figures()
        watched = [viewer for viewer in figures.viewers if viewer.frames_sent]
        lines = [
            f"web: {figures.viewers_now} viewer(s) now, {len(watched)} watched in all, {figures.refused} refused "
            f"(full); encode {percentiles_text(figures.all_samples('encode_ms'))} per frame"
        ]
        for viewer in watched[-VIEWER_LINES:]:
            lines.append(
                f"web viewer {viewer.number}: {viewer.frames_sent} sent, {viewer.frames_dropped} dropped, "
                f"encode {percentiles_text(viewer.encode_ms)}, latency {percentiles_text(viewer.latency_ms)}"
            )
        return lines

    def close(self) -> None:
        """Close every peer connection and the server, stop the loop thread (within SHUTDOWN_BUDGET_S);
        safe to call twice."""
        if self._closed:
            return
        self._final_cpu_s = self._cpu_s()
        self._closed = True
        deadline_s = time.perf_counter() + SHUTDOWN_BUDGET_S
        if self._loop.is_running():
            future = asyncio.run_coroutine_threadsafe(self._server.stop(), self._loop)
            try:
                future.result(SHUTDOWN_BUDGET_S * 0.75)
            except FutureTimeout:
                future.cancel()  # what did not close in time goes with the process (daemon thread)
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(max(0.0, deadline_s - time.perf_counter()))
        self._executor.shutdown(wait=False, cancel_futures=True)
