"""`--output web` keeps its media where its page is served: with the default host (127.0.0.1) every ICE candidate of
an answer is a loopback one and no UDP socket opens on another address, yet a viewer on this machine whose own
candidates are on its LAN address (as a browser's are, often hidden behind mDNS names) connects and receives
frames; `--web-host 0.0.0.0` or a LAN address offers the LAN. A real aiortc peer plays the browser's part."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import socket
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import aiohttp
import aioice
import numpy as np
import psutil
import pytest
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

from live.errors import UsageError
from live.io import ice_hosts
from live.io.sinks import SinkConfig, open_sink
from live.io.web_sink import WebConfig, WebSink

FRAME_SIZE_PX = (64, 48)
VIEW_TIMEOUT_S = 30.0
FRAME_PERIOD_S = 0.05


def lan_address() -> str | None:
    """A non-loopback IPv4 address of this machine, or None."""
    for addresses in psutil.net_if_addrs().values():
        for address in addresses:
            if address.family == socket.AF_INET and not ipaddress.ip_address(address.address).is_loopback:
                return address.address
    return None


def candidate_hosts(sdp: str) -> list[str]:
    """The connection address of each a=candidate line."""
    return [line.split()[4] for line in sdp.splitlines() if line.startswith("a=candidate:")]


def udp_sockets() -> set[tuple[str, int]]:
    """The local (address, port) of every UDP socket of this process."""
    return {(connection.laddr.ip, connection.laddr.port) for connection in psutil.Process().net_connections("udp")}


def with_mdns_names(sdp: str) -> str:
    """The offer with each candidate's address replaced by an mDNS name, as browsers send their host candidates."""
    lines = []
    for line in sdp.splitlines():
        if line.startswith("a=candidate:"):
            fields = line.split()
            fields[4] = f"{uuid.uuid4()}.local"
            line = " ".join(fields)
        lines.append(line)
    return "\r\n".join(lines) + "\r\n"


@dataclass(frozen=True)
class Viewing:
    """What a viewer saw: the answer's candidate hosts, its own candidates, the UDP sockets open while it watched
    and the size of the first frame it received."""

    answer_hosts: list[str]
    own_candidates: set[tuple[str, int]]
    sockets_while_watching: set[tuple[str, int]]
    frame_size_px: tuple[int, int]


def track_of(peer: RTCPeerConnection) -> asyncio.Future:
    future = asyncio.get_running_loop().create_future()
    peer.on("track", lambda track: future.done() or future.set_result(track))
    return future


async def post_offer(url: str, sdp: str) -> tuple[int, str]:
    """POST an offer as the page does: the HTTP status and the reply's text."""
    async with aiohttp.ClientSession() as http, http.post(url, json={"sdp": sdp, "type": "offer"}) as response:
        return response.status, await response.text()


async def view(offer_url: str, mdns_names: bool) -> Viewing:
    """Offer like the page does (video to receive, a data channel), POST it and watch until a frame arrives."""
    peer = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    peer.addTransceiver("video", direction="recvonly")
    peer.createDataChannel("clock")
    track = track_of(peer)
    try:
        await peer.setLocalDescription(await peer.createOffer())
        own_sdp = peer.localDescription.sdp
        own = {(line.split()[4], int(line.split()[5])) for line in own_sdp.splitlines() if "a=candidate:" in line}
        sent_sdp = with_mdns_names(own_sdp) if mdns_names else own_sdp
        status, text = await post_offer(offer_url, sent_sdp)
        assert status == 200, text
        answer = json.loads(text)
        await peer.setRemoteDescription(RTCSessionDescription(sdp=answer["sdp"], type=answer["type"]))
        frame = await asyncio.wait_for((await asyncio.wait_for(track, VIEW_TIMEOUT_S)).recv(), VIEW_TIMEOUT_S)
        return Viewing(candidate_hosts(answer["sdp"]), own, udp_sockets(), (frame.width, frame.height))
    finally:
        await peer.close()


