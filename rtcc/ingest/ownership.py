"""Which cameras this hub worker ingests, when several workers share them (sharded ingest).

Every worker knows the same list of cameras (a sources file or the registry) and runs one loop,
every ``renew_interval`` seconds (:class:`Ownership`):

1. heartbeat the membership (:mod:`rtcc.ingest.lease`): N live workers;
2. renew its leases; a lease it failed to renew (expired, or taken) stops that camera at once;
3. read every camera's owner and apply :func:`plan`: with ``hi = ceil(cameras / N)`` and
   ``lo = cameras // N``, a worker below ``hi`` takes *unowned* cameras only (a dead worker's
   cameras become unowned when its leases expire, at most one lease period after it died); a
   worker above ``hi`` releases its surplus gradually, ``release_batch`` per round and only
   cameras it has held for ``min_hold`` seconds; a worker at ``hi`` releases one camera when
   another live worker is below ``lo``, so counts end within one of each other. The hold time
   is the hysteresis: a camera that just moved does not move again, so a returning worker gets
   its share back in a few rounds instead of a flapping storm;
4. start and stop camera workers (``apply``) to match what it holds: stop *before* releasing,
   start only after acquiring, so no camera is ingested twice for longer than one lease period.

Rendezvous hashing orders the candidates, so workers racing for the same unowned cameras mostly
try different ones (``SET NX`` settles the rest), and a returning worker tends to get back the
cameras it had. A joining worker waits ``join_grace`` (default one renew interval) before taking
anything, so workers started together see each other before the first grab. A clean stop stops
every camera, releases every lease and leaves the membership, so the others take over at their
next round instead of after the TTL.

Runs on the event loop; :func:`plan` is pure.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import math
import os
import socket
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from redis.exceptions import RedisError

from rtcc.config import Settings
from rtcc.errors import ConfigError
from rtcc.ingest.gate import ConsentGate
from rtcc.ingest.lease import Leases, owner_counts
from rtcc.ingest.metrics import HubMetrics, ShardMetrics
from rtcc.ingest.sources import Source

log = logging.getLogger(__name__)


def default_worker_id() -> str:
    """``hostname-pid``: unique among the processes of a deployment."""
    return f"{socket.gethostname()}-{os.getpid()}"


@dataclass(frozen=True, slots=True)
class ShardingConfig:
    worker_id: str = field(default_factory=default_worker_id)
    lease_ttl: float = 6.0
    """Seconds a lease lives without renewal (a dead worker's cameras move after this)."""
    renew_interval: float = 2.0
    """Seconds between rounds (heartbeat, renew, rebalance); at most a third of the TTL."""
    min_hold: float = 10.0
    """Seconds a camera is held before it may be released for balance (hysteresis)."""
    release_batch: int = 10
    """Most cameras released for balance per round."""
    join_grace: float | None = None
    """Seconds after joining before taking cameras; None: one renew interval."""

    def __post_init__(self) -> None:
        if self.lease_ttl <= 0 or self.renew_interval <= 0:
            raise ConfigError("lease TTL and renew interval must be > 0")
        if self.renew_interval * 3 > self.lease_ttl + 1e-9:
            raise ConfigError(f"lease renew interval {self.renew_interval:g}s must be at most a "
                              f"third of the lease TTL {self.lease_ttl:g}s")
        if self.release_batch < 1 or self.min_hold < 0 or (self.join_grace or 0) < 0:
            raise ConfigError("release batch must be >= 1, min hold and join grace >= 0")

    @property
    def grace(self) -> float:
        return self.renew_interval if self.join_grace is None else self.join_grace


def sharding_from_settings(settings: Settings) -> ShardingConfig | None:
    """The lease settings of ``rtcc serve`` (``RTCC_HUB_*``); None when sharding is off."""
    if not settings.hub_sharding:
        return None
    return ShardingConfig(worker_id=settings.worker_id or default_worker_id(),
                          lease_ttl=settings.hub_lease_ttl,
                          renew_interval=settings.hub_lease_renew,
                          min_hold=settings.hub_min_hold,
                          release_batch=settings.hub_release_batch,
                          join_grace=settings.hub_join_grace)


def affinity(worker_id: str, cam: str) -> int:
    """Rendezvous-hash weight of a camera for a worker (higher: preferred)."""
    digest = hashlib.blake2b(f"{worker_id}\0{cam}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


@dataclass(frozen=True, slots=True)
class Plan:
    acquire: list[str]
    """Unowned cameras to try, best first (others may win some of them)."""
    release: list[str]
    """Cameras to give up this round."""
    target: int
    """``ceil(cameras / workers)``."""


def plan(cameras: Sequence[str], owners: Mapping[str, str | None], me: str,
         members: Sequence[str], held_since: Mapping[str, float], now: float,
         config: ShardingConfig) -> Plan:
    """One round's decision (see the module docstring); pure."""
    live = set(members) | {me}
    total = len(cameras)
    hi = math.ceil(total / len(live)) if total else 0
    lo = total // len(live)
    mine = [c for c in cameras if owners.get(c) == me]
    n = len(mine)
    acquire: list[str] = []
    if n < hi:
        free = [c for c in cameras if owners.get(c) is None]
        free.sort(key=lambda c: affinity(me, c), reverse=True)
        acquire = free[:hi - n]
    surplus = n - hi
    if surplus <= 0 and hi > lo and n == hi:
        counts = owner_counts(owners.get(c) for c in cameras)
        if any(counts.get(m, 0) < lo for m in live if m != me):
            surplus = 1
    release: list[str] = []
    if surplus > 0:
        eligible = [c for c in mine if now - held_since.get(c, now) >= config.min_hold]
        eligible.sort(key=lambda c: affinity(me, c))
        release = eligible[:min(surplus, config.release_batch)]
    return Plan(acquire, release, hi)


Apply = Callable[[list[Source]], Awaitable[None]]
T = TypeVar("T")


class Ownership:
    """The lease loop of one worker; ``apply(sources)`` makes the hub ingest exactly those."""

    def __init__(self, leases: Leases, config: ShardingConfig, apply: Apply,
                 metrics: ShardMetrics | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.leases = leases
        self.config = config
        self.apply = apply
        self.metrics = metrics
        self.clock = clock
        self.sources: dict[str, Source] = {}
        self.held: dict[str, float] = {}
        """Camera -> clock time it was acquired."""
        self.confirmed: dict[str, float] = {}
        """Camera -> clock time (taken before the command was sent) its lease was last valid."""
        self.owners: dict[str, str | None] = {}
        self.last_owner: dict[str, str] = {}
        """Camera -> the last worker seen holding it (kept after its lease expired)."""
        self.members: list[str] = [leases.worker_id]
        self.started = time.time()
        self.joined_at: float | None = None
        self.rounds = 0
        self._wake = asyncio.Event()
        self._applied: set[str] = set()
        self._sync_lock = asyncio.Lock()

    @property
    def worker_id(self) -> str:
        return self.leases.worker_id

    def set_sources(self, sources: Sequence[Source]) -> None:
        """The cameras every worker shares (re-read from the registry from time to time)."""
        self.sources = {s.id: s for s in sources}
        self._wake.set()

    def lease_age(self, cam: str) -> float | None:
        since = self.held.get(cam)
        return None if since is None else self.clock() - since

    # --- one round ----------------------------------------------------------------------------

    def _info(self) -> dict[str, str | int | float]:
        now = self.clock()
        ages = [now - t for t in self.held.values()]
        return {"cameras": len(self.held), "started": f"{self.started:.3f}",
                "lease_age_min": f"{min(ages):.3f}" if ages else "",
                "lease_age_max": f"{max(ages):.3f}" if ages else ""}

    async def _sync(self) -> None:
        # One at a time: the guard and a round may both stop cameras.
        async with self._sync_lock:
            wanted = set(self.held)
            if wanted != self._applied:
                await self.apply([self.sources[c] for c in sorted(wanted) if c in self.sources])
                self._applied = wanted
        if self.metrics is not None:
            self.metrics.owned.set(len(self.held))

    async def _drop(self, cams: Sequence[str]) -> None:
        for cam in cams:
            self.held.pop(cam, None)
            self.confirmed.pop(cam, None)
        if cams:
            await self._sync()

    async def round(self) -> bool:
        """Heartbeat, renew, rebalance. Returns False when the round failed (Redis down or
        slow: the caller retries soon; :meth:`guard` stops cameras before their leases can
        expire meanwhile)."""
        t0 = self.clock()
        self.rounds += 1
        try:
            await self._round(t0)
        except Exception as err:
            expected = isinstance(err, (RedisError, OSError, TimeoutError))
            log.log(logging.WARNING if expected else logging.ERROR,
                    "hub %s: lease round failed (%s)", self.worker_id,
                    err or type(err).__name__, exc_info=not expected)
            if self.metrics is not None:
                self.metrics.errors.inc()
            return False
        return True

    def fresh(self, cam: str) -> bool:
        """Is the lease of ``cam`` confirmed recently enough to deliver a frame now?"""
        t = self.confirmed.get(cam)
        limit = self.config.lease_ttl - self.config.renew_interval / 2
        return t is not None and self.clock() - t < limit

    def expiring(self, now: float | None = None) -> list[str]:
        """Cameras whose lease, as last confirmed, expires within half a renew interval."""
        now = self.clock() if now is None else now
        limit = self.config.lease_ttl - self.config.renew_interval / 2
        return [c for c, t in self.confirmed.items() if now - t >= limit]

    async def guard(self) -> None:
        """Never ingest on a lease that may have expired: whatever the rounds are doing
        (Redis down, a slow cluster, a starved event loop), stop every camera whose lease was
        not confirmed within ``lease_ttl - renew_interval / 2``."""
        while True:
            await asyncio.sleep(max(0.02, self.config.renew_interval / 10))
            doubtful = self.expiring()
            if not doubtful:
                continue
            log.warning("hub %s: stopping %d cameras whose lease was not renewed in time",
                        self.worker_id, len(doubtful))
            if self.metrics is not None:
                self.metrics.lost.inc(len(doubtful))
            try:
                await self._drop(doubtful)
            except Exception:  # the guard must outlive a failing stop: it retries next tick
                log.exception("hub %s: stopping cameras failed", self.worker_id)

    async def _bounded(self, call: Awaitable[T]) -> T:
        """One group of Redis commands, bounded so that a hung Redis (or redis-py retrying
        with backoff) does not stall the rounds for long. Starting and stopping cameras is not
        bounded (cancelling it halfway would lose track of what runs)."""
        async with asyncio.timeout(max(self.config.renew_interval, self.config.lease_ttl / 2)):
            return await call

    async def _round(self, t0: float) -> None:
        cfg = self.config
        if self.joined_at is None:
            self.joined_at = t0
        self.members = await self._bounded(self.leases.heartbeat(self._info()))
        if self.metrics is not None:
            self.metrics.members.set(len(self.members))
        kept, lost = await self._bounded(self.leases.renew(list(self.held)))
        for cam in kept:
            if cam in self.held:  # the guard may have stopped it meanwhile
                self.confirmed[cam] = t0
        if lost:
            log.warning("hub %s: lost the lease of %d cameras (%s); stopping them",
                        self.worker_id, len(lost), ", ".join(lost[:5]))
            if self.metrics is not None:
                self.metrics.lost.inc(len(lost))
            await self._drop(lost)
        gone = [c for c in self.held if c not in self.sources]
        if gone:
            await self._drop(gone)
            await self._release(gone)
        cams = sorted(self.sources)
        self.owners = await self._bounded(self.leases.owners(cams))
        self.last_owner.update((c, o) for c, o in self.owners.items() if o is not None)
        # Leases in this worker's name that it does not track (a round cut short after its
        # commands ran, a guard stop, or this worker's previous life under the same id): take
        # them back if they still renew, rather than leave the cameras dark until they expire.
        stray = [c for c, o in self.owners.items() if o == self.worker_id and c not in self.held]
        if stray:
            t1 = self.clock()
            kept, gone = await self._bounded(self.leases.renew(stray))
            for cam in kept:
                self.held[cam] = self.confirmed[cam] = t1
            for cam in gone:
                self.owners[cam] = None
        decision = plan(cams, self.owners, self.worker_id, self.members, self.held, t0, cfg)
        if decision.release:
            await self._drop(decision.release)
            await self._release(decision.release)
        if decision.acquire and t0 - self.joined_at >= cfg.grace:
            t1 = self.clock()
            got = await self._bounded(self.leases.acquire(decision.acquire))
            for cam in got:
                self.held[cam] = self.confirmed[cam] = t1
                self.owners[cam] = self.worker_id
            if got:
                taken = [c for c in got if self.last_owner.get(c) not in (None, self.worker_id)
                         and self.last_owner.get(c) not in self.members]
                self.last_owner.update(dict.fromkeys(got, self.worker_id))
                log.info("hub %s: acquired %d cameras (%d taken over), %d workers, target %d",
                         self.worker_id, len(got), len(taken), len(self.members), decision.target)
                if self.metrics is not None:
                    self.metrics.acquired.inc(len(got))
                    self.metrics.takeovers.inc(len(taken))
        await self._sync()

    async def _release(self, cams: Sequence[str]) -> None:
        released = await self._bounded(self.leases.release(cams))
        for cam in cams:
            self.owners[cam] = None
        if released:
            log.info("hub %s: released %d cameras", self.worker_id, len(released))
            if self.metrics is not None:
                self.metrics.released.inc(len(released))

    # --- lifecycle ----------------------------------------------------------------------------

    async def run(self) -> None:
        """The rounds and the guard, until cancelled."""
        async with asyncio.TaskGroup() as tg:
            tg.create_task(self.guard(), name="lease-guard")
            tg.create_task(self._rounds(), name="lease-rounds")

    async def _rounds(self) -> None:
        """Rounds every ``renew_interval`` (sooner when the camera list changes or after a
        failed round)."""
        while True:
            start = self.clock()
            self._wake.clear()
            ok = await self.round()
            interval = self.config.renew_interval if ok else self.config.renew_interval / 10
            wait = max(0.0, interval - (self.clock() - start))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), wait)

    async def close(self) -> None:
        """A clean stop: stop every camera, then release the leases and leave."""
        held = list(self.held)
        await self._drop(held)
        try:
            if held:
                await self._release(held)
            await self.leases.leave()
        except (RedisError, OSError) as err:
            log.warning("hub %s: could not release %d leases on stop (%s); they expire in "
                        "%gs", self.worker_id, len(held), err, self.config.lease_ttl)


class LeaseGate:
    """The consent gate as a camera's sink sees it, fenced by the lease: a frame is delivered
    only while this worker's lease of the camera is fresh. After an event-loop stall longer
    than the lease, the frames the sockets buffered meanwhile are dropped (reason ``lease``)
    instead of written next to the new owner's, before the guard gets to stop the camera."""

    def __init__(self, gate: ConsentGate, ownership: Ownership, metrics: HubMetrics) -> None:
        self.gate = gate
        self.ownership = ownership
        self.metrics = metrics

    def admit(self, cam: str) -> bool:
        if not self.ownership.fresh(cam):
            self.metrics.dropped(cam, "lease")
            return False
        return self.gate.admit(cam)
