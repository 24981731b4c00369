"""`--output web`: a real aiortc/aiohttp server, a real headless Chromium (tests/headless_browser.py) and the real
pipeline (the tiny exported generator driven by data/jwp_office.mp4)."""

from __future__ import annotations

import asyncio
import base64
import os
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
from headless_browser import HeadlessChromium, chromium_path

from live.bench.measure import BenchConfig
from live.bench.web_cost import measure_web_beside_vcam, web_table
from live.cli import main
from live.engines.generator import GeneratorSessionConfig
from live.errors import UsageError
from live.face.retarget import RetargetConfig
from live.io.sinks import SinkConfig, open_sink, parse_output
from live.io.sources import SourceConfig, open_source
from live.io.web_sink import WebConfig, WebSink, is_loopback
from live.pipeline.presenter import Output
from live.pipeline.run import PipelineConfig, Stages, open_stages, run_pipeline

CLIP = Path(__file__).resolve().parents[1] / "data" / "jwp_office.mp4"
BROWSER_TIMEOUT_S = 60.0
BURST_SIZE = 200


class FrameProbe:
    """A sink that keeps the last frames it was given (what the web viewers should be seeing) and counts them."""

    name = "probe"

    def __init__(self) -> None:
        self.frames_bgr: deque[np.ndarray] = deque(maxlen=90)
        self.count = 0

    def write(self, image_bgr: np.ndarray) -> None:
        self.frames_bgr.append(image_bgr.copy())
        self.count += 1

    def close(self) -> None:
        """Nothing to release."""


def get(url: str, headers: dict[str, str] | None = None) -> int:
    """The HTTP status of a GET."""
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def lan_address() -> str | None:
    """A non-loopback IPv4 address of this machine, or None."""
    import ifaddr

    for adapter in ifaddr.get_adapters():
        for ip in adapter.ips:
            if isinstance(ip.ip, str) and not is_loopback(ip.ip):
                return ip.ip
    return None


@pytest.fixture(scope="module")
def stages(tiny_model_path: Path) -> Iterator[Stages]:
    with open_stages(pipeline_config(tiny_model_path)) as opened:
        yield opened


def pipeline_config(model_path: Path, **changes: object) -> PipelineConfig:
    generator = GeneratorSessionConfig(model_path, device="cpu")
    return PipelineConfig(generator=generator, retarget=RetargetConfig(mode="off"), **changes)  # type: ignore[arg-type]


def web_sink(frame_size_px: tuple[int, int], host: str = "127.0.0.1") -> WebSink:
    return open_sink(SinkConfig("web", web=WebConfig(host=host, port=0)), frame_size_px)  # type: ignore[return-value]


def test_the_default_bind_is_loopback_only() -> None:
    config = parse_output("web")
    assert config.kind == "web" and config.web.host == "127.0.0.1"
    with web_sink((64, 64)) as sink:
        assert sink.token is None and sink.addresses and all(is_loopback(host) for host, _ in sink.addresses)
        port = sink.addresses[0][1]
        assert get(f"http://127.0.0.1:{port}/") == 200
        assert get(f"http://127.0.0.1:{port}/", {"Host": f"attacker.example:{port}"}) == 403  # DNS rebinding
        with pytest.raises(UsageError, match="cannot listen there"):
            open_sink(SinkConfig("web", web=WebConfig(port=port)), (64, 64))  # the port is taken
        address = lan_address()
        if address is not None:  # nothing listens on the LAN side
            with pytest.raises(urllib.error.URLError):
                urllib.request.urlopen(f"http://{address}:{port}/", timeout=5)


def test_a_lan_bound_server_wants_the_token_and_warns(capfd: pytest.CaptureFixture[str]) -> None:
    with web_sink((64, 64), host="0.0.0.0") as sink:
        port = sink.addresses[0][1]
        assert sink.token and f"?token={sink.token}" in sink.url
        warning = capfd.readouterr().err
        assert "warning" in warning and sink.token in warning
        for host in {"127.0.0.1", lan_address() or "127.0.0.1"}:
            assert get(f"http://{host}:{port}/") == 403
            assert get(f"http://{host}:{port}/?token=wrong{sink.token}") == 403
            assert get(f"http://{host}:{port}/?token={sink.token}") == 200
        request = urllib.request.Request(f"http://127.0.0.1:{port}/offer", data=b"{}", method="POST")
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=10)
        assert refused.value.code == 403


def browser_frame_bgr(browser: HeadlessChromium) -> np.ndarray:
    """The <video>'s current frame, read back through a canvas."""
    data_url = browser.evaluate(
        """(() => { const video = document.getElementById("video");
        const canvas = document.createElement("canvas");
        canvas.width = video.videoWidth; canvas.height = video.videoHeight;
        canvas.getContext("2d").drawImage(video, 0, 0);
        return canvas.toDataURL("image/png"); })()"""
    )
    png = np.frombuffer(base64.b64decode(data_url.split(",", 1)[1]), dtype=np.uint8)
    return cv2.imdecode(png, cv2.IMREAD_COLOR)


