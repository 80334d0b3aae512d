"""The wall's page, static modules and JSON endpoints (tile metadata, map GeoJSON)."""

import pytest

from rtcc.registry.importer import import_world
from rtcc.registry.store import Registry
from rtcc.world.geojson import save_world
from rtcc.world.synth import synthesize
from tests.wall.conftest import ADMIN, add_user, seed_registry, set_tier


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


async def test_page_and_modules_are_served(redis, wall_client):
    client = await wall_client()
    r = await client.get("/", allow_redirects=False)
    assert r.status == 302 and r.headers["Location"] == "/wall/"
    r = await client.get("/wall/")
    assert r.status == 200 and "text/html" in r.headers["Content-Type"]
    html = await r.text()
    assert 'type="module"' in html and "/wall/static/js/main.js" in html
    for path in ("js/main.js", "js/webcodecs.js", "js/mse.js", "js/fmp4.js", "wall.css"):
        r = await client.get(f"/wall/static/{path}")
        assert r.status == 200, path
    r = await client.get("/wall/static/js/main.js")
    assert "javascript" in r.headers["Content-Type"]
    assert (await client.get("/wall/static/../../app.py")).status in (403, 404)


async def test_camera_list_needs_an_operator(redis, wall_client):
    await seed_registry(redis, {"cam-1": ("hh-1", "live")})
    client = await wall_client()
    assert (await client.get("/api/wall/cameras")).status == 401
    r = await client.get("/api/wall/cameras", headers=bearer("nope"))
    assert r.status == 401 and (await r.json())["error"]
    auditor = await add_user(redis, "audrey", "auditor")
    r = await client.get("/api/wall/cameras", headers=bearer(auditor))
    assert r.status == 403 and "auditor" in (await r.json())["error"]
    admin = await add_user(redis, "ada", "admin")
    assert (await client.get("/api/wall/cameras", headers=bearer(admin))).status == 200


async def test_camera_list_reports_consent_and_hides_non_live_owners(redis, wall_client):
    await seed_registry(redis, {"cam-1": ("hh-1", "live"), "cam-2": ("hh-2", "registry"),
                                "cam-3": (None, "live"), "cam-4": ("hh-4", "request"),
                                "cam-5": ("hh-5", "none")})
    token = await add_user(redis, "olive")
    admin = await add_user(redis, "ada", "admin")
    client = await wall_client()
    doc = await (await client.get("/api/wall/cameras", headers=bearer(token))).json()
    cams = {c["id"]: c for c in doc["cameras"]}
    assert set(cams) == {"cam-1", "cam-2", "cam-3"}  # the police view: no request or none
    assert (cams["cam-1"]["tier"], cams["cam-1"]["live"], cams["cam-1"]["household"]) == (
        "live", True, "hh-1")
    assert (cams["cam-2"]["tier"], cams["cam-2"]["live"], cams["cam-2"]["household"]) == (
        "registry", False, None)
    assert cams["cam-3"]["live"] and cams["cam-3"]["household"] is None
    doc = await (await client.get("/api/wall/cameras", headers=bearer(admin))).json()
    assert {c["id"]: c["tier"] for c in doc["cameras"]} == {
        "cam-1": "live", "cam-2": "registry", "cam-3": "live", "cam-4": "request",
        "cam-5": "none"}
    await set_tier(redis, "cam-1", "none")
    doc = await (await client.get("/api/wall/cameras", headers=bearer(token))).json()
    assert "cam-1" not in {c["id"] for c in doc["cameras"]}
    doc = await (await client.get("/api/wall/cameras", headers=bearer(admin))).json()
    cam1 = next(c for c in doc["cameras"] if c["id"] == "cam-1")
    assert (cam1["tier"], cam1["live"], cam1["household"], cam1["state"]) == (
        "none", False, None, "revoked")


async def test_map_without_a_world_says_how_to_get_one(redis, wall_client):
    token = await add_user(redis, "olive")
    client = await wall_client()
    r = await client.get("/api/wall/map", headers=bearer(token))
    assert r.status == 404 and "--world" in (await r.json())["error"]


@pytest.fixture
async def world_client(redis, wall_client, short_tmp):
    world = synthesize(30, 3, live_rate=0.3, camera_rate=0.5)
    path = short_tmp / "map-world.geojson"
    save_world(world, path)
    await import_world(Registry(redis), world, actor=ADMIN)
    # The whole picture is the admin's (the police view is tests/wall/test_police_view.py).
    token = await add_user(redis, "ada", "admin")
    return world, await wall_client(world=path), token


async def test_map_is_the_world_in_lon_lat_with_current_consent(redis, world_client):
    world, client, token = world_client
    r = await client.get("/api/wall/map", headers=bearer(token))
    assert r.status == 200 and r.content_type == "application/geo+json"
    doc = await r.json()
    assert doc["type"] == "FeatureCollection"
    kinds: dict[str, list] = {}
    for f in doc["features"]:
        kinds.setdefault(f["properties"]["kind"], []).append(f)
    assert len(kinds["household"]) == len(world.households)
    assert all({"id", "tier", "residents"} <= set(f["properties"]) for f in kinds["household"])
    assert len(kinds["camera"]) == len(world.cameras)
    assert len(kinds["building"]) == len(world.buildings)
    assert len(kinds["street"]) == len(world.streets)
    assert {f["properties"]["camera"] for f in kinds["view"]} == set(world.cameras)
    west, south, east, north = doc["bbox"]
    assert -90.3 < west < east < -90.0 and 32.2 < south < north < 32.4  # Jackson, MS
    # Every point lies in the bbox (lon/lat order, RFC 7946).
    def points(coords):
        if isinstance(coords[0], (int, float)):
            yield coords
        else:
            for c in coords:
                yield from points(c)
    for f in doc["features"]:
        for lon, lat in points(f["geometry"]["coordinates"]):
            assert west - 1e-6 <= lon <= east + 1e-6 and south - 1e-6 <= lat <= north + 1e-6
    # A camera point agrees with the world's own projection.
    cam = next(iter(world.cameras.values()))
    feature = next(f for f in kinds["camera"] if f["properties"]["id"] == cam.id)
    lon, lat = world.projection.to_lonlat(cam.position.x, cam.position.y)
    assert feature["geometry"]["coordinates"] == pytest.approx([lon, lat], abs=2e-7)
    # Tiers come from the registry as it is now, not from the file.
    assert feature["properties"]["tier"] == world.camera_consent(cam)


async def test_map_follows_consent_changes(redis, world_client):
    world, client, token = world_client
    cam = next(c for c in world.cameras.values()
               if c.household and world.camera_consent(c) == "live")
    others = [c for c in world.cameras.values() if c.household == cam.household and c != cam]
    for other in others:
        await set_tier(redis, other.id, "none")
    await set_tier(redis, cam.id, "request")
    doc = await (await client.get("/api/wall/map", headers=bearer(token))).json()
    props = {(f["properties"]["kind"], f["properties"].get("id") or f["properties"].get("camera")):
             f["properties"] for f in doc["features"]}
    assert props[("camera", cam.id)]["tier"] == "request"
    assert props[("camera", cam.id)]["live"] is False
    assert props[("view", cam.id)]["live"] is False
    assert props[("household", cam.household)]["tier"] == "request"
