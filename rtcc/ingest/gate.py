"""The consent gate: a camera's frames reach its wall channel only while its owner's consent is
``live`` at this very moment.

Every access unit asks :meth:`ConsentGate.admit` (a dict lookup in the registry's consent cache and
one comparison, on the event loop). Revocation is pushed, not polled: the cache calls us the
moment the registry publishes a change, and the gate tells its listeners (the hub purges the
camera's queued frames and deletes its channel) before the next frame can be admitted. A sweep
every ``sweep_interval`` seconds also catches expiries and schedule edges whose registry event is
late or lost, so delivery stops within one second in every case. Frames refused here are counted
as ``consent`` drops.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any, Protocol

from rtcc.ingest.metrics import HubMetrics

log = logging.getLogger(__name__)

Listener = Callable[[str, bool], None]
"""Called with (camera id, now live?) when a camera's gate opens or closes."""


class ConsentLookup(Protocol):
    """What the gate needs from ``rtcc.registry.cache.ConsentCache``."""

    def is_live(self, camera_id: str, now: float | None = None) -> bool: ...

    def subscribe(self, callback: Callable[[str, Any], Any]) -> Any: ...


class FrameGate(Protocol):
    """What a camera's sink asks of every frame: :class:`ConsentGate`, or the lease-fenced
    :class:`rtcc.ingest.ownership.LeaseGate` in front of it."""

    def admit(self, cam: str) -> bool: ...


class ConsentGate:
    def __init__(self, cache: ConsentLookup, metrics: HubMetrics,
                 sweep_interval: float = 0.25) -> None:
        self.cache = cache
        self.metrics = metrics
        self.sweep_interval = sweep_interval
        self._open: dict[str, bool] = {}
        self._listeners: list[Listener] = []
        self._unsubscribe: Callable[[], Any] | None = None

    def add_listener(self, listener: Listener) -> None:
        self._listeners.append(listener)

    def start(self) -> None:
        """Subscribe to the cache's change callbacks (call once the cache has started)."""
        if self._unsubscribe is None:
            unsubscribe = self.cache.subscribe(self._on_record)
            self._unsubscribe = unsubscribe if callable(unsubscribe) else (lambda: None)

    def stop(self) -> None:
        """Stop following the cache (a shared cache outlives this hub)."""
        unsubscribe, self._unsubscribe = self._unsubscribe, None
        if unsubscribe is not None:
            unsubscribe()

    def track(self, cam: str) -> bool:
        """Start following ``cam``; returns whether it is live now."""
        live = self.cache.is_live(cam)
        self._open[cam] = live
        return live

    def untrack(self, cam: str) -> None:
        self._open.pop(cam, None)

    def is_open(self, cam: str) -> bool:
        return self._open.get(cam, False)

    def admit(self, cam: str) -> bool:
        """May this frame of ``cam`` be delivered now? Counts a ``consent`` drop when not."""
        live = self.cache.is_live(cam)
        if live != self._open.get(cam):
            self._transition(cam, live)
        if not live:
            self.metrics.dropped(cam, "consent")
        return live

    def _on_record(self, cam: str, _record: Any) -> None:
        if cam in self._open:
            self.check(cam)

    def check(self, cam: str) -> bool:
        live = self.cache.is_live(cam)
        if live != self._open.get(cam):
            self._transition(cam, live)
        return live

    def _transition(self, cam: str, live: bool) -> None:
        self._open[cam] = live
        log.info("consent gate %s for %s", "opened" if live else "closed", cam)
        for listener in list(self._listeners):
            try:
                listener(cam, live)
            except Exception:  # one listener's bug must not keep the gate open for others
                log.exception("consent gate listener failed for %s", cam)

    async def run(self) -> None:
        """Re-evaluate every tracked camera periodically (expiry, schedule edges)."""
        while True:
            await asyncio.sleep(self.sweep_interval)
            for cam in list(self._open):
                self.check(cam)
