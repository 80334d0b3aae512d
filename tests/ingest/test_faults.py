"""Faults: cameras that reboot, go silent, send garbage, or drop all at once."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
import redis.asyncio as aredis

from rtcc import channels, keys
from rtcc.ingest.hub import HubConfig
from rtcc.ingest.rtsp_client import RtspConfig
from rtcc.ingest.sources import Source
from rtcc.ingest.supervisor import RetryPolicy
from rtcc.ingest.writer import WriterConfig
from rtcc.redis_server import LIVE, EmbeddedRedis
from rtcc.registry.store import Registry
from rtcc.vocabulary import CameraState
from tests.ingest.conftest import FleetFactory, HubFactory, register, wait_for
from tests.ingest.tcp_proxy import TcpProxy

FAST = RetryPolicy(initial=0.2, factor=2.0, cap=1.0, jitter=0.5, stable_after=5.0)


async def test_rebooted_camera_backs_off_then_comes_back(
    redis: aredis.Redis, registry: Registry, make_hub: HubFactory, make_fleet: FleetFactory,
) -> None:
    await register(registry, ["cam-r"])
    fleet = await make_fleet(["cam-r"])
    hub = await make_hub(HubConfig(retry=FAST))
    hub.add_source(Source("cam-r", url=fleet.rtsp_url("cam-r")))
    worker = hub.workers["cam-r"]
    await wait_for(lambda: worker.sink.delivered >= 5, what="first frames")

    fleet.set_down("cam-r", True)  # reboot: connections cut, DESCRIBE refused meanwhile
    await wait_for(lambda: worker.status.state == CameraState.BACKING_OFF, what="backing_off")
    api = {c["id"]: c for c in hub.cameras()}["cam-r"]
    assert api["state"] == "backing_off" and "retry in" in str(api["reason"])
    await hub.writer.flush()
    state = await channels.read_state(redis, "cam-r")
    assert state is not None and state.state in ("backing_off", "connecting")
    await asyncio.sleep(1.0)  # a few refused attempts: the delay grows
    fleet.set_down("cam-r", False)

    before = worker.sink.delivered
    await wait_for(lambda: worker.status.state == CameraState.LIVE
                   and worker.sink.delivered > before + 5, timeout=10, what="live again")
    assert worker.status.reconnects >= 1
    await hub.writer.flush()
    events = [e["state"] for e in reversed(await channels.read_events(redis, 50))
              if e["cam"] == "cam-r"]
    assert events[:2] == ["connecting", "live"]
    assert "backing_off" in events and events[-1] == "live"


async def test_silent_camera_is_restarted(
    registry: Registry, make_hub: HubFactory, make_fleet: FleetFactory,
) -> None:
    await register(registry, ["cam-s"])
    fleet = await make_fleet(["cam-s"])
    hub = await make_hub(HubConfig(retry=FAST, rtsp=RtspConfig(silence_timeout=1.0)))
    hub.add_source(Source("cam-s", url=fleet.rtsp_url("cam-s")))
    worker = hub.workers["cam-s"]
    await wait_for(lambda: worker.sink.delivered >= 3, what="first frames")
    fleet.set_stalled("cam-s", True)
    started = time.monotonic()
    await wait_for(lambda: worker.status.state == CameraState.BACKING_OFF, timeout=5,
                   what="restart")
    assert 0.9 < time.monotonic() - started < 3.5
    assert "silent" in worker.status.reason
    fleet.set_stalled("cam-s", False)
    await wait_for(lambda: worker.status.state == CameraState.LIVE, timeout=10, what="live again")


async def test_garbage_on_the_wire_restarts_only_that_camera(
    redis: aredis.Redis, registry: Registry, make_hub: HubFactory, make_fleet: FleetFactory,
) -> None:
    await register(registry, ["cam-g", "cam-ok"])
    fleet = await make_fleet(["cam-g", "cam-ok"])
    port = int(fleet.rtsp_url("cam-g").split(":")[2].split("/")[0])
    async with TcpProxy(port) as proxy:
        proxy.garbage_after = 30_000  # some frames, then garbage on the first connection
        hub = await make_hub(HubConfig(retry=FAST))
        hub.add_source(Source("cam-g", url=f"rtsp://127.0.0.1:{proxy.port}/cams/cam-g"))
        hub.add_source(Source("cam-ok", url=fleet.rtsp_url("cam-ok")))
        bad, good = hub.workers["cam-g"], hub.workers["cam-ok"]
        await wait_for(lambda: bad.status.reconnects >= 1, timeout=10, what="cam-g restart")
        await wait_for(lambda: bad.status.state == CameraState.LIVE, timeout=10, what="cam-g back")
        await wait_for(lambda: good.sink.delivered >= 30, timeout=10, what="cam-ok frames")
        assert good.status.reconnects == 0 and good.status.state == CameraState.LIVE
        # cam-ok lost nothing while cam-g was restarting: its sequence numbers are consecutive.
        rows = await channels.read_range(redis, "cam-ok")
        seqs = [e.frame.seq for e in rows]
        assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
        assert hub.metrics.dropped_total("cam-ok") == 0
    events = await channels.read_events(redis, 100)
    reasons = [e["reason"] for e in events if e["cam"] == "cam-g" and e["state"] == "backing_off"]
    assert any("garbage" in r for r in reasons), reasons


async def test_retries_can_be_disabled(make_hub: HubFactory, registry: Registry) -> None:
    # The test hook: with retries off a failure is final, visible as "failed".
    await register(registry, ["cam-x"])
    server = await asyncio.start_server(lambda r, w: w.transport.abort(), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    hub = await make_hub(HubConfig(retry=RetryPolicy(retries=False)))
    hub.add_source(Source("cam-x", url=f"rtsp://127.0.0.1:{port}/cams/cam-x"))
    worker = hub.workers["cam-x"]
    await wait_for(lambda: worker.status.state == CameraState.FAILED, what="failed")
    await asyncio.sleep(0.3)
    assert worker.status.state == CameraState.FAILED and worker.status.reconnects == 0
    server.close()
    await server.wait_closed()


@pytest.mark.slow
async def test_hundred_cameras_dropping_at_once_reconnect_within_budget(
    registry: Registry, make_hub: HubFactory, make_fleet: FleetFactory,
) -> None:
    cams = [f"cam-{i:03d}" for i in range(100)]
    await register(registry, cams)
    fleet = await make_fleet(cams)
    port = int(fleet.rtsp_url(cams[0]).split(":")[2].split("/")[0])
    rate, burst = 30.0, 10.0
    async with TcpProxy(port) as proxy:
        hub = await make_hub(HubConfig(
            retry=RetryPolicy(initial=0.05, cap=0.2, jitter=0.5, stable_after=60),
            reconnect_rate=rate, reconnect_burst=burst))
        for cam in cams:
            hub.add_source(Source(cam, url=f"rtsp://127.0.0.1:{proxy.port}/cams/{cam}"))
        await wait_for(lambda: all(w.status.state == CameraState.LIVE
                                   for w in hub.workers.values()),
                       timeout=20, what="100 cameras live")
        # Everyone drops at once; the server refuses for 3 s.
        proxy.refusing = True
        t0 = time.monotonic()
        assert proxy.cut_all() == 100
        await asyncio.sleep(3.0)
        proxy.refusing = False
        attempts = [t - t0 for t in proxy.accepted if t >= t0]
        # Without the budget: 100 cameras retrying every <= 0.2 s = 1,500 attempts in 3 s.
        assert len(attempts) <= burst + rate * 3.0 + 2
        assert len(attempts) >= rate * 3.0 * 0.8  # the budget is used, not starved
        for start in [x / 10 for x in range(0, 21)]:  # every 1-second window
            window = sum(1 for a in attempts if start <= a < start + 1.0)
            assert window <= burst + rate + 2, (start, window)
        await wait_for(lambda: all(w.status.state == CameraState.LIVE
                                   for w in hub.workers.values()),
                       timeout=30, what="all back")


async def test_hub_survives_a_live_redis_restart(
    short_tmp: Path, registry: Registry, make_hub: HubFactory, make_fleet: FleetFactory,
) -> None:
    await register(registry, ["cam-d"])
    fleet = await make_fleet(["cam-d"])
    server = EmbeddedRedis(LIVE, short_tmp / "hub-restart", short_tmp / "hr")
    server.start()
    live = aredis.Redis.from_url(server.url)
    try:
        hub = await make_hub(HubConfig(writer=WriterConfig(write_timeout=0.5, probe_max=0.2)),
                             live=live)
        hub.add_source(Source("cam-d", url=fleet.rtsp_url("cam-d")))
        await wait_for(lambda: live.xlen(keys.video("cam-d")), what="frames")
        server.stop()
        await wait_for(lambda: not hub.writer.redis_up, what="writer notices")
        await asyncio.sleep(1.0)
        server.start()
        await wait_for(lambda: hub.writer.redis_up, timeout=10, what="writer reconnects")
        await wait_for(lambda: live.xlen(keys.video("cam-d")), timeout=5, what="frames again")
        first = (await channels.read_range(live, "cam-d", count=1))[0]
        assert first.frame.key
        state = await channels.read_state(live, "cam-d")
        assert state is not None and state.state == "live"
        assert hub.metrics.dropped_total("cam-d") > 0  # reported, not hidden
        worker = hub.workers["cam-d"]
        assert worker.status.state == CameraState.LIVE and worker.status.reconnects == 0
    finally:
        await live.aclose()
        server.stop()
