"""Keep WebRTC (aiortc/aioice) on the loopback interface: the one place that touches aioice.

aioice gathers host candidates from ``aioice.ice.get_host_addresses``, which lists every
interface address *except* 127.0.0.1. The simulators must never talk beyond loopback, and a
loopback-only peer needs 127.0.0.1 as its candidate, so this module swaps that function for one
returning exactly 127.0.0.1. ``Connection.gather_candidates`` looks the name up at call time,
which makes the module attribute the narrowest hook aioice offers (RTCIceGatherer builds its
Connection itself, with no parameter for addresses). Pair it with
``RTCConfiguration(iceServers=[])`` so no STUN server is asked either.
"""

from __future__ import annotations

import aioice.ice

LOOPBACK = "127.0.0.1"
_original = aioice.ice.get_host_addresses


def _loopback_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
    return [LOOPBACK] if use_ipv4 else []


def use_loopback_candidates() -> None:
    """Restrict ICE host candidates to 127.0.0.1 in this process (idempotent)."""
    aioice.ice.get_host_addresses = _loopback_addresses


def loopback_candidates_active() -> bool:
    return aioice.ice.get_host_addresses is _loopback_addresses
