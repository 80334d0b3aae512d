"""Where consent tiers come from: the world's seeds, a consent file, the registry."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import redis.asyncio as aredis
from shapely.geometry import Point

from rtcc.errors import ConfigError
from rtcc.exposure.consent import from_registry, from_world, load_consent_file
from rtcc.exposure.static import analyze
from rtcc.registry.audit import Actor
from rtcc.registry.importer import export_registry, import_world
from rtcc.registry.store import Registry
from rtcc.world.model import Camera
from tests.exposure.worlds import four_lots

ADMIN = Actor("admin", "admin")


def world_with_city():
    city = Camera("city1", Point(25, -15), 0.0, 60.0, 10.0, None, lens="rectilinear",
                  type="city")
    return four_lots(extra_cameras={"city1": city})


def test_world_seeds() -> None:
    c = from_world(world_with_city())
    assert dict(c.households) == {"A": "live", "B": "none", "C": "registry", "D": "request"}
    assert dict(c.cameras) == {"cam": "live", "city1": "live"}
    assert c.consenting("A") and not c.consenting("B") and not c.consenting(None)


def test_json_file_overrides_what_it_names(tmp_path: Path) -> None:
    w = world_with_city()
    f = tmp_path / "tiers.json"
    f.write_text(json.dumps({"households": {"B": "live"}, "cameras": {"city1": "none"}}))
    c = load_consent_file(w, f)
    assert dict(c.households) == {"A": "live", "B": "live", "C": "registry", "D": "request"}
    assert dict(c.cameras) == {"cam": "live", "city1": "none"}
    assert c.source == f"file {f}"
    r = analyze(w, c)
    assert r.summary.non_consenting == 2 and r.summary.exposed_non_consenting == 2


def test_camera_tier_sets_its_households_tier(tmp_path: Path) -> None:
    # Only the camera is named: its household takes the camera's tier.
    f = tmp_path / "tiers.toml"
    f.write_text('[cameras]\ncam = "request"\n')
    c = load_consent_file(four_lots(), f)
    assert c.cameras["cam"] == "request" and c.households["A"] == "request"


def test_list_of_camera_records(tmp_path: Path) -> None:
    f = tmp_path / "list.json"
    f.write_text(json.dumps([{"id": "cam", "tier": "none"}]))
    c = load_consent_file(four_lots(), f)
    assert c.cameras["cam"] == "none" and not c.camera_live("cam")


@pytest.mark.parametrize(("content", "message"), [
    ('{"households": {"B": "sometimes"}}',
     "households.B: unknown consent tier 'sometimes'"),
    ('{"households": {"Z": "live"}}', "households.Z: no household 'Z' in the world"),
    ('{"cameras": {"nope": "live"}}', "cameras.nope: no camera 'nope' in the world"),
    ('{"cameras": [{"id": "cam", "tier": "live"}, {"id": "cam", "tier": "none"}]}',
     "cameras[1] (id 'cam').tier: camera 'cam' listed twice"),
    ('{"cameras": [{"tier": "live"}]}', "cameras[0]: expected an object with a string 'id'"),
    ('{"households": {}, "extra": 1}', "unknown top-level key 'extra'"),
    ('{"households": {\n "A": live}}', "invalid JSON at line 2 column 7"),
    ('"live"', "expected an object with 'households' and/or 'cameras'"),
])
def test_bad_consent_files_name_the_entry(tmp_path: Path, content: str, message: str) -> None:
    f = tmp_path / "bad.json"
    f.write_text(content)
    with pytest.raises(ConfigError) as err:
        load_consent_file(four_lots(), f)
    assert str(err.value).startswith(f"--consent {f}: ")
    assert message in str(err.value)


def test_unreadable_consent_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_consent_file(four_lots(), tmp_path / "missing.json")
    with pytest.raises(ConfigError, match="is a directory"):
        load_consent_file(four_lots(), tmp_path)
    junk = tmp_path / "junk.json"
    junk.write_bytes(b"\xff\xfe\x00binary")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_consent_file(four_lots(), junk)


async def test_registry_tiers_and_its_export(redis: aredis.Redis, tmp_path: Path) -> None:
    w = world_with_city()
    registry = Registry(redis)
    await import_world(registry, w, actor=ADMIN)
    c = await from_registry(w, redis)
    assert dict(c.cameras) == {"cam": "live", "city1": "live"}
    assert c.source == "registry" and c.notes == ()
    # The owner of cam revokes: cam drops to none; A's tier follows its only camera.
    await registry.set_consent("cam", "none", actor=ADMIN, reason="moved out")
    c = await from_registry(w, redis)
    assert c.cameras["cam"] == "none" and c.households["A"] == "none"
    assert analyze(w, c).summary.live_cameras == 1  # the city camera
    # The same through a file written by `rtcc registry export`.
    doc = await export_registry(registry)
    f = tmp_path / "export.json"
    f.write_text(json.dumps(doc))
    from_file = load_consent_file(w, f)
    assert dict(from_file.cameras) == dict(c.cameras)
    assert dict(from_file.households) == dict(c.households)


async def test_registry_missing_cameras_are_not_shared(redis: aredis.Redis) -> None:
    await import_world(Registry(redis), four_lots(), actor=ADMIN)
    w = world_with_city()  # city1 was never registered
    c = await from_registry(w, redis)
    assert c.cameras["city1"] == "none"
    assert any("not in the registry" in n for n in c.notes)
