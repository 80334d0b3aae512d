"""Prometheus metrics of an rtcc process: a per-application registry, ``GET /metrics``, process CPU
and RSS, event-loop lag, and :class:`FrameHistogram` for values observed once per frame. The
ingest hub's own collectors are in :mod:`rtcc.ingest.metrics`.

Each application gets its own :class:`~prometheus_client.CollectorRegistry` (not the global one) so
that several hubs can live in one test process without "duplicated timeseries" errors. Components
add their collectors to ``app[METRICS_REGISTRY]``; :func:`setup` serves them all at ``/metrics``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from bisect import bisect_left
from collections.abc import AsyncIterator, Iterator

from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

log = logging.getLogger(__name__)

METRICS_REGISTRY = web.AppKey("metrics_registry", CollectorRegistry)
_SETUP = web.AppKey("metrics_setup", bool)

#: Seconds; a frame should reach Redis well within 100 ms, so the resolution is finest there.
LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5,
                   5.0, 10.0)
WRITE_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
LAG_BUCKETS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0)


def new_registry() -> CollectorRegistry:
    """A registry with this process's CPU seconds, RSS and open file descriptors."""
    registry = CollectorRegistry(auto_describe=True)
    ProcessCollector(registry=registry)
    return registry


def registry_of(app: web.Application) -> CollectorRegistry:
    """The application's registry, created on first use (before the app is frozen)."""
    if METRICS_REGISTRY not in app:
        app[METRICS_REGISTRY] = new_registry()
    return app[METRICS_REGISTRY]


async def _metrics_handler(request: web.Request) -> web.Response:
    registry = request.app[METRICS_REGISTRY]
    # With 1,000 cameras the text is ~10,000 series and takes tens of milliseconds to build:
    # on the event loop that would hold every camera's frames back at each scrape (it showed
    # as the tail of the hub's latency). The collectors only read counters and copy the dicts
    # they walk, so a thread is safe; should one still trip over a dict changing size, the
    # scrape is built on the loop instead.
    try:
        body = await asyncio.to_thread(generate_latest, registry)
    except RuntimeError:
        body = generate_latest(registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


def setup(app: web.Application) -> CollectorRegistry:
    """Register ``GET /metrics`` and the event-loop lag monitor once; return the registry.

    Idempotent: components call it from their own ``setup`` without knowing who came first.
    """
    registry = registry_of(app)
    if _SETUP not in app:
        app[_SETUP] = True
        app.router.add_get("/metrics", _metrics_handler)
        lag = LoopLagMonitor(registry)

        async def _lag_ctx(_app: web.Application) -> AsyncIterator[None]:
            async with lag:
                yield

        app.cleanup_ctx.append(_lag_ctx)
    return registry


class LoopLagMonitor:
    """Measures how late the event loop wakes up a task that asked to sleep ``interval`` seconds.

    Lag is the clearest sign that a single-threaded hub is saturated: every camera's packets
    wait that long before anyone reads them.
    """

    def __init__(self, registry: CollectorRegistry, interval: float = 0.25) -> None:
        self.interval = interval
        self.lag = Gauge("rtcc_event_loop_lag_seconds",
                         "Last measured event-loop wake-up delay", registry=registry)
        self.lag_hist = Histogram("rtcc_event_loop_lag", "Event-loop wake-up delay (seconds)",
                                  buckets=LAG_BUCKETS, registry=registry)
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            start = time.perf_counter()
            await asyncio.sleep(self.interval)
            late = max(0.0, time.perf_counter() - start - self.interval)
            self.lag.set(late)
            self.lag_hist.observe(late)

    async def __aenter__(self) -> LoopLagMonitor:
        self._task = asyncio.create_task(self._run(), name="loop-lag-monitor")
        return self

    async def __aexit__(self, *exc: object) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


class FrameHistogram(Collector):
    """A histogram observed once per frame on the event loop and exported at scrape time.

    ``prometheus_client.Histogram.observe`` takes a lock and updates two locked values (~1.5 µs);
    at 10,000 frames a second that is 1.5 % of a core for one series. Here an observation is a
    bisect and two additions on plain numbers; the scrape (on a thread) copies them first."""

    def __init__(self, name: str, documentation: str, buckets: tuple[float, ...],
                 registry: CollectorRegistry) -> None:
        self.name = name
        self.documentation = documentation
        self.bounds = tuple(float(b) for b in buckets)
        self.counts = [0] * (len(self.bounds) + 1)
        self.sum = 0.0
        registry.register(self)

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1  # le: the first bound >= value
        self.sum += value

    def collect(self) -> Iterator[Metric]:
        counts, total = list(self.counts), self.sum
        buckets, cumulative = [], 0
        for bound, n in zip((*self.bounds, math.inf), counts, strict=True):
            cumulative += n
            buckets.append((floatToGoString(bound), cumulative))
        yield HistogramMetricFamily(self.name, self.documentation, buckets=buckets,
                                    sum_value=total)
