"""The ingest hub assembled: sources -> supervised workers -> consent gate -> writer -> Redis.

:class:`Hub` owns one :class:`~rtcc.ingest.writer.FrameWriter` (the only writer into the live
Redis), one :class:`~rtcc.ingest.gate.ConsentGate` over the registry's consent cache, one
:class:`~rtcc.ingest.supervisor.Supervisor` with a worker per camera (RTSP pull or WHIP push), and
the WHIP endpoint. Everything runs on one event loop (uvloop under ``rtcc serve``).

:func:`setup` registers the hub with the ``rtcc serve`` application: a cleanup context that starts
the consent cache and the hub (cameras from ``HubConfig.sources_file``, else from the registry,
re-read every ``registry_resync`` seconds), ``GET /api/hub/cameras`` (worker states and owners),
``GET /api/hub/workers`` (the sharded workers), the WHIP routes and ``GET /metrics``.

With ``HubConfig.sharding`` set (the default of ``rtcc serve``), the hub ingests only the cameras
whose lease it holds (:mod:`rtcc.ingest.ownership`); several hub processes then share the cameras.
Without it, the hub ingests every camera it is given.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gc
import logging
import time
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis.asyncio as aredis
from aiohttp import web
from redis.exceptions import RedisError

from rtcc.channels import ChannelWriter
from rtcc.errors import AuthError, Forbidden, NotFound
from rtcc.ice import restrict_host_candidates
from rtcc.ingest.compiled import extensions
from rtcc.ingest.gate import ConsentGate, ConsentLookup, FrameGate
from rtcc.ingest.lease import Leases, members
from rtcc.ingest.metrics import HubMetrics, ShardMetrics
from rtcc.ingest.ownership import (
    LeaseGate,
    Ownership,
    ShardingConfig,
    sharding_from_settings,
)
from rtcc.ingest.rtsp_client import RtspClient, RtspConfig
from rtcc.ingest.sink import FrameSink
from rtcc.ingest.sources import Source, load_registry_sources, load_sources_file
from rtcc.ingest.supervisor import (
    CameraWorker,
    PullWorker,
    ReconnectBudget,
    RetryPolicy,
    Supervisor,
    cancel_and_wait,
)
from rtcc.ingest.whip_endpoint import WhipEndpoint, WhipWorker
from rtcc.ingest.writer import FrameWriter, WriterConfig
from rtcc.metrics import registry_of
from rtcc.metrics import setup as metrics_setup
from rtcc.registry.cache import ConsentCache
from rtcc.registry.consent import effective_tier
from rtcc.registry.police_view import Audience, Disclosure
from rtcc.registry.webutil import CONSENT_CACHE, USER
from rtcc.vocabulary import CameraState, UserRole
from rtcc.web import errors
from rtcc.web.resources import LIVE_REDIS, SETTINGS, STATE_REDIS

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class HubConfig:
    sources_file: Path | None = None
    """Cameras from this TOML/JSON file; None: cameras of the registry that have a source."""
    rtsp: RtspConfig = field(default_factory=RtspConfig)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    reconnect_rate: float = 50.0
    """Connection attempts per second over all cameras (the global reconnect budget)."""
    reconnect_burst: float = 100.0
    writer: WriterConfig = field(default_factory=WriterConfig)
    ice_hosts: tuple[str, ...] = ("127.0.0.1",)
    state_refresh: float = 5.0
    """Seconds between rewrites of the ``frames`` count in each camera's state hash."""
    registry_resync: float = 10.0
    """Seconds between re-reads of the registry's camera sources (registry mode only)."""
    sharding: ShardingConfig | None = None
    """Share the cameras with other hub workers through leases; None: ingest them all."""
    gc_tuning: bool = True
    """In ``rtcc serve``: freeze the start-up heap and collect young objects less often.

    The per-frame objects are acyclic (reference counting frees them), yet with 1,000 cameras
    the cyclic collector's full passes took 120 ms (loop stalls, the p99 latency) and ~15 % of
    the CPU (docs/benchmarks.md, "Ingest hub")."""


HUB_CONFIG = web.AppKey("hub_config", HubConfig)
GC_THRESHOLD = 50_000
"""Allocations between young-generation collections with ``gc_tuning`` (Python's default: 700)."""


