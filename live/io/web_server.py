"""The asyncio side of `--output web`: an aiohttp page server and one aiortc peer connection per viewer,
all on one event loop (run in its own thread by live.io.web_sink.WebSink).

Each viewer has its own FrameTrack holding only the newest frame: a viewer whose encoder or network is slow
skips frames for itself (counted) and never holds up the pipeline or the other viewers.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction

import av
import numpy as np
from aiohttp import web
from aiortc import MediaStreamTrack, RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.exceptions import InvalidStateError
from aiortc.mediastreams import MediaStreamError

from live.io import ice_hosts
from live.io.web_page import PAGE_HTML
from live.io.web_sink import is_loopback

VIDEO_CLOCK_HZ = 90000
SAMPLES_PER_VIEWER = 3000
MAX_OFFER_BYTES = 64 * 1024


@dataclass(slots=True)
class ViewerCounts:
    """One viewer's figures (written on the loop thread under the sink's lock, read by the main thread)."""

    number: int
    frames_sent: int = 0
    frames_dropped: int = 0
    connected: bool = False
    closed: bool = False
    encode_ms: deque[float] = field(default_factory=lambda: deque(maxlen=SAMPLES_PER_VIEWER))
    latency_ms: deque[float] = field(default_factory=lambda: deque(maxlen=SAMPLES_PER_VIEWER))


@dataclass(frozen=True, slots=True)
class PublishedFrame:
    """A composed frame handed to the viewers: its own copy and its capture time (perf_counter s)."""

    image_bgr: np.ndarray
    t_capture_s: float


class FrameTrack(MediaStreamTrack):
    """A video track that hands the encoder the newest frame only; an unsent frame replaced by a newer one
    counts as dropped for this viewer. The time from handing a frame out to the next recv() call is the
    encoder's work on it (encode and packetise)."""

    kind = "video"

    def __init__(self, counts: ViewerCounts, lock: threading.Lock) -> None:
        super().__init__()
        self._counts = counts
        self._lock = lock
        self._slot: PublishedFrame | None = None
        self._ready = asyncio.Event()
        self._handed_out_s: float | None = None
        self._origin_s = time.perf_counter()
        self._last_pts = -1
        self.clock_channel: object | None = None

    def offer(self, frame: PublishedFrame) -> None:
        """Make `frame` the next one to send (loop thread)."""
        if self._slot is not None and self._handed_out_s is not None:
            with self._lock:
                self._counts.frames_dropped += 1
        self._slot = frame
        self._ready.set()

    async def recv(self) -> av.VideoFrame:
        """The newest frame, waiting for one if it was already sent."""
        if self._handed_out_s is not None:
            with self._lock:
                self._counts.encode_ms.append((time.perf_counter() - self._handed_out_s) * 1000.0)
        while self._slot is None:
            self._ready.clear()
            await self._ready.wait()
            if self.readyState != "live":
                raise MediaStreamError
        frame, self._slot = self._slot, None
        # Media time = when the frame goes to the encoder, not its capture: the browser then sees only the
        # encoder's and the network's jitter (not the pipeline's) and buffers less before showing it.
        pts = max(round((time.perf_counter() - self._origin_s) * VIDEO_CLOCK_HZ), self._last_pts + 1)
        self._last_pts = pts
        video_frame = av.VideoFrame.from_ndarray(frame.image_bgr, format="bgr24")
        video_frame.pts, video_frame.time_base = pts, Fraction(1, VIDEO_CLOCK_HZ)
        self._send_clock(pts % 2**32, frame.t_capture_s)
        with self._lock:
            self._counts.frames_sent += 1
        self._handed_out_s = time.perf_counter()
        return video_frame

    def _send_clock(self, pts: int, t_capture_s: float) -> None:
        channel = self.clock_channel
        if channel is not None and channel.readyState == "open":  # type: ignore[attr-defined]
            channel.send(json.dumps({"pts": pts, "capture_ms": round(t_capture_s * 1000.0, 3)}))  # type: ignore[attr-defined]

    def stop(self) -> None:
        """End the track; a waiting recv() raises MediaStreamError."""
        super().stop()
        self._ready.set()