def mean_difference(first: np.ndarray, second: np.ndarray) -> float:
    return float(np.mean(np.abs(first.astype(np.int16) - second.astype(np.int16))))


def watch(
    browser: HeadlessChromium, probe: FrameProbe, frame_size_px: tuple[int, int]
) -> tuple[np.ndarray, list[np.ndarray], list[float]]:
    """Once 20 frames were shown with their latency: the frame on screen, the frames sent lately, the latencies."""
    browser.wait_for("window.liveViewer && window.liveViewer.latencies_ms.length >= 20", BROWSER_TIMEOUT_S)
    assert browser.evaluate("document.getElementById('video').videoWidth") == frame_size_px[0]
    assert "fps" in browser.evaluate("document.getElementById('stats').textContent")
    shown_bgr = browser_frame_bgr(browser)
    sent_bgr = list(probe.frames_bgr)
    return shown_bgr, sent_bgr, browser.evaluate("window.liveViewer.latencies_ms")


@pytest.mark.needs("chromium")
def test_chromium_plays_the_avatar_with_its_latency_and_the_run_closes_the_peers(
    stages: Stages, tiny_model_path: Path
) -> None:
    assert chromium_path() is not None, "install Debian's chromium (the CI does)"
    frame_size_px = tuple(stages.card.plate_size_px)
    probe, sink = FrameProbe(), web_sink(frame_size_px)  # type: ignore[arg-type]
    outputs = [Output(probe), Output(sink, capture_times=True)]
    source = open_source(SourceConfig(str(CLIP)))  # paced at its 30 fps: about 8 s
    reports = []
    run = threading.Thread(
        target=lambda: reports.append(run_pipeline(pipeline_config(tiny_model_path), source, outputs, stages))
    )
    with HeadlessChromium(sink.url + "?stats=1") as browser:
        assert sink.wait_for_viewer(BROWSER_TIMEOUT_S)
        run.start()
        try:
            shown_bgr, sent_bgr, latencies_ms = watch(browser, probe, frame_size_px)
        finally:
            run.join(BROWSER_TIMEOUT_S)  # the clip ends the run
        assert not run.is_alive() and reports[0].end_reason == "end of input"
        clock_rtt_ms = browser.evaluate("window.liveViewer.clock_rtt_ms")
        browser.wait_for("window.liveViewer.state !== 'connected'", BROWSER_TIMEOUT_S)  # the run closed the peer
    # the browser shows the avatar's frames: far closer to one of them than to a blank frame
    best = min(mean_difference(shown_bgr, sent) for sent in sent_bgr)
    assert best < 0.25 * mean_difference(np.zeros_like(shown_bgr), sent_bgr[-1])
    # glass to glass: from the frame's capture to its display in the page
    p50_ms, p95_ms = np.percentile(latencies_ms, [50, 95])
    print(f"web latency capture -> browser display: p50 {p50_ms:.1f} ms, p95 {p95_ms:.1f} ms")
    assert clock_rtt_ms is not None and 0.0 <= clock_rtt_ms < 50.0  # synced to the run's clock, within 25 ms
    assert min(latencies_ms) > 0.0
    figures = sink.figures()
    viewer = figures.viewers[0]
    assert viewer.connected and viewer.closed and viewer.frames_sent >= 20 and len(viewer.latency_ms) > 0
    assert figures.viewers_now == 0 and not sink.serving  # closed within its budget by the run
    assert any(line.startswith("web viewer 1:") for line in sink.status_lines())
    assert not any("threads still busy" in note for note in reports[0].notes)


async def connection_burst(port: int, offer_sdp: str) -> list[int]:
    """BURST_SIZE attempts at once: page loads, bad offers and real-looking offers that never connect."""
    import aiohttp

    async def attempt(session: aiohttp.ClientSession, index: int) -> int:
        url = f"http://127.0.0.1:{port}"
        if index % 3 == 0:
            async with session.get(url + "/") as response:
                return response.status
        body = {"sdp": offer_sdp, "type": "offer"} if index % 3 == 1 else {"garbage": index}
        async with session.post(url + "/offer", json=body) as response:
            return response.status

    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=120)) as session:
        return list(await asyncio.gather(*(attempt(session, index) for index in range(BURST_SIZE))))


async def an_offer() -> str:
    from aiortc import RTCConfiguration, RTCPeerConnection

    peer = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    peer.addTransceiver("video", direction="recvonly")
    peer.createDataChannel("clock")
    await peer.setLocalDescription(await peer.createOffer())
    sdp = peer.localDescription.sdp
    await peer.close()
    return sdp