class Hub:
    """See module docstring. Use as ``async with Hub(...) as hub:``."""

    def __init__(self, live: aredis.Redis, consent: ConsentLookup, metrics: HubMetrics,
                 config: HubConfig | None = None, live_window: float = 10.0) -> None:
        self.config = config or HubConfig()
        self.metrics = metrics
        self.channels = ChannelWriter(live_window)
        self.writer = FrameWriter(live, self.channels, metrics, self.config.writer)
        self.gate = ConsentGate(consent, metrics)
        self.budget = ReconnectBudget(self.config.reconnect_rate, self.config.reconnect_burst)
        self.supervisor = Supervisor()
        self.whip = WhipEndpoint(self.supervisor.workers.get)
        self.gate.add_listener(self._on_gate)
        self.writer.on_reconnect.append(self._on_redis_back)
        self.ownership: Ownership | None = None
        """Set by :func:`setup` when sharding: then only owned cameras are supervised."""
        self._stack: contextlib.AsyncExitStack | None = None
        restrict_host_candidates(self.config.ice_hosts)

    # --- cameras ------------------------------------------------------------------------------

    @property
    def workers(self) -> dict[str, CameraWorker]:
        return self.supervisor.workers

    def make_worker(self, source: Source) -> CameraWorker:
        # Sharded: the sink's gate also drops frames once the camera's lease is not fresh.
        gate: FrameGate = self.gate if self.ownership is None else \
            LeaseGate(self.gate, self.ownership, self.metrics)
        sink = FrameSink(source.id, gate, self.writer, self.metrics)
        if source.whip:
            return WhipWorker(source, sink, self.writer, self.metrics, self.gate)
        assert source.url is not None
        rtsp = dataclasses.replace(self.config.rtsp, transport=source.transport)
        return PullWorker(source, sink, self.writer, self.metrics, self.gate,
                          RtspClient(source.url, rtsp), self.config.retry, self.budget)

    def add_source(self, source: Source) -> CameraWorker:
        worker = self.make_worker(source)
        self.gate.track(source.id)
        self.supervisor.add(worker)
        return worker

    async def remove_source(self, cam: str, *, forget: bool = True) -> None:
        """Stop ingesting ``cam``; ``forget`` also deletes its channel and state (the camera is
        gone), else they stay for the hub worker that takes the camera over."""
        worker = self.supervisor.workers.get(cam)
        if isinstance(worker, WhipWorker) and worker.session is not None:
            await self.whip.close_session(worker.session, "camera removed")
        await self.supervisor.remove(cam)
        self.gate.untrack(cam)
        if forget:
            self.writer.forget(cam)
        self.metrics.forget(cam)

    async def sync_sources(self, sources: list[Source]) -> None:
        """Make the supervised cameras exactly ``sources`` (add, remove, restart changed)."""
        wanted = {s.id: s for s in sources}
        known = self.ownership.sources if self.ownership is not None else wanted
        # Concurrently: a hub handing 50 cameras over stops them all within one worker's stop.
        # A camera handed over to another worker keeps its channel (that worker writes it now).
        await asyncio.gather(*(
            self.remove_source(cam, forget=cam not in known)
            for cam, worker in list(self.supervisor.workers.items())
            if cam not in wanted or worker.source != wanted[cam]))
        for cam, source in wanted.items():
            if cam not in self.supervisor.workers:
                self.add_source(source)

    async def set_sources(self, sources: list[Source]) -> None:
        """The cameras this hub is responsible for: all of them, or with sharding the share
        whose leases it holds (the ownership loop then calls :meth:`sync_sources`)."""
        if self.ownership is not None:
            self.ownership.set_sources(sources)
        else:
            await self.sync_sources(sources)

    def cameras(self) -> list[dict[str, object]]:
        out = []
        for cam, worker in sorted(self.supervisor.workers.items()):
            snap = worker.snapshot()
            if self.ownership is not None:
                age = self.ownership.lease_age(cam)
                snap["owner"] = self.ownership.worker_id if age is not None else None
                snap["lease_age"] = None if age is None else round(age, 3)
            out.append(snap)
        return out

    # --- events -------------------------------------------------------------------------------

    def _on_gate(self, cam: str, live: bool) -> None:
        if not live:
            # Revoked: nothing queued may go out, and nothing already out may stay readable.
            self.writer.clear_channel(cam)
        worker = self.supervisor.workers.get(cam)
        if worker is not None:
            worker.on_gate(live)

    def _on_redis_back(self) -> None:
        # A restarted memory-only Redis lost every channel: a keyframe is needed before the
        # wall can decode again, and the writer resends states. Nothing else to do: the next
        # keyframe of each camera starts its channel afresh.
        log.info("hub: live Redis back; %d cameras resume", len(self.supervisor.workers))

    async def _refresh_states(self) -> None:
        while True:
            await asyncio.sleep(self.config.state_refresh)
            for worker in list(self.supervisor.workers.values()):
                if worker.status.state in (CameraState.LIVE, CameraState.GATED):
                    self.writer.publish_state(worker.camera_state(), event=False)
            self.metrics.reconnect_tokens.set(self.budget.tokens)

    # --- lifecycle ----------------------------------------------------------------------------

    async def __aenter__(self) -> Hub:
        stack = contextlib.AsyncExitStack()
        await stack.__aenter__()
        try:
            self.gate.start()
            stack.callback(self.gate.stop)
            for name, coro in (("hub-writer", self.writer.run()),
                               ("hub-gate", self.gate.run()),
                               ("hub-states", self._refresh_states())):
                task = asyncio.create_task(coro, name=name)
                stack.push_async_callback(cancel_and_wait, task)
            # Registered after the tasks, so it unwinds first: workers stop (and publish
            # "stopped") while the writer still runs, then the writer flushes and stops.
            stack.push_async_callback(self.writer.flush, 2.0)
            await stack.enter_async_context(self.supervisor)
            stack.push_async_callback(self.whip.close)
        except BaseException:
            await stack.aclose()
            raise
        self._stack = stack
        return self

    async def __aexit__(self, *exc: object) -> None:
        stack, self._stack = self._stack, None
        if stack is not None:
            await stack.aclose()


