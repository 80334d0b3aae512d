"""The state plane (registry, consent cache, users, audit) on a single Redis and on a cluster:
every multi-key Lua batch and MULTI lands in the ``{state}`` slot, pub/sub reaches the cache."""

from __future__ import annotations

import asyncio

import redis.asyncio as aredis
from redis.crc import key_slot

from rtcc import keys
from rtcc.registry import audit_verify
from rtcc.registry.cache import ConsentCache
from rtcc.registry.importer import import_seeds
from rtcc.registry.store import Registry
from rtcc.registry.users import Users
from tests.conftest import TEST_POLICY
from tests.registry.conftest import ADMIN, HOUSEHOLDS, seeds


def test_state_plane_keys_share_one_slot() -> None:
    state = [keys.camera("c1"), keys.household("h1"), keys.CAMERAS, keys.CONSENT_VERSION,
             keys.CONSENT_HISTORY, keys.AUDIT_LOG, keys.AUDIT_HEAD, keys.request("7"),
             keys.REQUESTS_OPEN, keys.evidence("e1"), keys.user("ann"), keys.token("ab"),
             keys.USERS, keys.login_failures_ip("127.0.0.1")]
    assert {key_slot(k.encode()) for k in state} == {key_slot(b"{state}")}
    meta = [keys.FRAME_META, keys.EXPOSURE_STREAMS, keys.EXPOSURE_HOUSEHOLDS,
            keys.EXPOSURE_TILES, keys.EXPOSURE_LAST, keys.EXPOSURE_TOTALS]
    assert {key_slot(k.encode()) for k in meta} == {key_slot(b"{meta}")}
    cam = [keys.video("cam-7"), keys.gop("cam-7"), keys.camera_state("cam-7"),
           keys.camera_owner("cam-7")]
    assert {key_slot(k.encode()) for k in cam} == {key_slot(b"cam-7")}


async def test_registry_consent_cache_users_and_audit(live: aredis.Redis, live_url: str) -> None:
    registry = Registry(live)
    await import_seeds(registry, HOUSEHOLDS, seeds(), actor=ADMIN, source="fixture")
    async with ConsentCache(live_url, poll_interval=0.5) as cache:
        assert cache.is_live("c1b") and cache.is_live("city-1") and not cache.is_live("c1a")
        changed: list[str] = []
        cache.subscribe(lambda cam, record: changed.append(cam))
        await registry.revoke("c1b", actor=ADMIN, reason="moved out")
        for _ in range(100):  # the pub/sub event, not the poll, brings it
            if "c1b" in changed:
                break
            await asyncio.sleep(0.02)
        assert "c1b" in changed and not cache.is_live("c1b")
        await registry.set_consent("c1a", "live", actor=ADMIN)
        for _ in range(100):
            if cache.is_live("c1a"):
                break
            await asyncio.sleep(0.02)
        assert cache.is_live("c1a")
        await cache.resync()  # the MULTI snapshot of every record
        assert cache.is_live("c1a") and not cache.is_live("c1b")
    users = Users(live, policy=TEST_POLICY)
    _user, token = await users.add("ann", "operator", actor=ADMIN, password="a long passphrase")
    assert (await users.authenticate(token)).name == "ann"
    session = await users.login("ann", "a long passphrase", ip="127.0.0.1")
    assert (await users.authenticate(session.token)).name == "ann"
    result = await audit_verify.verify(live)
    assert result.ok, result
    assert sorted(c.id for c in await registry.cameras("h1")) == ["c1a", "c1b"]
