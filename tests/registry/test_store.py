"""Consent changes through the store: history, version, events, audit, and no partial writes."""

from __future__ import annotations

import asyncio
import time

import pytest
import redis.asyncio as aredis

from rtcc import keys
from rtcc.errors import Forbidden, InvalidInput, NotFound
from rtcc.registry.audit import Actor, AuditLog
from rtcc.registry.audit_verify import verify
from rtcc.registry.events import ConsentEvent
from rtcc.registry.store import Registry

from .conftest import lonlat, snapshot

ALICE = Actor("alice", "resident", "127.0.0.1", "h1")
BOB = Actor("bob", "resident", "127.0.0.1", "h2")
COP = Actor("cop", "operator", "127.0.0.1")


async def listen(redis: aredis.Redis):  # type: ignore[no-untyped-def]
    pubsub = redis.pubsub(ignore_subscribe_messages=True)
    await pubsub.subscribe(keys.CONSENT_EVENTS)
    return pubsub


async def messages(pubsub, wait: float = 0.2) -> list[ConsentEvent]:  # type: ignore[no-untyped-def]
    out = []
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        msg = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.05)
        if msg is not None:
            out.append(ConsentEvent.decode(msg["data"]))
    return out


async def test_resident_opts_in_and_out(registry: Registry, redis: aredis.Redis) -> None:
    pubsub = await listen(redis)
    v0 = await registry.version()
    cam = await registry.set_consent("c1a", "live", actor=ALICE, expires="2h",
                                     schedule="20:00-06:00", reason="trial")
    assert (cam.consent.tier, cam.consent.schedule, cam.consent.origin) == (
        "live", "20:00-06:00", "user")
    assert cam.consent.version == v0 + 1 and await registry.version() == v0 + 1
    cam = await registry.revoke("c1a", actor=ALICE, reason="changed my mind")
    assert (cam.consent.tier, cam.consent.expires, cam.consent.schedule) == ("none", None, None)
    assert await registry.version() == v0 + 2
    # History: the import, then both changes.
    history = await registry.history("c1a")
    assert [(h.kind, h.prev_tier, h.tier, h.actor) for h in history] == [
        ("import", "none", "request", "root"), ("set", "request", "live", "alice"),
        ("revoke", "live", "none", "alice")]
    assert history[1].reason == "trial" and history[1].schedule == "20:00-06:00"
    # Events: one per change, in version order, each with the whole record.
    events = await messages(pubsub)
    assert [(e.kind, e.version, e.record.tier) for e in events] == [
        ("set", v0 + 1, "live"), ("revoke", v0 + 2, "none")]
    assert events[1].live is False
    # Audit: the same two changes, chained.
    audit = [e for e in await AuditLog(redis).entries() if e.subject == "c1a"]
    assert [(e.event, e.actor, e.details["tier"]) for e in audit] == [
        ("consent.set", "alice", "live"), ("consent.revoked", "alice", "none")]
    assert (await verify(redis)).ok
    await pubsub.aclose()


async def test_same_setting_again_writes_nothing(registry: Registry, redis: aredis.Redis
                                                 ) -> None:
    await registry.set_consent("c1a", "live", actor=ALICE)
    before = await snapshot(redis)
    cam = await registry.set_consent("c1a", "live", actor=ALICE)
    assert cam.consent.tier == "live"
    assert await snapshot(redis) == before


async def test_confirming_the_seed_makes_it_the_residents(registry: Registry) -> None:
    cam = await registry.set_consent("c1a", "request", actor=ALICE)
    assert (cam.consent.tier, cam.consent.origin) == ("request", "user")