# --- aiohttp wiring -----------------------------------------------------------------------------

HUB = web.AppKey("hub", Hub)


OPERATIONS_ROLES: frozenset[UserRole] = frozenset({"admin", "operator", "auditor"})
"""Who may see worker states (sources, even redacted, tell where every camera is). The police
(operators) see them only for the cameras they see live (:mod:`rtcc.registry.police_view`)."""
WORKERS_ROLES: frozenset[UserRole] = frozenset({"admin", "auditor"})
"""Who may see the hub workers: their camera counts include cameras hidden from the police."""


def _require(request: web.Request, roles: frozenset[UserRole]) -> Audience:
    user = request.get(USER)
    if user is None:
        raise AuthError("missing credentials: send Authorization: Bearer <token>")
    if user.role not in roles:
        raise Forbidden(f"role {user.role} may not {request.method} {request.path}")
    return Audience(user.role, user.household)


def _shown(request: web.Request, audience: Audience) -> Callable[[str], bool]:
    """Whether ``audience`` may see a camera's ingest state: everything for the oversight
    roles; for the police only cameras they see live (a registry camera's frames, source or
    ``gated`` state are more than its tier shares; others do not exist for them)."""
    if audience.sees_everything:
        return lambda cam: True
    cache, now = request.app[CONSENT_CACHE], time.time()

    def shown(cam: str) -> bool:
        record = cache.record(cam)
        return record is not None and audience.camera(
            effective_tier(record, now), record.household) is Disclosure.LIVE

    return shown


async def _cameras_handler(request: web.Request) -> web.Response:
    shown = _shown(request, _require(request, OPERATIONS_ROLES))
    hub = request.app[HUB]
    own = hub.ownership
    return web.json_response({
        "worker": own.worker_id if own is not None else None,
        "sharding": own is not None,
        "cameras": [c for c in hub.cameras() if shown(str(c["id"]))],
        "owners": dict(sorted((cam, worker) for cam, worker in own.owners.items()
                              if shown(cam))) if own is not None else None,
        "redis_up": hub.writer.redis_up,
        "queued_frames": hub.writer.queued_frames,
        "reconnect_budget": {"rate": hub.budget.rate, "burst": hub.budget.burst,
                             "tokens": round(hub.budget.tokens, 2)},
        "t": round(time.time(), 3),
    })


async def _camera_handler(request: web.Request) -> web.Response:
    shown = _shown(request, _require(request, OPERATIONS_ROLES))
    cam = request.match_info["cam"]
    worker = request.app[HUB].workers.get(cam)
    if worker is None or not shown(cam):
        raise NotFound(f"no camera {cam!r} on this hub", "cam")
    return web.json_response(worker.snapshot())


async def _workers_handler(request: web.Request) -> web.Response:
    _require(request, WORKERS_ROLES)
    hub = request.app[HUB]
    now = time.time()
    found = await members(request.app[LIVE_REDIS], now)
    own = hub.ownership
    return web.json_response({
        "worker": own.worker_id if own is not None else None,
        "sharding": own is not None,
        "workers": [m.as_dict(now) for m in sorted(found, key=lambda m: m.id)],
        "cameras": len(own.sources) if own is not None else len(hub.workers),
        "t": round(now, 3),
    })


