"""Analyzer consumer names per role, and adoption of a dead analyzer's pending entries."""

from __future__ import annotations

import redis.asyncio as aredis

from rtcc import keys
from rtcc.config import Settings
from rtcc.exposure.service import adopt_orphans, consumer_name


def test_consumer_names() -> None:
    assert consumer_name(Settings.load({}, environ={})) == "analyzer"
    assert consumer_name(Settings.load({"role": "analyzer", "worker_id": "an-7"},
                                       environ={})) == "an-7"
    name = consumer_name(Settings.load({"role": "analyzer"}, environ={}))
    assert name.rsplit("-", 1)[1].isdigit()  # hostname-pid


async def test_pending_entries_of_a_dead_analyzer_are_adopted(redis: aredis.Redis) -> None:
    assert await adopt_orphans(redis, "alive") == 0  # no stream, no group: nothing to do
    await redis.xgroup_create(keys.FRAME_META, keys.FRAME_META_GROUP, id="0", mkstream=True)
    for i in range(5):
        await redis.xadd(keys.FRAME_META, {"cam": "c", "seq": i, "t": 1})
    await redis.xreadgroup(keys.FRAME_META_GROUP, "dead", {keys.FRAME_META: ">"}, count=3)
    assert await adopt_orphans(redis, "alive", idle_ms=60_000) == 0  # not idle long enough
    assert await adopt_orphans(redis, "alive", idle_ms=0) == 3
    pending = await redis.xpending(keys.FRAME_META, keys.FRAME_META_GROUP)
    assert pending["pending"] == 3
    assert {c["name"]: c["pending"] for c in pending["consumers"]} == {b"alive": 3}
