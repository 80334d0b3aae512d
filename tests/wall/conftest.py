"""Fixtures of the wall's tests: a seeded registry, an operator token, the serve app, a feeder."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

import pytest
import redis.asyncio as aredis

from rtcc.app import create_app
from rtcc.config import Settings
from rtcc.redis_server import RedisUrls
from rtcc.registry.audit import Actor, AuditLog
from rtcc.registry.importer import CameraSeed, import_seeds
from rtcc.registry.store import CameraInfo, HouseholdInfo, Registry
from rtcc.registry.users import Users
from tests.conftest import TEST_PASSWORD_LOG2_N, TEST_POLICY
from tests.wall.feeder import ChannelFeeder

ADMIN = Actor("test-admin", "admin", "127.0.0.1")


async def seed_registry(redis: aredis.Redis, cameras: Mapping[str, tuple[str | None, str]],
                        households: Mapping[str, str] | None = None) -> None:
    """Cameras ``{id: (household, tier)}`` and households ``{id: seed tier}`` in the registry."""
    hh = dict(households or {})
    for household, tier in cameras.values():
        if household:
            hh.setdefault(household, tier)
    seeds = [CameraSeed(CameraInfo(cam, household, "doorbell", -90.18 + i * 1e-4, 32.3),
                        tier) for i, (cam, (household, tier)) in enumerate(sorted(cameras.items()))]
    await import_seeds(Registry(redis), [HouseholdInfo(h, 2, t) for h, t in sorted(hh.items())],
                       seeds, actor=ADMIN)


async def add_user(redis: aredis.Redis, name: str, role: str = "operator",
                   password: str | None = None, household: str | None = None) -> str:
    _user, token = await Users(redis, policy=TEST_POLICY).add(
        name, role, actor=ADMIN, password=password, household=household)
    return token


async def audit_events(redis: aredis.Redis, prefix: str = "live.") -> list[Any]:
    return [e for e in await AuditLog(redis).entries() if e.event.startswith(prefix)]


async def set_tier(redis: aredis.Redis, cam: str, tier: str) -> None:
    await Registry(redis).set_consent(cam, tier, actor=ADMIN, reason="test")


@pytest.fixture
def settings(short_tmp) -> Settings:  # type: ignore[no-untyped-def]
    return Settings.load({"port": "0", "password_log2_n": str(TEST_PASSWORD_LOG2_N)},
                         environ={"HOME": str(short_tmp)})


@pytest.fixture
async def wall_client(aiohttp_client, redis, redis_url, settings):  # type: ignore[no-untyped-def]
    """A test client of the whole ``rtcc serve`` app on the session's Redis (registry seeded by
    the test before the first request)."""

    async def make(**overrides: Any):  # type: ignore[no-untyped-def]
        app = create_app(settings.replace(**overrides), RedisUrls(redis_url, redis_url))
        return await aiohttp_client(app)

    return make


@pytest.fixture
async def feeder(redis) -> AsyncIterator[Callable[..., Any]]:  # type: ignore[no-untyped-def]
    started: list[ChannelFeeder] = []

    async def make(cams: list[str], **kw: Any) -> ChannelFeeder:
        f = ChannelFeeder(redis, cams, **kw)
        await f.start()
        started.append(f)
        return f

    yield make
    for f in started:
        await f.stop()
