"""Approved footage requests older than the hub's live buffer, collected from the simulated
camera's local store: a real in-process ``rtcc sim`` (fleet + its HTTP server with the store), the
registry API through aiohttp_client, and the clip checked frame by frame against ground truth."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import logging
import time
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import av
import pytest
import redis.asyncio as aredis
from aiohttp import web

from rtcc.app import create_app
from rtcc.config import Settings
from rtcc.errors import ConfigError
from rtcc.media.h264 import split_annexb
from rtcc.media.sei import GroundTruth, find_ground_truth
from rtcc.redis_server import RedisUrls
from rtcc.registry.audit import AuditLog
from rtcc.registry.clip_sources import HttpClipSource, RecentClipSource, build_clip_source
from rtcc.registry.evidence import ChainClipSource, LiveChannelClipSource
from rtcc.registry.importer import import_world
from rtcc.registry.store import Registry
from rtcc.registry.users import Users
from rtcc.world.model import World
from simulators.camera import SimCamera
from simulators.clip_http import PATH, ClipEndpoint
from simulators.clock import SimClock
from simulators.fleet import Fleet, FleetOptions
from simulators.fleet_setup import world_plans
from simulators.local_store import LocalStore
from simulators.metrics import MetricsServer, fleet_registry
from simulators.rates import SceneRates
from simulators.scene import Scene
from tests.sim.worlds import street_world

from .conftest import ADMIN, Api

CAM = "cam-n1"
SIZE = (320, 180)
TOKEN = "sim-clip-token-42"
BUSY = SceneRates(visitors_per_hour=0.3, deliveries_per_hour=0.2, passers_by_per_hour=0.3)
NOON = datetime(2026, 6, 1, 12, 0, 0)


def request_world() -> World:
    """The street of tests/sim/worlds.py; households hh-n0..2 answer footage requests (a request
    must reach at least k = 3 of them; only hh-n1's camera runs)."""
    w = street_world(4)
    households = dict(w.households)
    for hid in ("hh-n0", "hh-n1", "hh-n2"):
        households[hid] = dataclasses.replace(households[hid], consent="request")
    return World(w.projection, households, w.buildings, w.cameras, w.streets)


@dataclasses.dataclass
class Sim:
    world: World
    clock: SimClock
    fleet: Fleet
    metrics: MetricsServer

    @property
    def clip_url(self) -> str:
        return f"http://127.0.0.1:{self.metrics.port}{PATH}"


@pytest.fixture
async def sim() -> AsyncIterator[Sim]:
    """``rtcc sim`` in-process, as rtcc/cli/sim.py assembles it: at this moment the simulated
    street is at noon, in real time, with busy foot traffic."""
    world = request_world()
    clock = SimClock(1.0, NOON)
    scene = Scene(world, BUSY, seed=3)
    plans = world_plans(world, [CAM], scene, clock, width=SIZE[0], height=SIZE[1], fps=5.0)
    store = LocalStore(world, scene, clock, [CAM], width=SIZE[0], height=SIZE[1])
    async with Fleet(plans, FleetOptions(fps=5.0, width=SIZE[0], height=SIZE[1], rtsp_port=0,
                                         workers=1, seed=3)) as fleet:
        metrics = MetricsServer(fleet_registry(fleet), port=0,
                                routes=ClipEndpoint(store, token=TOKEN).routes())
        await metrics.start()
        try:
            yield Sim(world, clock, fleet, metrics)
        finally:
            await metrics.close()


@pytest.fixture
async def api(aiohttp_client: Any, redis: aredis.Redis, redis_url: str, sim: Sim,
              settings: Settings) -> Api:
    await import_world(Registry(redis), sim.world, actor=ADMIN, source="test")
    users = Users(redis)
    tokens = {}
    for name, role, household in (("operator", "operator", None),
                                  ("resident", "resident", "hh-n1")):
        _, tokens[name] = await users.add(name, role, actor=ADMIN, household=household)
    app = create_app(settings.replace(clip_store_url=sim.clip_url, clip_store_token=TOKEN),
                     RedisUrls(redis_url, redis_url))
    return Api(await aiohttp_client(app), redis, tokens)


async def open_and_approve(api: Api, world: World, start: float, end: float) -> dict[str, Any]:
    cam = world.cameras[CAM]
    point = list(world.projection.to_lonlat(cam.position.x, cam.position.y))
    status, req = await api.call("POST", "/api/requests", "operator", json={
        "area": {"point": point, "radius_m": 150}, "start": start, "end": end,
        "case": "26-004411", "justification": "Package theft reported on the 400 block."})
    assert status == 201 and req["counts"]["asked"] == 3, req
    status, answer = await api.call(
        "POST", f"/api/requests/{req['id']}/cameras/{CAM}/decision", "resident",
        json={"decision": "approve"})
    assert status == 200, answer
    return answer


def truths(data: bytes) -> list[GroundTruth]:
    """The ground truth of every frame FFmpeg decodes from the clip (one per decoded frame)."""
    out = []
    with av.open(io.BytesIO(data), mode="r", format="h264") as container:
        for packet in container.demux(video=0):
            if packet.size == 0:
                continue
            truth = find_ground_truth(split_annexb(bytes(packet)))
            assert truth is not None
            decoded = packet.decode()
            assert [(f.width, f.height) for f in decoded] == [SIZE]
            out.append(truth)
    return out


async def test_approved_request_minutes_in_the_past_yields_the_recorded_clip(
        api: Api, sim: Sim) -> None:
    now = time.time()
    start, end = now - 1500.0, now - 600.0  # 25 to 10 minutes ago: long gone from the hub
    answer = await open_and_approve(api, sim.world, start, end)
    ev = answer["evidence"]
    assert ev is not None and ev["camera"] == CAM, "the clip came from the camera's store"
    resp = await api.client.get(f"/api/evidence/{ev['id']}", headers={
        "Authorization": f"Bearer {api.tokens['operator']}"})
    assert resp.status == 200
    data = await resp.read()
    assert len(data) == ev["size"]
    frames = truths(data)
    assert len(frames) > 20
    assert all(int(start * 1e6) <= t.t <= int(end * 1e6) for t in frames)
    assert [t.seq for t in frames] == list(range(len(frames)))
    # Recomputed independently (a new scene from the seed, the same clock): same people.
    world = sim.world
    camera = SimCamera(world, world.cameras[CAM], Scene(world, BUSY, seed=3), clock=sim.clock,
                       width=SIZE[0], height=SIZE[1])
    try:
        expected = await asyncio.to_thread(lambda: [camera.render(t.t).subjects for t in frames])
    finally:
        camera.close()
    assert [t.subjects for t in frames] == expected
    assert sum(1 for s in expected if s) > len(frames) // 2, "recorded because someone came"
    # Deterministic: the store asked again for the same window gives the same bytes.
    again = LocalStore(world, Scene(world, BUSY, seed=3), sim.clock, [CAM], width=SIZE[0],
                       height=SIZE[1])
    clip = await asyncio.to_thread(again.record, CAM, start, end)
    assert clip.data == data


async def test_window_outside_retention_is_missing_evidence_and_logged(
        api: Api, sim: Sim, redis: aredis.Redis, caplog: pytest.LogCaptureFixture) -> None:
    now = time.time()
    start = now - 31 * 86400.0
    with caplog.at_level(logging.WARNING, logger="rtcc.registry.clip_sources"):
        answer = await open_and_approve(api, sim.world, start, start + 900)
    assert answer["decision"] == "approved" and answer["evidence"] is None
    last = [e for e in await AuditLog(redis).entries() if e.event == "evidence.missing"]
    assert len(last) == 1 and last[0].details["camera"] == CAM
    text = caplog.text
    assert "HTTP 400" in text and "retention of 30 days" in text and TOKEN not in text


async def test_live_buffer_first_for_recent_windows(redis: aredis.Redis, sim: Sim,
                                                    settings: Settings,
                                                    clip_aus: list[Any]) -> None:
    from .conftest import write_channel

    now = time.time()
    await write_channel(redis, CAM, clip_aus, now - 2.0)
    source = build_clip_source(
        settings.replace(clip_store_url=sim.clip_url, clip_store_token=TOKEN), redis)
    assert isinstance(source, ChainClipSource)
    live = b"".join(au.annexb() for au in clip_aus)
    assert await source.fetch(CAM, now - 3.0, now + 900.0) == live
    # Older than the live window: the hub's tail would cut the clip short; the store answers.
    old = await source.fetch(CAM, now - 1500.0, now - 600.0)
    assert old and old != live and {t.cam for t in truths(old)} == {CAM}
    # Without a store URL the registry keeps its old behaviour: the live channel alone.
    assert isinstance(build_clip_source(settings, redis), LiveChannelClipSource)


async def test_recent_only_skips_old_windows(redis: aredis.Redis, clip_aus: list[Any]) -> None:
    from .conftest import write_channel

    now = time.time()
    await write_channel(redis, "c-live", clip_aus, now - 2.0)
    recent = RecentClipSource(LiveChannelClipSource(redis), 10.0, clock=lambda: now)
    everything = b"".join(a.annexb() for a in clip_aus)
    assert await recent.fetch("c-live", now - 9.0, now + 900.0) == everything
    # Starts 11 s ago, before the 10 s buffer: not asked, though the channel has frames in it.
    assert await recent.fetch("c-live", now - 11.0, now + 900.0) is None
    assert await LiveChannelClipSource(redis).fetch("c-live", now - 11.0, now + 900.0) == everything


async def test_http_source_failures_are_none_with_redacted_logs(
        sim: Sim, aiohttp_server: Any, caplog: pytest.LogCaptureFixture) -> None:
    now = time.time()
    window = (now - 1500.0, now - 600.0)

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(5)
        return web.Response(body=b"late", content_type="video/h264")

    async def wrong_type(request: web.Request) -> web.Response:
        return web.Response(text="<html>login</html>", content_type="text/html")

    app = web.Application()
    app.router.add_get("/slow/{camera}", slow)
    app.router.add_get("/html/{camera}", wrong_type)
    other = await aiohttp_server(app)
    base = f"http://127.0.0.1:{sim.metrics.port}"
    cases = [
        (HttpClipSource(sim.clip_url, token="not-the-token"), CAM, "HTTP 401"),
        (HttpClipSource(sim.clip_url, token=TOKEN), "cam-zz", "HTTP 404"),
        (HttpClipSource(sim.clip_url, token=TOKEN, max_bytes=2000), CAM, "over the cap"),
        (HttpClipSource(f"http://alice:pw-9911@127.0.0.1:{sim.metrics.port}/cams/{{camera}}/clip"),
         CAM, "alice:***@"),
        (HttpClipSource(f"http://127.0.0.1:{other.port}/slow/{{camera}}", timeout=0.3), CAM,
         "no answer within 0.3s"),
        (HttpClipSource(f"http://127.0.0.1:{other.port}/html/{{camera}}"), CAM,
         "content type 'text/html'"),
    ]
    for source, camera, needle in cases:
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="rtcc.registry.clip_sources"):
            assert await source.fetch(camera, *window) is None
        assert needle in caplog.text, (needle, caplog.text)
        assert "pw-9911" not in caplog.text and "not-the-token" not in caplog.text
        assert source.failures == 1
    # Nothing listens on the metrics port once it is closed: refused, not raised.
    await sim.metrics.close()
    refused = HttpClipSource(base + PATH, token=TOKEN)
    assert await refused.fetch(CAM, *window) is None and refused.failures == 1


def test_clip_store_settings_are_checked_and_the_token_redacted() -> None:
    env = {"RTCC_CLIP_STORE_URL": "http://127.0.0.1:9710/cams/{camera}/clip",
           "RTCC_CLIP_STORE_TOKEN": "tok-123"}
    settings = Settings.load(environ=env)
    assert settings.clip_store_url == env["RTCC_CLIP_STORE_URL"]
    assert "tok-123" not in repr(settings) and settings.describe()["clip_store_token"] == "***"
    for bad in ("ftp://127.0.0.1/cams/{camera}", "http://127.0.0.1:9710/cams/clip"):
        with pytest.raises(ConfigError, match="RTCC_CLIP_STORE_URL: expected an http"):
            Settings.load(environ={"RTCC_CLIP_STORE_URL": bad})
