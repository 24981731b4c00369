"""Where `--output web` sends its media: the WebRTC (ICE) host candidates on the page server's own addresses only.

aioice, aiortc's ICE, gathers a host candidate (a UDP socket) on every non-loopback address of the machine, and
never on 127.0.0.1, whatever address the page is served on. So a page served on 127.0.0.1 ("this machine only")
would still listen for media on the LAN and offer only LAN addresses. With the page on a specific address
(127.0.0.1 by default, or a LAN address), restrict_host_candidates() makes one peer connection gather on that
address only: on each aioice Connection of that peer, and nowhere else in the process, it replaces the public
coroutine get_component_candidates(component, addresses) with one that is given the page's addresses instead of
the machine's. Served on every address (0.0.0.0, ::), the peers gather as aioice chooses (the LAN).

With the page on loopback, the viewer is on this machine: its browser checks our 127.0.0.1 candidate from its own
(LAN) address, and we learn that address from its checks. A browser names its own candidates by mDNS names
(`<uuid>.local`), which aioice would resolve through a socket on the wildcard address, querying the LAN; those
candidates are taken out of a loopback server's offers (with the end-of-candidates mark, so that our side keeps
waiting for the viewer's checks).

aiortc and aioice not being shaped as expected (an RTCIceGatherer's aioice Connection, its
get_component_candidates) is an IceHostsError, checked when the page server starts; every answer is checked too:
a candidate elsewhere than on the page's addresses refuses the viewer, never silently.
"""

from __future__ import annotations

import inspect
import ipaddress
from collections.abc import Sequence

import aioice
import aiortc
from aiortc import RTCIceGatherer, RTCPeerConnection

MDNS_SUFFIX = ".local"
EXPECTED = "aiortc 1.16.0 (pyproject.toml) with aioice 0.13"


class IceHostsError(Exception):
    """The media cannot be kept on the page's addresses (aiortc/aioice not as expected, or an answer's candidate)."""


def _ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def media_addresses(bound_hosts: Sequence[str]) -> tuple[str, ...] | None:
    """The addresses the peers may gather host candidates on, given the addresses the page server listens on:
    None (aioice's own choice: every non-loopback address) when one of them is a wildcard (0.0.0.0, ::)."""
    unread = [host for host in bound_hosts if _ip(host) is None]
    if unread or not bound_hosts:
        raise IceHostsError(f"the page server listens on {unread or 'no address'}, not IP addresses")
    ips = [_ip(host) for host in bound_hosts]
    if any(ip is not None and ip.is_unspecified for ip in ips):
        return None
    return tuple(dict.fromkeys(str(ip) for ip in ips))


def only_loopback(addresses: Sequence[str]) -> bool:
    """True when every address is a loopback one (127.0.0.0/8, ::1)."""
    ips = [_ip(address) for address in addresses]
    return bool(ips) and all(ip is not None and ip.is_loopback for ip in ips)


def _connection(gatherer: object) -> aioice.Connection:
    """The aioice Connection an RTCIceGatherer gathers with (a private attribute of aiortc's)."""
    connection = getattr(gatherer, "_connection", None)
    method = getattr(type(connection), "get_component_candidates", None)
    if not isinstance(connection, aioice.Connection) or method is None:
        raise IceHostsError(
            f"aiortc {aiortc.__version__} / aioice {aioice.__version__}: an RTCIceGatherer has no aioice Connection "
            f"with get_component_candidates; install {EXPECTED}"
        )
    parameters = list(inspect.signature(method).parameters)
    if parameters[1:3] != ["component", "addresses"]:
        raise IceHostsError(
            f"aioice {aioice.__version__}: get_component_candidates takes {parameters[1:]}, not (component, "
            f"addresses, ...); install {EXPECTED}"
        )
    return connection


def check_ice_internals() -> None:
    """Raise IceHostsError unless aiortc and aioice are shaped as restrict_host_candidates() needs."""
    _connection(RTCIceGatherer(iceServers=[]))


def _gatherers(peer: RTCPeerConnection) -> list[RTCIceGatherer]:
    dtls_transports = [transceiver.receiver.transport for transceiver in peer.getTransceivers()]
    if peer.sctp is not None:
        dtls_transports.append(peer.sctp.transport)
    gatherers = [dtls.transport.iceGatherer for dtls in dtls_transports if dtls is not None]
    return list({id(gatherer): gatherer for gatherer in gatherers}.values())


def _on_allowed(connection: aioice.Connection, allowed: list[str]) -> object:
    """connection's get_component_candidates, given `allowed` instead of the machine's addresses."""
    gather = connection.get_component_candidates

    async def get_component_candidates(
        component: int, addresses: list[str], timeout: int = 5
    ) -> list[aioice.Candidate]:  # `addresses`: the machine's, which are not used
        return await gather(component=component, addresses=allowed, timeout=timeout)

    return get_component_candidates


def restrict_host_candidates(peer: RTCPeerConnection, addresses: Sequence[str]) -> None:
    """Make this peer gather its host candidates on `addresses` only. Call it after setRemoteDescription (when
    the peer's transports exist) and before setLocalDescription (which gathers)."""
    for gatherer in _gatherers(peer):
        connection = _connection(gatherer)
        connection.get_component_candidates = _on_allowed(connection, list(addresses))  # type: ignore[method-assign]


def candidate_hosts(sdp: str) -> list[str]:
    """The connection address of each a=candidate line of an SDP."""
    return [line.split()[4] for line in sdp.splitlines() if line.startswith("a=candidate:") and len(line.split()) > 4]


def check_answer(sdp: str, addresses: Sequence[str]) -> None:
    """Raise IceHostsError when the answer offers a candidate elsewhere than on `addresses`. (An answer with no
    candidate at all is aioice's for an offer none of whose candidates it could use: nothing is exposed.)"""
    allowed = {_ip(address) for address in addresses}
    elsewhere = sorted({host for host in candidate_hosts(sdp) if _ip(host) not in allowed})
    if elsewhere:
        raise IceHostsError(
            f"the answer offers candidates on {', '.join(elsewhere)}, not only on {', '.join(addresses)} "
            f"(aiortc {aiortc.__version__}, aioice {aioice.__version__}); install {EXPECTED}"
        )


def without_mdns_candidates(sdp: str) -> str:
    """The SDP without its mDNS-named candidates; when there were some, without its end-of-candidates marks too."""
    lines = sdp.splitlines()
    kept = [line for line in lines if not (line.startswith("a=candidate:") and _mdns_named(line))]
    if len(kept) == len(lines):
        return sdp
    return "".join(f"{line}\r\n" for line in kept if line.strip() != "a=end-of-candidates")


def _mdns_named(candidate_line: str) -> bool:
    fields = candidate_line.split()
    return len(fields) > 4 and fields[4].lower().rstrip(".").endswith(MDNS_SUFFIX)
