"""The background service: expiry and schedule boundaries, published once, and its loop."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
import redis.asyncio as aredis

from rtcc import keys
from rtcc.registry.audit import Actor, AuditLog
from rtcc.registry.audit_verify import verify
from rtcc.registry.cache import ConsentCache
from rtcc.registry.evidence import EvidenceStore
from rtcc.registry.requests import Requests
from rtcc.registry.service import RegistryService
from rtcc.registry.store import Registry

ALICE = Actor("alice", "resident", "", "h1")
DAY = 1780272000.0  # 2026-06-01T00:00:00Z


def service(redis: aredis.Redis, registry: Registry, tmp_path: Path) -> RegistryService:
    evidence = EvidenceStore(redis, tmp_path / "ev", 3600.0)
    return RegistryService(redis, registry=registry,
                           requests=Requests(redis, registry, evidence), evidence=evidence)


async def test_expiry_rewrites_the_consent(registry: Registry, redis: aredis.Redis,
                                           tmp_path: Path) -> None:
    now = time.time()
    cam = await registry.set_consent("c1a", "live", actor=ALICE, expires=now + 60)
    svc = service(redis, registry, tmp_path)
    assert (await svc.tick(now + 30)).events == []
    report = await svc.tick(now + 61)
    assert [(e.kind, e.camera, e.live) for e in report.events] == [("expired", "c1a", False)]
    after = await registry.get("c1a")
    assert (after.consent.tier, after.consent.expires, after.consent.origin) == (
        "none", None, "user")
    assert after.consent.version == cam.consent.version + 1
    assert (await registry.history("c1a"))[-1].kind == "expired"
    last = (await AuditLog(redis).entries())[-1]
    assert (last.event, last.actor, last.subject, last.details["prev_tier"]) == (
        "consent.expired", "rtcc", "c1a", "live")
    assert await redis.zscore(keys.CONSENT_BOUNDARIES, "c1a") is None
    assert (await svc.tick(now + 120)).events == []
    assert (await verify(redis)).ok


async def test_schedule_edges_publish_events_without_writes(registry: Registry,
                                                            redis: aredis.Redis,
                                                            tmp_path: Path) -> None:
    await registry.set_consent("c1a", "live", actor=ALICE, schedule="20:00-06:00",
                               now=DAY + 12 * 3600)
    assert await redis.zscore(keys.CONSENT_BOUNDARIES, "c1a") == DAY + 20 * 3600
    svc = service(redis, registry, tmp_path)
    version = await registry.version()
    audit_len = len(await AuditLog(redis).entries())
    report = await svc.tick(DAY + 20 * 3600 + 0.1)
    assert [(e.kind, e.live, e.version) for e in report.events] == [("boundary", True, version)]
    assert await redis.zscore(keys.CONSENT_BOUNDARIES, "c1a") == DAY + 30 * 3600
    report = await svc.tick(DAY + 30 * 3600 + 0.1)
    assert [(e.kind, e.live) for e in report.events] == [("boundary", False)]
    assert await registry.version() == version  # boundaries are not changes
    assert len(await AuditLog(redis).entries()) == audit_len


async def test_two_services_publish_each_boundary_once(registry: Registry, redis: aredis.Redis,
                                                       redis_url: str, tmp_path: Path) -> None:
    for cam, actor in (("c1a", ALICE), ("c1b", ALICE)):
        await registry.set_consent(cam, "live", actor=actor, expires=DAY + 3600, now=DAY)
    other = aredis.Redis.from_url(redis_url)
    try:
        a = service(redis, registry, tmp_path)
        b = service(other, Registry(other), tmp_path)
        ra, rb = await asyncio.gather(a.tick(DAY + 3601), b.tick(DAY + 3601))
        cams = sorted(e.camera for e in ra.events + rb.events)
        assert cams == ["c1a", "c1b"]
        expired = [e for e in await AuditLog(redis).entries() if e.event == "consent.expired"]
        assert len(expired) == 2
    finally:
        await other.aclose()


async def test_running_service_revokes_at_expiry(registry: Registry, redis: aredis.Redis,
                                                 redis_url: str, tmp_path: Path) -> None:
    """The real loop: a consent expiring in 0.4 s reaches a cache subscriber as an event."""
    svc = service(redis, registry, tmp_path)
    task = asyncio.create_task(svc.run())
    try:
        async with ConsentCache(redis_url) as cache:
            seen: list[tuple[str, float]] = []
            cache.subscribe(lambda cam, rec: seen.append((cam, time.time())))
            expires = time.time() + 0.4
            await registry.set_consent("c1a", "live", actor=ALICE, expires=expires)
            deadline = time.monotonic() + 3
            while not any(cam == "c1a" and rec_time >= expires for cam, rec_time in seen):
                assert time.monotonic() < deadline, seen
                await asyncio.sleep(0.01)
            heard = [t for cam, t in seen if cam == "c1a" and t >= expires][0]
            assert heard - expires < 0.5  # at most max_sleep (0.25 s) late, plus delivery
            assert (await registry.get("c1a")).consent.tier == "none"
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