async def _resync_registry(hub: Hub, state: aredis.Redis, interval: float) -> None:
    while True:
        await asyncio.sleep(interval)
        try:
            await hub.set_sources(await load_registry_sources(state))
        except (OSError, RedisError) as err:
            log.warning("hub: cannot re-read camera sources from the registry: %s", err)


@contextlib.asynccontextmanager
async def _consent_cache(app: web.Application) -> AsyncIterator[ConsentCache]:
    """The registry's started cache when the registry API runs in this app (its context is
    registered first), else one of the hub's own."""
    if CONSENT_CACHE in app:
        yield app[CONSENT_CACHE]
        return
    cache = ConsentCache(app[STATE_REDIS], tz=app[SETTINGS].registry_tz)
    await cache.start()
    try:
        yield cache
    finally:
        await cache.close()


@contextlib.asynccontextmanager
async def _running(coro: Coroutine[Any, Any, None], name: str) -> AsyncIterator[None]:
    """``coro`` as a background task for the duration of the block."""
    task = asyncio.create_task(coro, name=name)
    try:
        yield
    finally:
        await cancel_and_wait(task)


@contextlib.contextmanager
def _gc_tuned() -> Iterator[None]:
    """See :attr:`HubConfig.gc_tuning`."""
    thresholds = gc.get_threshold()
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_THRESHOLD, *thresholds[1:])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


async def _hub_ctx(app: web.Application) -> AsyncIterator[None]:
    settings, live, state = app[SETTINGS], app[LIVE_REDIS], app[STATE_REDIS]
    # Without a config of its own (rtcc demo, tests) the hub shards as the settings say.
    config = app[HUB_CONFIG] if HUB_CONFIG in app \
        else HubConfig(sharding=sharding_from_settings(settings))
    sources = load_sources_file(config.sources_file) if config.sources_file else None
    registry = registry_of(app)
    async with contextlib.AsyncExitStack() as stack:
        cache = await stack.enter_async_context(_consent_cache(app))
        metrics = HubMetrics(registry)
        metrics.report_compiled(extensions())
        hub = await stack.enter_async_context(
            Hub(live, cache, metrics, config, settings.live_window))
        app[HUB] = hub
        if config.sharding is not None:
            ownership = Ownership(Leases(live, config.sharding.worker_id,
                                         config.sharding.lease_ttl),
                                  config.sharding, hub.sync_sources, ShardMetrics(registry))
            hub.ownership = ownership
            stack.push_async_callback(ownership.close)
        if sources is None:
            sources = await load_registry_sources(state)
            await stack.enter_async_context(_running(
                _resync_registry(hub, state, config.registry_resync), "hub-resync"))
        await hub.set_sources(sources)
        if hub.ownership is not None:
            await stack.enter_async_context(_running(hub.ownership.run(), "hub-ownership"))
        log.info("hub: %d cameras (%s)%s", len(sources),
                 config.sources_file or "from the registry",
                 f", sharded as worker {config.sharding.worker_id}"
                 if config.sharding is not None else "")
        if config.gc_tuning:
            stack.enter_context(_gc_tuned())
        yield


def setup(app: web.Application, config: HubConfig | None = None) -> None:
    """Register the hub with an application (see module docstring)."""
    if config is not None:
        app[HUB_CONFIG] = config
    errors.setup(app)
    metrics_setup(app)
    app.cleanup_ctx.append(_hub_ctx)
    app.router.add_get("/api/hub/cameras", _cameras_handler)
    app.router.add_get("/api/hub/cameras/{cam}", _camera_handler)
    app.router.add_get("/api/hub/workers", _workers_handler)
    endpoint_routes(app)


def endpoint_routes(app: web.Application) -> None:
    """WHIP routes that find the running hub's endpoint at request time."""
    errors.setup(app)

    async def post(request: web.Request) -> web.Response:
        return await request.app[HUB].whip.post(request)

    async def delete(request: web.Request) -> web.Response:
        return await request.app[HUB].whip.delete(request)

    async def patch(request: web.Request) -> web.Response:
        return await request.app[HUB].whip.patch(request)

    async def options(request: web.Request) -> web.Response:
        return await request.app[HUB].whip.options(request)

    app.router.add_post("/whip/{cam}", post)
    app.router.add_route("OPTIONS", "/whip/{cam}", options)
    app.router.add_delete("/whip/{cam}/{session}", delete)
    app.router.add_patch("/whip/{cam}/{session}", patch)