@contextmanager
def feeding(host: str) -> Iterator[WebSink]:
    """A web sink on host (any free port) fed a grey frame every FRAME_PERIOD_S until the block ends."""
    sink: WebSink = open_sink(SinkConfig("web", web=WebConfig(host=host, port=0)), FRAME_SIZE_PX)  # type: ignore[assignment]
    stop = threading.Event()

    def feed() -> None:
        while not stop.wait(FRAME_PERIOD_S):
            sink.write(np.full((FRAME_SIZE_PX[1], FRAME_SIZE_PX[0], 3), 128, np.uint8))

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    try:
        yield sink
    finally:
        stop.set()
        feeder.join()
        sink.close()


def offer_url(sink: WebSink, host: str) -> str:
    token = f"?token={sink.token}" if sink.token else ""
    return f"http://{host}:{sink.addresses[0][1]}/offer{token}"


def is_loopback_address(address: str) -> bool:
    return ipaddress.ip_address(address).is_loopback


@pytest.mark.parametrize("mdns_names", [False, True], ids=["plain", "mdns-names"])
def test_the_default_host_offers_and_binds_loopback_only_and_a_local_viewer_still_watches(mdns_names: bool) -> None:
    if lan_address() is None:
        pytest.skip("this machine has no non-loopback IPv4 address: there is no LAN for the media to leak onto")
    before = udp_sockets()
    with feeding(WebConfig().host) as sink:
        viewing = asyncio.run(view(offer_url(sink, "127.0.0.1"), mdns_names))
    # The viewer's own candidates are on the LAN address only (aioice never gathers 127.0.0.1, nor does Chromium):
    # it reaches the loopback media from its LAN address, as a browser on this machine does.
    assert viewing.own_candidates and not any(is_loopback_address(host) for host, _ in viewing.own_candidates)
    assert viewing.answer_hosts and all(is_loopback_address(host) for host in viewing.answer_hosts), viewing
    server_sockets = viewing.sockets_while_watching - before - viewing.own_candidates
    assert server_sockets and all(is_loopback_address(host) for host, _ in server_sockets), server_sockets
    assert viewing.frame_size_px == FRAME_SIZE_PX


def test_the_lan_hosts_offer_the_lan() -> None:
    lan = lan_address()
    if lan is None:
        pytest.skip("this machine has no non-loopback IPv4 address to offer")
    with feeding("0.0.0.0") as sink:
        everywhere = asyncio.run(view(offer_url(sink, "127.0.0.1"), mdns_names=False))
    assert lan in everywhere.answer_hosts and everywhere.frame_size_px == FRAME_SIZE_PX
    with feeding(lan) as sink:
        there = asyncio.run(view(offer_url(sink, lan), mdns_names=False))
    assert there.answer_hosts and set(there.answer_hosts) == {lan} and there.frame_size_px == FRAME_SIZE_PX


def test_an_unexpected_aioice_is_refused_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(aioice.Connection, "get_component_candidates")
    with pytest.raises(UsageError, match="aioice") as refused:
        open_sink(SinkConfig("web", web=WebConfig(port=0)), FRAME_SIZE_PX)
    assert "\n" not in str(refused.value)


def test_an_answer_with_media_elsewhere_is_refused_not_sent(
    monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    if lan_address() is None:
        pytest.skip("this machine has no non-loopback IPv4 address: aioice would gather no candidate to refuse")
    monkeypatch.setattr(ice_hosts, "restrict_host_candidates", lambda peer, addresses: None)  # aioice's own choice

    async def offer(url: str) -> tuple[int, str]:
        peer = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        peer.addTransceiver("video", direction="recvonly")
        await peer.setLocalDescription(await peer.createOffer())
        reply = await post_offer(url, peer.localDescription.sdp)
        await peer.close()
        return reply

    with feeding(WebConfig().host) as sink:
        status, text = asyncio.run(offer(offer_url(sink, "127.0.0.1")))
        assert sink.figures().viewers_now == 0
    assert status == 500 and "candidates on" in text and "a=candidate" not in text
    assert "viewer refused" in capfd.readouterr().err