@pytest.mark.parametrize("camera, tier, kwargs, error, field", [
    ("c1a", "bogus", {}, InvalidInput, "tier"),
    ("c1a", "live", {"expires": "last tuesday"}, InvalidInput, "expires"),
    ("c1a", "live", {"expires": 1.0}, InvalidInput, "expires"),
    ("c1a", "request", {"schedule": "20:00-06:00"}, InvalidInput, "schedule"),
    ("c1a", "live", {"schedule": "25:00-06:00"}, InvalidInput, "schedule"),
    ("c1a", "live", {"reason": "x" * 501}, InvalidInput, "reason"),
    ("nope", "live", {}, NotFound, None),
    ("c2a", "live", {}, Forbidden, None),          # bob's camera
    ("city-1", "none", {}, Forbidden, None),        # no household: admins only
])
async def test_refused_changes_write_nothing(registry: Registry, redis: aredis.Redis,
                                             camera: str, tier: str, kwargs: dict,
                                             error: type, field: str | None) -> None:
    pubsub = await listen(redis)
    before = await snapshot(redis)
    with pytest.raises(error) as err:
        await registry.set_consent(camera, tier, actor=ALICE, **kwargs)
    assert getattr(err.value, "field", None) == field
    assert await snapshot(redis) == before
    assert await messages(pubsub, 0.1) == []
    await pubsub.aclose()


async def test_a_stored_tier_outside_the_vocabulary_names_the_camera(registry: Registry,
                                                                    redis: aredis.Redis) -> None:
    await redis.hset(keys.camera("c1a"), "tier", "everything")  # past the registry's checks
    with pytest.raises(ValueError, match=r"^'c1a': unknown tier 'everything' \(expected one of "
                       r"none, registry, request, live\)$"):
        await registry.get("c1a")
    record = (await registry.get("c1b")).consent
    good = ConsentEvent(1, "set", "c1b", 0.0, False, record)
    bad = good.encode().replace(f'"seed":"{record.seed}"', '"seed":"most"')
    assert bad != good.encode()
    with pytest.raises(ValueError, match=r"^not a consent event: 'c1b': unknown seed 'most'"):
        ConsentEvent.decode(bad)


async def test_operators_and_auditors_cannot_change_consent(registry: Registry,
                                                            redis: aredis.Redis) -> None:
    before = await snapshot(redis)
    for actor in (COP, Actor("aud", "auditor")):
        with pytest.raises(Forbidden):
            await registry.set_consent("c1a", "live", actor=actor)
    assert await snapshot(redis) == before


async def test_concurrent_changes_all_land(registry: Registry, redis_url: str) -> None:
    """Two households changing their cameras at once: no lost update, versions contiguous."""
    other = aredis.Redis.from_url(redis_url)
    try:
        reg2 = Registry(other)
        v0 = await registry.version()

        async def flip(reg: Registry, cam: str, actor: Actor) -> None:
            for i in range(20):
                await reg.set_consent(cam, "live" if i % 2 == 0 else "registry", actor=actor)

        await asyncio.gather(flip(registry, "c1a", ALICE), flip(reg2, "c2a", BOB))
        assert await registry.version() == v0 + 40
        history = [h for h in await registry.history() if h.version > v0]
        assert sorted(h.version for h in history) == list(range(v0 + 1, v0 + 41))
        assert (await registry.get("c1a")).consent.tier == "registry"
        assert (await verify(registry.redis)).ok
    finally:
        await other.aclose()


async def test_boundary_is_scheduled(registry: Registry, redis: aredis.Redis) -> None:
    cam = await registry.set_consent("c1a", "live", actor=ALICE, expires="1h")
    score = await redis.zscore(keys.CONSENT_BOUNDARIES, "c1a")
    assert score == pytest.approx(cam.consent.expires)
    await registry.revoke("c1a", actor=ALICE)
    assert await redis.zscore(keys.CONSENT_BOUNDARIES, "c1a") is None


async def test_record_in_redis_is_readable(registry: Registry, redis: aredis.Redis) -> None:
    await registry.set_consent("c1b", "live", actor=ALICE, schedule="22:00-05:00")
    raw = await redis.hgetall(keys.camera("c1b"))
    assert raw[b"tier"] == b"live" and raw[b"schedule"] == b"22:00-05:00"
    assert raw[b"household"] == b"h1" and raw[b"updated_by"] == b"alice"
    assert float(raw[b"lon"]) == pytest.approx(lonlat(10, 0)[0], abs=1e-9)
    assert float(raw[b"lat"]) == pytest.approx(lonlat(10, 0)[1], abs=1e-9)