def test_a_burst_of_connections_leaves_the_pipeline_running_without_drops(
    stages: Stages, tiny_model_path: Path
) -> None:
    frame_size_px = tuple(stages.card.plate_size_px)
    probe, sink = FrameProbe(), web_sink(frame_size_px)  # type: ignore[arg-type]
    port = sink.addresses[0][1]
    statuses: list[int] = []

    def burst() -> None:
        statuses.extend(asyncio.run(connection_burst(port, asyncio.run(an_offer()))))

    attacker = threading.Thread(target=burst)
    source = open_source(SourceConfig(str(CLIP)))
    config = pipeline_config(tiny_model_path, lossless=True, max_frames=120)  # paced, waits instead of dropping
    attacker.start()
    report = run_pipeline(config, source, [Output(probe), Output(sink, capture_times=True)], stages)
    attacker.join(120)
    assert len(statuses) == BURST_SIZE and set(statuses) <= {200, 400, 503}, sorted(set(statuses))
    assert report.end_reason == "end of input" and report.dropped_total == 0
    assert probe.count == report.frames_captured == 120
    assert not sink.serving


def test_live_run_output_web_on_the_lan_warns_and_reports_its_viewers(
    tiny_model_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    arguments = ["run", "--model", str(tiny_model_path), "--source", str(CLIP), "--output", "web"]
    code = main([*arguments, "--web-host", "0.0.0.0", "--web-port", "0", "--max-frames", "10", "--no-pace"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "warning: --web-host 0.0.0.0" in captured.err and "?token=" in captured.err
    assert "web: 0 viewer(s) now" in captured.out


@pytest.mark.needs("chromium")
def test_bench_measures_the_web_output_beside_the_virtual_camera(tiny_model_path: Path) -> None:
    data = measure_web_beside_vcam(BenchConfig(tiny_model_path, str(CLIP), seconds_per_phase=3.0, device="cpu"))
    assert "skipped" not in data, data
    web, vcam = data["web"], data["vcam"]
    assert web["frames_sent"] > 0 and web["encode_ms"]["count"] > 0 and web["latency_ms"]["count"] > 0
    assert web["cpu_percent"] > 0 and web["cpu_ms_per_frame"] > 0 and web["write_ms"]["count"] > 0
    assert vcam["latency_ms"]["count"] > 0 and vcam["write_ms"]["count"] >= web["write_ms"]["count"]
    assert "web output beside the virtual camera" in str(web_table(data).title)


def test_a_slow_viewer_drops_frames_for_itself_only() -> None:
    from live.io.web_server import FrameTrack, PublishedFrame, ViewerCounts

    async def watch() -> tuple[ViewerCounts, ViewerCounts, list[int]]:
        lock = threading.Lock()
        quick_counts, slow_counts = ViewerCounts(1), ViewerCounts(2)
        quick, slow = FrameTrack(quick_counts, lock), FrameTrack(slow_counts, lock)
        frames = [PublishedFrame(np.full((32, 32, 3), value, dtype=np.uint8), float(value)) for value in range(5)]
        seen = []
        for track in (quick, slow):
            track.offer(frames[0])
            await track.recv()
        for frame in frames[1:]:
            quick.offer(frame)
            slow.offer(frame)
            seen.append(int((await quick.recv()).to_ndarray(format="bgr24")[0, 0, 0]))
        seen.append(int((await slow.recv()).to_ndarray(format="bgr24")[0, 0, 0]))  # the slow one asks only now
        return quick_counts, slow_counts, seen

    quick_counts, slow_counts, seen = asyncio.run(watch())
    assert seen == [1, 2, 3, 4, 4]  # the slow viewer gets the newest frame
    assert (quick_counts.frames_sent, quick_counts.frames_dropped) == (5, 0)
    assert (slow_counts.frames_sent, slow_counts.frames_dropped) == (2, 3)


@pytest.mark.needs("chromium")
def test_sigterm_ends_live_run_and_closes_the_viewers_peer(tiny_model_path: Path) -> None:
    command = [sys.executable, "-m", "live", "run", "--model", str(tiny_model_path), "--source", str(CLIP)]
    command += ["--output", "web", "--web-port", "0", "--retarget", "off"]
    environment = {**os.environ, "COLUMNS": "200"}  # the summary's lines unwrapped
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment)
    try:
        announced = process.stderr.readline()  # type: ignore[union-attr]
        url = announced.split("web output at ", 1)[1].split()[0]
        with HeadlessChromium(url) as browser:
            browser.wait_for("window.liveViewer && window.liveViewer.presented > 0", BROWSER_TIMEOUT_S)
            process.send_signal(signal.SIGTERM)
            out, err = process.communicate(timeout=BROWSER_TIMEOUT_S)
            browser.wait_for("window.liveViewer.state !== 'connected'", BROWSER_TIMEOUT_S)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, err
    assert "SIGTERM" in out and "web viewer 1:" in out and "threads still busy" not in out
