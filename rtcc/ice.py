"""Host ICE candidates restricted to chosen local addresses (127.0.0.1 by default).

aioice gathers a host candidate on every interface address *except* 127.0.0.1, so an rtcc
process bound to loopback would offer candidates on the machine's real networks, and none on the
address its peers actually use. aioice has no option for this; its module-level
``aioice.ice.get_host_addresses`` is the only hook. :func:`restrict_host_candidates` replaces it,
once per process, with a function returning the allowed addresses. It is process-wide by nature:
every aiortc peer connection in this process (hub, wall, a simulator's WHIP publisher started
in-process) then gathers on those addresses only, which is what the project's network-safety rule
asks for anyway. Calling it again with other addresses changes the list; it is idempotent.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import aioice.ice

log = logging.getLogger(__name__)

_allowed: tuple[str, ...] = ("127.0.0.1",)
_installed = False


def _host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
    return [a for a in _allowed if (":" in a and use_ipv6) or (":" not in a and use_ipv4)]


def restrict_host_candidates(addresses: Sequence[str] = ("127.0.0.1",)) -> None:
    """Gather host candidates on ``addresses`` only (see module docstring)."""
    global _allowed, _installed
    _allowed = tuple(addresses)
    if not _installed or aioice.ice.get_host_addresses is not _host_addresses:
        aioice.ice.get_host_addresses = _host_addresses
        _installed = True
        log.debug("ICE host candidates restricted to %s", ", ".join(_allowed))


def candidates_restricted() -> bool:
    """True when this process's ICE host candidates are restricted (for tests and asserts)."""
    return aioice.ice.get_host_addresses is _host_addresses
