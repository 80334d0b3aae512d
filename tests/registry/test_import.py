"""Import from a world file (idempotent, never overriding a person) and export to JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import redis.asyncio as aredis

from rtcc import keys
from rtcc.errors import Forbidden
from rtcc.registry.audit import Actor, AuditLog
from rtcc.registry.importer import export_registry, import_world
from rtcc.registry.store import Registry
from rtcc.world.geojson import load_world

from .conftest import ADMIN, snapshot

ALICE = Actor("alice", "resident", "", "h1")


def parcel(lon: float, lat: float) -> dict:
    d = 0.0002
    return {"type": "Polygon", "coordinates": [[[lon, lat], [lon + d, lat], [lon + d, lat + d],
                                                [lon, lat + d], [lon, lat]]]}


def world_doc(h1_seed: str = "request", cam2_consent: str = "live",
              source: str | None = "rtsp://u:secret@127.0.0.1:8554/cam-2") -> dict:
    cam2 = {"kind": "camera", "id": "cam-2", "household": "h2", "direction": 180, "fov": 160,
            "range": 30, "type": "doorbell", "consent": cam2_consent}
    if source:
        cam2["source"] = source
    return {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": parcel(-90.1800, 32.3000),
         "properties": {"kind": "household", "id": "h1", "residents": 2, "consent": h1_seed}},
        {"type": "Feature", "geometry": parcel(-90.1796, 32.3000),
         "properties": {"kind": "household", "id": "h2", "residents": 1, "consent": "none"}},
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [-90.1799, 32.3001]},
         "properties": {"kind": "camera", "id": "cam-1", "household": "h1", "direction": 180,
                        "fov": 160, "range": 30, "type": "doorbell"}},
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [-90.1795, 32.3001]},
         "properties": cam2},
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [-90.1797, 32.3003]},
         "properties": {"kind": "camera", "id": "city-9", "household": None, "direction": 90,
                        "fov": 90, "range": 60, "type": "city"}},
    ]}


def write(tmp_path: Path, doc: dict, name: str = "world.geojson") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    return path


async def test_import_seeds_tiers_per_the_world_contract(redis: aredis.Redis, tmp_path: Path
                                                         ) -> None:
    reg = Registry(redis)
    report = await import_world(reg, load_world(write(tmp_path, world_doc())), actor=ADMIN)
    assert (report.households, report.created, report.seeded, report.kept) == (2, 3, 0, 0)
    tiers = {c.id: c.consent.tier for c in await reg.cameras()}
    # cam-1 takes its household's seed, cam-2 its own consent, the city camera defaults to live.
    assert tiers == {"cam-1": "request", "cam-2": "live", "city-9": "live"}
    cam1 = await reg.get("cam-1")
    assert cam1.info.lon == pytest.approx(-90.1799, abs=1e-7)
    assert cam1.info.lat == pytest.approx(32.3001, abs=1e-7)
    assert (cam1.info.direction, cam1.info.fov, cam1.info.range) == (180.0, 160.0, 30.0)
    assert (await reg.get("cam-2")).info.source == "rtsp://u:secret@127.0.0.1:8554/cam-2"
    assert {c.id for c in await reg.cameras("h1")} == {"cam-1"}
    assert (await reg.household("h2")).residents == 1
    entry = (await AuditLog(redis).entries())[-1]
    assert entry.event == "registry.import" and entry.details["created"] == 3


async def test_reimport_is_idempotent(redis: aredis.Redis, tmp_path: Path) -> None:
    reg = Registry(redis)
    world = load_world(write(tmp_path, world_doc()))
    await import_world(reg, world, actor=ADMIN)
    before = {k: v for k, v in (await snapshot(redis)).items()
              if not k.startswith(keys.AUDIT_PREFIX.encode())}
    report = await import_world(reg, world, actor=ADMIN)
    assert (report.created, report.seeded, report.kept, report.unchanged) == (0, 0, 0, 3)
    after = {k: v for k, v in (await snapshot(redis)).items()
             if not k.startswith(keys.AUDIT_PREFIX.encode())}
    assert after == before  # no version bump, no history, no record change


async def test_reimport_keeps_a_residents_choice_and_follows_changed_seeds(
        redis: aredis.Redis, tmp_path: Path) -> None:
    reg = Registry(redis)
    await import_world(reg, load_world(write(tmp_path, world_doc())), actor=ADMIN)
    await reg.set_consent("cam-1", "none", actor=ALICE)      # the resident opts out
    v = await reg.version()
    # The new file seeds h1 with live and cam-2 with registry.
    changed = load_world(write(tmp_path, world_doc("live", "registry", None), "w2.geojson"))
    report = await import_world(reg, changed, actor=ADMIN)
    assert (report.seeded, report.kept, report.unchanged) == (1, 1, 1)
    assert report.changed == {"cam-2": ("live", "registry")}
    cam1, cam2 = await reg.get("cam-1"), await reg.get("cam-2")
    assert (cam1.consent.tier, cam1.consent.origin, cam1.consent.seed) == ("none", "user", "live")
    assert (cam2.consent.tier, cam2.consent.origin) == ("registry", "seed")
    assert await reg.version() == v + 1
    # A file without a source does not wipe the configured one.
    assert cam2.info.source == "rtsp://u:secret@127.0.0.1:8554/cam-2"


async def test_only_admins_import(redis: aredis.Redis, tmp_path: Path) -> None:
    with pytest.raises(Forbidden):
        await import_world(Registry(redis), load_world(write(tmp_path, world_doc())),
                           actor=ALICE)
    assert await redis.exists(keys.CAMERAS) == 0


async def test_export(redis: aredis.Redis, tmp_path: Path) -> None:
    reg = Registry(redis)
    await import_world(reg, load_world(write(tmp_path, world_doc())), actor=ADMIN)
    await reg.set_consent("cam-1", "live", actor=ALICE, schedule="20:00-06:00")
    doc = await export_registry(reg, history=True)
    assert doc["format"] == "rtcc-registry/1" and doc["timezone"] == "UTC"
    cams = {c["id"]: c for c in doc["cameras"]}
    assert cams["cam-1"]["set_tier"] == "live" and cams["cam-1"]["schedule"] == "20:00-06:00"
    assert cams["cam-2"]["source"] == "rtsp://u:***@127.0.0.1:8554/cam-2"  # never the password
    assert {h["id"]: h["cameras"] for h in doc["households"]} == {"h1": ["cam-1"],
                                                                  "h2": ["cam-2"]}
    assert [h["kind"] for h in doc["history"] if h["camera"] == "cam-1"] == ["import", "set"]
    json.dumps(doc)  # JSON-able as is