@dataclass(slots=True)
class Viewer:
    """A peer connection with its track and figures."""

    peer: RTCPeerConnection
    track: FrameTrack
    counts: ViewerCounts
    answered: bool = False


class WebServer:
    """The page and the viewers' peer connections; every method runs on the event loop's thread."""

    def __init__(
        self,
        host: str,
        port: int,
        token: str | None,
        max_viewers: int,
        connect_timeout_s: float,
        alpha_layout: dict[str, int] | None = None,
    ) -> None:
        """alpha_layout: the frames carry their alpha beside them (live.io.alpha_pack), told to each page."""
        self.host, self.port, self.token = host, port, token
        self.alpha_layout = alpha_layout
        self.max_viewers = max_viewers
        self.connect_timeout_s = connect_timeout_s
        self.lock = threading.Lock()
        self.viewers: list[Viewer] = []
        self.history: list[ViewerCounts] = []
        self.refused = 0
        self.addresses: list[tuple[str, int]] = []
        self.media_addresses: tuple[str, ...] | None = None  # None: every address (served on 0.0.0.0 or ::)
        self.on_connected: Callable[[], None] = lambda: None  # called on the loop thread
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        """Listen on host:port (port 0: any free one, then self.port is the one chosen); the media will go on the
        same addresses (see live.io.ice_hosts): IceHostsError when aiortc or aioice cannot be made to."""
        app = web.Application(client_max_size=MAX_OFFER_BYTES)
        app.router.add_get("/", self._page)
        app.router.add_post("/offer", self._offer)
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.addresses = [(str(address[0]), int(address[1])) for address in self._runner.addresses]
        self.port = self.addresses[0][1]
        self.media_addresses = ice_hosts.media_addresses([host for host, _ in self.addresses])
        if self.media_addresses is not None:
            ice_hosts.check_ice_internals()

    def _allowed(self, request: web.Request) -> bool:
        """The token, when one is required; on a loopback server, a loopback Host header (no DNS rebinding)."""
        if self.token is not None:
            return secrets.compare_digest(request.query.get("token", ""), self.token)
        host = request.host if request.host.endswith("]") else request.host.rsplit(":", 1)[0]
        return is_loopback(host)

    async def _page(self, request: web.Request) -> web.Response:
        if not self._allowed(request):
            return web.Response(status=403, text="forbidden: open the URL `live run` printed, with its token\n")
        return web.Response(text=PAGE_HTML, content_type="text/html", headers={"Cache-Control": "no-store"})

    async def _offer(self, request: web.Request) -> web.Response:
        if not self._allowed(request):
            return web.Response(status=403, text="forbidden\n")
        try:
            body = await request.json()
            offer = RTCSessionDescription(sdp=self._offered_sdp(str(body["sdp"])), type=str(body["type"]))
        except (ValueError, KeyError, TypeError):
            return web.Response(status=400, text="expected JSON {sdp, type}\n")
        if offer.type != "offer":
            return web.Response(status=400, text="expected an offer\n")
        if not await self._make_room():
            self.refused += 1
            return web.Response(status=503, text=f"{self.max_viewers} viewers already watching\n")
        viewer = self._add_viewer()
        try:
            await viewer.peer.setRemoteDescription(offer)
            if self.media_addresses is not None:
                ice_hosts.restrict_host_candidates(viewer.peer, self.media_addresses)
            await viewer.peer.setLocalDescription(await viewer.peer.createAnswer())
            if self.media_addresses is not None:
                ice_hosts.check_answer(viewer.peer.localDescription.sdp, self.media_addresses)
        except InvalidStateError:  # let go meanwhile (the server is stopping)
            await self._close_viewer(viewer)
            return web.Response(status=503, text="closed while connecting\n")
        except ice_hosts.IceHostsError as error:  # never answer with media elsewhere than the page
            await self._close_viewer(viewer)
            print(f"live: web output: viewer refused: {error}", file=sys.stderr)
            return web.Response(status=500, text=f"{error}\n")
        except (ValueError, RuntimeError) as error:
            await self._close_viewer(viewer)
            return web.Response(status=400, text=f"cannot use this offer: {error}\n")
        viewer.answered = True
        answer = viewer.peer.localDescription
        return web.json_response({"sdp": answer.sdp, "type": answer.type, "alpha": self.alpha_layout})

    def _offered_sdp(self, sdp: str) -> str:
        """The offer as used: served on loopback only, without the viewer's mDNS-named candidates (resolving them
        would query the LAN from the wildcard address; the viewer's checks tell us its address)."""
        if self.media_addresses is not None and ice_hosts.only_loopback(self.media_addresses):
            return ice_hosts.without_mdns_candidates(sdp)
        return sdp

    async def _make_room(self) -> bool:
        """True when a new viewer fits: at max_viewers, the oldest one answered but not yet connected is let go."""
        if len(self.viewers) < self.max_viewers:
            return True
        waiting = [viewer for viewer in self.viewers if viewer.answered and not viewer.counts.connected]
        if not waiting:
            return False
        await self._close_viewer(waiting[0])
        return True

    def _add_viewer(self) -> Viewer:
        counts = ViewerCounts(number=len(self.history) + 1)
        peer = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        track = FrameTrack(counts, self.lock)
        peer.addTrack(track)
        viewer = Viewer(peer, track, counts)
        with self.lock:
            self.viewers.append(viewer)
            self.history.append(counts)

        @peer.on("datachannel")
        def on_channel(channel: object) -> None:
            track.clock_channel = channel
            channel.on("message", lambda message: self._on_message(channel, counts, message))  # type: ignore[attr-defined]

        @peer.on("connectionstatechange")
        async def on_state() -> None:
            if peer.connectionState == "connected":
                counts.connected = True
                self.on_connected()
            elif peer.connectionState in ("failed", "closed"):
                await self._close_viewer(viewer)

        asyncio.get_running_loop().call_later(self.connect_timeout_s, self._drop_if_unconnected, viewer)
        return viewer

    def _on_message(self, channel: object, counts: ViewerCounts, message: object) -> None:
        """A clock ping (answered at once with this process's clock: the page syncs to it) or a latency report;
        anything else is ignored (a viewer cannot break the run)."""
        try:
            data = json.loads(message)  # type: ignore[arg-type]
            if "ping" in data:
                reply = {"pong": float(data["ping"]), "server_ms": time.perf_counter() * 1000.0}
                channel.send(json.dumps(reply))  # type: ignore[attr-defined]
                return
            latency_ms = float(data["latency_ms"])
        except (ValueError, KeyError, TypeError):
            return
        if 0.0 <= latency_ms < 60_000.0:
            with self.lock:
                counts.latency_ms.append(latency_ms)

    def _drop_if_unconnected(self, viewer: Viewer) -> None:
        if not viewer.counts.connected and viewer in self.viewers:
            asyncio.ensure_future(self._close_viewer(viewer))

    async def _close_viewer(self, viewer: Viewer) -> None:
        with self.lock:
            if viewer in self.viewers:
                self.viewers.remove(viewer)
            viewer.counts.closed = True
        viewer.track.stop()
        await viewer.peer.close()

    def publish(self, frame: PublishedFrame) -> None:
        """Offer a new frame to every viewer."""
        for viewer in self.viewers:
            viewer.track.offer(frame)

    async def stop(self) -> None:
        """Close every peer connection, then the server."""
        await asyncio.gather(*(self._close_viewer(viewer) for viewer in list(self.viewers)), return_exceptions=True)
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
