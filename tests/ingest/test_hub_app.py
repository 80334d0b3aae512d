"""The hub inside the ``rtcc serve`` application: API, metrics, sources from file and registry."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import redis.asyncio as aredis

from rtcc import keys
from rtcc.app import create_app
from rtcc.config import Settings
from rtcc.ingest.compiled import extensions
from rtcc.ingest.hub import HUB, HUB_CONFIG, HubConfig
from rtcc.redis_server import RedisUrls
from rtcc.registry.store import Registry
from rtcc.registry.users import Users
from rtcc.vocabulary import CameraState
from tests.ingest.conftest import ADMIN, FleetFactory, register, wait_for


def _app(redis_url: str, tmp: Path, config: HubConfig) -> Any:
    settings = Settings.load({"data_dir": str(tmp / "data"), "run_dir": str(tmp / "run")},
                             environ={})
    app = create_app(settings, RedisUrls(redis_url, redis_url))
    app[HUB_CONFIG] = config
    return app


async def test_api_metrics_and_sources_file(
    redis: aredis.Redis, redis_url: str, registry: Registry, make_fleet: FleetFactory,
    tmp_path: Path, aiohttp_client: Any,
) -> None:
    await register(registry, ["cam-1"])
    await register(registry, ["cam-2"], "request")
    fleet = await make_fleet(["cam-1", "cam-2"])
    sources = tmp_path / "sources.toml"
    sources.write_text("".join(
        f'[[cameras]]\nid = "{cam}"\nurl = "{fleet.rtsp_url(cam)}"\n\n'
        for cam in ("cam-1", "cam-2")))
    users = Users(redis)
    _admin, admin_token = await users.add("root", "admin", actor=ADMIN)
    _op, operator_token = await users.add("olive", "operator", actor=ADMIN)
    _res, resident_token = await users.add("rita", "resident", actor=ADMIN,
                                           household="h-cam-1")
    client = await aiohttp_client(_app(redis_url, tmp_path, HubConfig(sources_file=sources)))
    hub = client.app[HUB]
    await wait_for(lambda: hub.workers["cam-1"].sink.delivered >= 5, what="frames")
    await wait_for(lambda: hub.workers["cam-2"].status.state == CameraState.GATED,
                   what="cam-2 gated")

    resp = await client.get("/api/hub/cameras")
    assert resp.status == 401
    resp = await client.get("/api/hub/cameras",
                            headers={"Authorization": f"Bearer {resident_token}"})
    assert resp.status == 403
    # The police see the ingest of the cameras they see live only (police_view): cam-2 is at
    # tier request, so neither it nor its gated state exists for them.
    resp = await client.get("/api/hub/cameras",
                            headers={"Authorization": f"Bearer {operator_token}"})
    assert resp.status == 200
    assert [c["id"] for c in (await resp.json())["cameras"]] == ["cam-1"]
    resp = await client.get("/api/hub/cameras/cam-2",
                            headers={"Authorization": f"Bearer {operator_token}"})
    assert resp.status == 404
    resp = await client.get("/api/hub/cameras",
                            headers={"Authorization": f"Bearer {admin_token}"})
    assert resp.status == 200
    body = await resp.json()
    cams = {c["id"]: c for c in body["cameras"]}
    assert cams["cam-1"]["state"] == "live" and cams["cam-1"]["frames_delivered"] >= 5
    assert cams["cam-2"]["state"] == "gated" and cams["cam-2"]["frames_delivered"] == 0
    assert cams["cam-1"]["source"] == fleet.rtsp_url("cam-1")
    assert body["redis_up"] is True and body["reconnect_budget"]["rate"] == 50.0
    resp = await client.get("/api/hub/cameras/cam-9",
                            headers={"Authorization": f"Bearer {admin_token}"})
    assert resp.status == 404

    text = await (await client.get("/metrics")).text()
    assert 'rtcc_hub_frames_in_total{camera="cam-1"}' in text
    assert 'rtcc_hub_bytes_in_total{camera="cam-1"}' in text
    assert 'rtcc_hub_frames_dropped_total{camera="cam-2",reason="consent"}' in text
    assert 'rtcc_hub_camera_state{camera="cam-2",rtcc_hub_camera_state="gated"} 1.0' in text
    assert 'rtcc_hub_reconnects_total{camera="cam-1"} 0.0' in text
    assert "rtcc_hub_capture_to_redis_seconds_bucket" in text
    assert "rtcc_hub_redis_write_seconds_count" in text
    assert "rtcc_event_loop_lag_seconds" in text
    assert "process_cpu_seconds_total" in text and "process_resident_memory_bytes" in text
    for part, on in extensions().items():  # what a benchmark ran is on record
        assert f'rtcc_hub_compiled{{part="{part}"}} {float(on)}' in text
    await hub.writer.flush()
    assert await redis.xlen(keys.video("cam-1")) >= 5
    assert not await redis.exists(keys.video("cam-2"))


async def test_registry_sources_are_followed(
    redis: aredis.Redis, redis_url: str, registry: Registry, make_fleet: FleetFactory,
    tmp_path: Path, aiohttp_client: Any,
) -> None:
    await register(registry, ["cam-a", "cam-b"])
    fleet = await make_fleet(["cam-a", "cam-b"])
    await registry.set_source("cam-a", fleet.rtsp_url("cam-a"), actor=ADMIN)
    config = dataclasses.replace(HubConfig(), registry_resync=0.2)
    client = await aiohttp_client(_app(redis_url, tmp_path, config))
    hub = client.app[HUB]
    await wait_for(lambda: "cam-a" in hub.workers and hub.workers["cam-a"].sink.delivered >= 3,
                   what="cam-a from the registry")
    assert "cam-b" not in hub.workers  # no source configured yet
    await registry.set_source("cam-b", fleet.rtsp_url("cam-b"), actor=ADMIN)
    await wait_for(lambda: "cam-b" in hub.workers and hub.workers["cam-b"].sink.delivered >= 3,
                   what="cam-b added at run time")
    await registry.set_source("cam-a", None, actor=ADMIN)
    await wait_for(lambda: "cam-a" not in hub.workers, what="cam-a removed")
    await hub.writer.flush()
    assert not await redis.exists(keys.video("cam-a"), keys.camera_state("cam-a"))


def test_metrics_setup_is_idempotent() -> None:
    # Every component (hub, wall...) calls metrics.setup(app); one /metrics, one lag monitor.
    from aiohttp import web

    from rtcc import metrics

    app = web.Application()
    first = metrics.setup(app)
    assert metrics.setup(app) is first
    assert [r.canonical for r in app.router.resources()].count("/metrics") == 1
    assert len(app.cleanup_ctx) == 1
