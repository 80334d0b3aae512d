"""Fixtures for the ingest hub tests: a real registry and consent cache on the session Redis,
hubs that close themselves, and rtcc's own simulated cameras (replay mode, small pictures)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack
from functools import partial
from typing import Any

import pytest
import redis.asyncio as aredis

from rtcc.ingest.hub import Hub, HubConfig
from rtcc.ingest.metrics import HubMetrics
from rtcc.metrics import new_registry
from rtcc.registry.audit import Actor
from rtcc.registry.cache import ConsentCache
from rtcc.registry.importer import CameraSeed, import_seeds
from rtcc.registry.store import CameraInfo, HouseholdInfo, Registry
from simulators.fleet import CameraPlan, Fleet, FleetOptions
from simulators.pattern import PatternCamera

ADMIN = Actor("admin", "admin")
W, H = 320, 180


@pytest.fixture
def registry(redis: aredis.Redis) -> Registry:
    return Registry(redis)


async def register(registry: Registry, ids: list[str], tier: str = "live") -> None:
    """Put cameras in the registry with the given seed tier (one household each)."""
    households = [HouseholdInfo(f"h-{cam}") for cam in ids]
    seeds = [CameraSeed(CameraInfo(cam, f"h-{cam}"), tier) for cam in ids]
    await import_seeds(registry, households, seeds, actor=ADMIN)


@pytest.fixture
async def stack() -> AsyncIterator[AsyncExitStack]:
    async with AsyncExitStack() as s:
        yield s


@pytest.fixture
async def cache(redis: aredis.Redis, stack: AsyncExitStack) -> ConsentCache:
    c = ConsentCache(redis)
    await stack.enter_async_context(c)
    return c


HubFactory = Callable[..., Awaitable[Hub]]


@pytest.fixture
def make_hub(redis: aredis.Redis, cache: ConsentCache, stack: AsyncExitStack) -> HubFactory:
    async def make(config: HubConfig | None = None, live: aredis.Redis | None = None) -> Hub:
        hub = Hub(live or redis, cache, HubMetrics(new_registry()), config or HubConfig())
        return await stack.enter_async_context(hub)

    return make


FleetFactory = Callable[..., Awaitable[Fleet]]


@pytest.fixture
def make_fleet(stack: AsyncExitStack) -> FleetFactory:
    async def make(ids: list[str], **options: Any) -> Fleet:
        credentials = options.pop("credentials", None)
        plans = [CameraPlan(cam, partial(PatternCamera, cam, width=W, height=H),
                            credentials=credentials) for cam in ids]
        opts = {"rtsp_port": 0, "width": W, "height": H, "replay": True,
                "replay_seconds": 1.0, "replay_templates": 1, **options}
        return await stack.enter_async_context(Fleet(plans, FleetOptions(**opts)))

    return make


async def wait_for(predicate: Callable[[], Any], timeout: float = 10.0,  # noqa: ASYNC109
                   interval: float = 0.02, what: str = "condition") -> Any:
    """Poll ``predicate`` (sync or async) until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(interval)
