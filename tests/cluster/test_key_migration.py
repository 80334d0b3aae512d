"""The one-time migration of old-form (untagged) keys, on a single Redis and on a cluster: data
written by an older version is found under the new names, a stream keeps its consumer group, a
second run does nothing, and nothing is overwritten."""

from __future__ import annotations

import asyncio
import logging

import pytest
import redis.asyncio as aredis

from rtcc import keys
from rtcc.connections import connect, is_cluster
from rtcc.keys_migration import migrate_keys, new_name

OLD = {
    "rtcc:registry:camera:c1": keys.camera("c1"),
    "rtcc:registry:cameras": keys.CAMERAS,
    "rtcc:registry:version": keys.CONSENT_VERSION,
    "rtcc:audit:log": keys.AUDIT_LOG,
    "rtcc:users:user:ann": keys.user("ann"),
    "rtcc:requests:seq": keys.REQUESTS_SEQ,
    "rtcc:evidence:all": keys.EVIDENCE_ALL,
    "rtcc:exposure:totals": keys.EXPOSURE_TOTALS,
    "rtcc:meta:frames": keys.FRAME_META,
}


def test_new_names() -> None:
    for old, new in OLD.items():
        assert new_name(old) == new
    assert new_name(keys.video("c1")) is None
    assert new_name(keys.CAMERA_EVENTS) is None
    assert new_name(keys.camera("c1")) is None  # already tagged


async def _write_old(r: aredis.Redis) -> None:
    await r.hset("rtcc:registry:camera:c1", mapping={"tier": "live", "household": "h1"})
    await r.sadd("rtcc:registry:cameras", "c1")
    await r.set("rtcc:registry:version", 7)
    await r.rpush("rtcc:audit:log", "a", "b")
    await r.hset("rtcc:users:user:ann", mapping={"role": "operator"})
    await r.set("rtcc:requests:seq", 3)
    await r.zadd("rtcc:evidence:all", {"e1": 1.0})
    await r.hset("rtcc:exposure:totals", mapping={"frames": 42})
    await r.xadd("rtcc:meta:frames", {"cam": "c1", "seq": 1})
    await r.xgroup_create("rtcc:meta:frames", keys.FRAME_META_GROUP, id="0")
    await r.set("rtcc:users:token:abc", "x", px=600_000)


async def test_migration_renames_once_and_keeps_data(
        live: aredis.Redis, live_url: str, caplog: pytest.LogCaptureFixture) -> None:
    await _write_old(live)
    with caplog.at_level(logging.WARNING, logger="rtcc.keys_migration"):
        client = await connect(live_url, timeout=10)  # migrates on connect
    await client.aclose()
    assert "migrated 10 Redis keys" in caplog.text
    for old, new in OLD.items():
        assert not await live.exists(old), old
        assert await live.exists(new), new
    if is_cluster(live):
        assert "copied: 10" in caplog.text  # old and new names sit in different slots
    else:
        assert "renamed: 10" in caplog.text
    assert await live.hget(keys.camera("c1"), "tier") == b"live"
    assert await live.lrange(keys.AUDIT_LOG, 0, -1) == [b"a", b"b"]
    assert await live.get(keys.CONSENT_VERSION) == b"7"
    assert 0 < await live.pttl(keys.token("abc")) <= 600_000  # the TTL moves with the key
    groups = await live.xinfo_groups(keys.FRAME_META)
    assert [g["name"] for g in groups] == [keys.FRAME_META_GROUP.encode()]
    assert await migrate_keys(live) == {}  # idempotent


async def test_migration_never_overwrites(live: aredis.Redis,
                                          caplog: pytest.LogCaptureFixture) -> None:
    await live.set("rtcc:registry:version", 7)
    await live.set(keys.CONSENT_VERSION, 9)  # a newer version already wrote the new name
    await live.set("rtcc:requests:seq", 3)
    await live.set(keys.REQUESTS_SEQ, 3)  # an interrupted copy: same data in both
    with caplog.at_level(logging.WARNING, logger="rtcc.keys_migration"):
        counts = await migrate_keys(live)
    assert counts == {"kept": 1, "dropped": 1}
    assert await live.get(keys.CONSENT_VERSION) == b"9"
    assert await live.get("rtcc:registry:version") == b"7"
    assert not await live.exists("rtcc:requests:seq")
    assert "different data" in caplog.text
    if is_cluster(live):
        # Old and new names hash to different slots here: the move was a copy.
        await live.set("rtcc:registry:version", 1)
        await live.delete(keys.CONSENT_VERSION)
        assert await migrate_keys(live) == {"copied": 1}
        assert await live.get(keys.CONSENT_VERSION) == b"1"


async def test_workers_starting_together_migrate_without_errors(live: aredis.Redis,
                                                                 live_url: str) -> None:
    await _write_old(live)
    clients = [await connect(live_url, timeout=10, migrate=False) for _ in range(3)]
    try:
        results = await asyncio.gather(*(migrate_keys(c) for c in clients))
    finally:
        for c in clients:
            await c.aclose()
    moved = sum(n for r in results for k, n in r.items() if k in ("renamed", "copied"))
    assert moved == 10
    assert not any(r.get("kept") for r in results)
    for old, new in OLD.items():
        assert not await live.exists(old) and await live.exists(new), old
