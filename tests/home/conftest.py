"""Fixtures of the residents' app tests: a synthetic block in the registry and in a world file,
two residents' households (A and B) with request-tier cameras near each other, an operator and
the whole ``rtcc serve`` app on the session's Redis."""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aredis
from aiohttp.test_utils import TestClient

from rtcc.app import create_app
from rtcc.config import Settings
from rtcc.redis_server import RedisUrls
from rtcc.registry.importer import import_world
from rtcc.registry.store import Registry
from rtcc.world.geojson import save_world
from rtcc.world.model import World
from rtcc.world.synth import synthesize
from tests.wall.conftest import ADMIN, add_user


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def home_world() -> World:
    """A block where every camera takes footage requests, except one live and one not shared
    per five (so that a request around any camera asks several)."""
    world = synthesize(40, 7, camera_rate=0.8)
    cycle = ("request", "request", "live", "request", "none")
    cams = {cid: dataclasses.replace(cam, consent=cycle[i % len(cycle)])
            for i, (cid, cam) in enumerate(sorted(world.cameras.items()))}
    return dataclasses.replace(world, cameras=cams)


@dataclass
class Block:
    client: TestClient
    world: World
    path: Path
    redis: aredis.Redis
    a: str
    """Household A (has a request-tier camera)."""
    b: str
    tokens: dict[str, str]
    """``a``, ``b`` (residents), ``operator``, ``admin``."""

    def cams(self, household: str, tier: str | None = None) -> list[str]:
        return sorted(c for c, cam in self.world.cameras.items() if cam.household == household
                      and (tier is None or self.world.camera_consent(c) == tier))

    def around(self, camera: str, radius: float = 160.0) -> dict[str, Any]:
        p = self.world.cameras[camera].position
        return {"point": list(self.world.projection.to_lonlat(p.x, p.y)), "radius_m": radius}

    async def get(self, path: str, who: str) -> Any:
        r = await self.client.get(path, headers=bearer(self.tokens[who]))
        assert r.status == 200, (path, who, r.status, await r.text())
        return await r.json()

    async def send(self, method: str, path: str, who: str, body: Any) -> Any:
        r = await self.client.request(method, path, json=body, headers=bearer(self.tokens[who]))
        assert r.status in (200, 201), (path, who, r.status, await r.text())
        return await r.json()

    async def open_request(self, camera: str, case: str = "26-000123", **window: float) -> Any:
        now = time.time()
        return await self.send("POST", "/api/requests", "operator", {
            "area": self.around(camera), "case": case,
            "justification": "A car was broken into on this street last night.",
            "start": window.get("start", now - 60), "end": window.get("end", now + 840)})


def pick_households(world: World) -> tuple[str, str]:
    """Two households, each with a request-tier camera; A's has a second camera."""
    owners: dict[str, list[str]] = {}
    for cid, cam in sorted(world.cameras.items()):
        if cam.household:
            owners.setdefault(cam.household, []).append(cid)
    with_request = [h for h, cs in sorted(owners.items())
                    if any(world.camera_consent(c) == "request" for c in cs)]
    a = next((h for h in with_request if len(owners[h]) > 1), with_request[0])
    b = next(h for h in with_request if h != a)
    return a, b


@pytest.fixture
async def block(aiohttp_client, redis, redis_url, short_tmp) -> Block:  # type: ignore[no-untyped-def]
    world = home_world()
    path = short_tmp / "home-world.geojson"
    save_world(world, path)
    await import_world(Registry(redis), world, actor=ADMIN)
    a, b = pick_households(world)
    tokens = {"a": await add_user(redis, "alice", "resident", household=a),
              "b": await add_user(redis, "bob", "resident", household=b),
              "operator": await add_user(redis, "olive"),
              "admin": await add_user(redis, "ada", "admin")}
    settings = Settings.load({"port": "0"}, environ={"HOME": str(short_tmp)})
    app = create_app(settings.replace(world=path, data_dir=short_tmp / "home-data"),
                     RedisUrls(redis_url, redis_url))
    client = await aiohttp_client(app)
    return Block(client, world, path, redis, a, b, tokens)
