"""The consent gate with the real registry and consent cache: only `live` reaches the wall."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import redis.asyncio as aredis

from rtcc import channels, keys
from rtcc.ingest.sources import Source
from rtcc.registry.store import Registry
from rtcc.vocabulary import CameraState
from tests.ingest.conftest import ADMIN, FleetFactory, HubFactory, register, wait_for


async def test_cameras_that_are_not_live_never_reach_a_channel(
    redis: aredis.Redis, registry: Registry, make_hub: HubFactory, make_fleet: FleetFactory,
) -> None:
    tiers = {"cam-live": "live", "cam-none": "none", "cam-reg": "registry",
             "cam-req": "request"}
    for cam, tier in tiers.items():
        await register(registry, [cam], tier)
    cams = [*tiers, "cam-unknown"]  # the last one is not in the registry at all
    fleet = await make_fleet(cams)
    hub = await make_hub()
    for cam in cams:
        hub.add_source(Source(cam, url=fleet.rtsp_url(cam)))
    await wait_for(lambda: all(w.sink.received >= 15 for w in hub.workers.values()),
                   what="15 frames received from every camera")
    await hub.writer.flush()
    assert await redis.xlen(keys.video("cam-live")) >= 15
    for cam in cams[1:]:
        assert not await redis.exists(keys.video(cam), keys.gop(cam)), cam
        assert hub.workers[cam].status.state == CameraState.GATED
        assert hub.metrics.dropped_total(cam, "consent") >= 15
        state = await channels.read_state(redis, cam)
        assert state is not None and state.state == "gated"
    assert hub.metrics.dropped_total("cam-live") == 0
    assert await channels.live_cameras(redis) == {"cam-live"}
    rows: Any = await redis.xrange(keys.FRAME_META)
    metas = {row[1][b"cam"] for row in rows}
    assert metas == {b"cam-live"}  # the analyzer sees only delivered frames


async def test_revocation_mid_stream_stops_delivery_within_a_second(
    redis: aredis.Redis, redis_url: str, registry: Registry, make_hub: HubFactory,
    make_fleet: FleetFactory,
) -> None:
    await register(registry, ["cam-v", "cam-keep"])
    fleet = await make_fleet(["cam-v", "cam-keep"])
    hub = await make_hub()
    for cam in ("cam-v", "cam-keep"):
        hub.add_source(Source(cam, url=fleet.rtsp_url(cam)))
    await wait_for(lambda: hub.workers["cam-v"].sink.delivered >= 10, what="frames")

    # A viewer follows the channel the way the wall does (XREAD BLOCK).
    seen: list[tuple[float, int]] = []
    viewer_redis = aredis.Redis.from_url(redis_url)

    # It stops on a flag, not by cancellation: a cancel that lands inside redis-py's blocking
    # read can be lost (the viewer then read on and the test hung until its timeout, once).
    watching = True

    async def viewer() -> None:
        last = "$"
        while watching:
            for entry in await channels.xread_frames(viewer_redis, {"cam-v": last},
                                                     block_ms=100):
                last = entry.id
                seen.append((time.time(), entry.frame.seq))

    task = asyncio.create_task(viewer())
    await asyncio.sleep(0.5)
    revoked_at = time.time()
    await registry.revoke("cam-v", actor=ADMIN, reason="owner opted out")
    await wait_for(lambda: hub.workers["cam-v"].status.state == CameraState.GATED, timeout=1.0,
                   what="gated within 1 s")
    async def deleted() -> bool:
        return not await redis.exists(keys.video("cam-v"), keys.gop("cam-v"))

    await wait_for(deleted, timeout=max(0.01, revoked_at + 1.0 - time.time()),
                   interval=0.01, what="channel deleted within 1 s of the revocation")
    await asyncio.sleep(1.0)
    watching = False
    await asyncio.wait_for(task, 5)
    await viewer_redis.aclose()
    assert seen, "the viewer saw frames before the revocation"
    assert max(t for t, _seq in seen) < revoked_at + 1.0
    assert not await redis.exists(keys.video("cam-v"))
    assert hub.metrics.dropped_total("cam-v", "consent") >= 5
    # The other camera never noticed.
    assert hub.workers["cam-keep"].status.state == CameraState.LIVE
    assert hub.metrics.dropped_total("cam-keep") == 0

    # Opting in again reopens the gate on the running stream (next keyframe on).
    await registry.set_consent("cam-v", "live", actor=ADMIN)
    await wait_for(lambda: redis.xlen(keys.video("cam-v")), timeout=5, what="frames again")
    first = (await channels.read_range(redis, "cam-v", count=1))[0]
    assert first.frame.key
    assert hub.workers["cam-v"].status.state == CameraState.LIVE


async def test_expiry_closes_the_gate_without_any_event(
    redis: aredis.Redis, registry: Registry, make_hub: HubFactory, make_fleet: FleetFactory,
) -> None:
    # No registry service runs here to publish the boundary: the cache and the gate's sweep
    # must notice the expiry by themselves.
    await register(registry, ["cam-e"])
    fleet = await make_fleet(["cam-e"])
    hub = await make_hub()
    expires = time.time() + 1.5
    await registry.set_consent("cam-e", "live", actor=ADMIN, expires=expires)
    hub.add_source(Source("cam-e", url=fleet.rtsp_url("cam-e")))
    await wait_for(lambda: hub.workers["cam-e"].sink.delivered >= 3, what="frames")
    await wait_for(lambda: hub.workers["cam-e"].status.state == CameraState.GATED, timeout=4,
                   what="gated after expiry")
    assert time.time() - expires < 1.0
    await hub.writer.flush()
    assert not await redis.exists(keys.video("cam-e"))
