"""Fixtures of the registry tests: a small hand-made registry and an API client per role.

The registry (positions in metres east/north of a point in Jackson, MS):

=========  =========  ========  =========  ==========================================
camera     household  tier      position   notes
=========  =========  ========  =========  ==========================================
c1a        h1         request   (0, 0)     asked by a request around the origin
c1b        h1         live      (10, 0)
c2a        h2         request   (50, 0)    asked
c2b        h2         none      (60, 0)    invisible to the police
c3a        h3         registry  (400, 0)
city-1     (none)     live      (20, 20)   city camera
biz-1      (none)     request   (30, -10)  no household: an admin answers for it
far-1      h4         request   (2000, 0)  outside every test area
=========  =========  ========  =========  ==========================================
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aredis
from aiohttp.test_utils import TestClient

from rtcc import keys
from rtcc.app import create_app
from rtcc.config import Settings
from rtcc.redis_server import RedisUrls
from rtcc.registry.audit import Actor
from rtcc.registry.importer import CameraSeed, import_seeds
from rtcc.registry.store import CameraInfo, HouseholdInfo, Registry
from rtcc.registry.users import Users
from rtcc.world.geo import LocalProjection
from tests.conftest import TEST_PASSWORD_LOG2_N

ORIGIN = (-90.18, 32.30)
PROJ = LocalProjection(*ORIGIN)
ADMIN = Actor("root", "admin", "127.0.0.1")

CAMERAS = [
    ("c1a", "h1", "request", (0, 0)),
    ("c1b", "h1", "live", (10, 0)),
    ("c2a", "h2", "request", (50, 0)),
    ("c2b", "h2", "none", (60, 0)),
    ("c3a", "h3", "registry", (400, 0)),
    ("city-1", None, "live", (20, 20)),
    ("biz-1", None, "request", (30, -10)),
    ("far-1", "h4", "request", (2000, 0)),
]
HOUSEHOLDS = [HouseholdInfo("h1", 2, "request"), HouseholdInfo("h2", 3, "request"),
              HouseholdInfo("h3", 1, "registry"), HouseholdInfo("h4", 4, "request")]


def lonlat(x: float, y: float) -> tuple[float, float]:
    return PROJ.to_lonlat(x, y)


def seeds() -> list[CameraSeed]:
    out = []
    for cid, hh, tier, (x, y) in CAMERAS:
        lon, lat = lonlat(x, y)
        out.append(CameraSeed(CameraInfo(cid, hh, "doorbell" if hh else "city", lon, lat,
                                         90.0, 160.0, 30.0), tier))
    return out


MY_PREFIXES = tuple(p.encode() for p in (keys.REGISTRY_PREFIX, keys.REQUESTS_PREFIX,
                                        keys.USERS_PREFIX, keys.AUDIT_PREFIX,
                                        keys.EVIDENCE_PREFIX))


async def snapshot(redis: aredis.Redis) -> dict[bytes, bytes]:
    """Every registry key and its DUMP: equal snapshots mean nothing was written. (Keys of other
    components sharing the test server, such as the hub's, are left out.)"""
    out: dict[bytes, bytes] = {}
    for key in sorted(await redis.keys("rtcc:*")):
        name = key if isinstance(key, bytes) else key.encode()
        if name.startswith(MY_PREFIXES):
            out[name] = await redis.dump(key)  # type: ignore[assignment]
    return out


@pytest.fixture
def settings(tmp_path: Path, short_tmp: Path) -> Settings:
    return Settings.load({"data_dir": str(tmp_path / "data"),
                          "run_dir": str(short_tmp / "run-registry"),
                          "log_level": "warning",
                          "password_log2_n": str(TEST_PASSWORD_LOG2_N)}, environ={})


@pytest.fixture
async def registry(redis: aredis.Redis) -> Registry:
    reg = Registry(redis)
    await import_seeds(reg, HOUSEHOLDS, seeds(), actor=ADMIN, source="fixture")
    return reg


@dataclass
class Api:
    client: TestClient
    redis: aredis.Redis
    tokens: dict[str, str] = field(default_factory=dict)

    async def call(self, method: str, path: str, who: str | None = None, *,
                   json: Any = None, data: Any = None, headers: dict[str, str] | None = None
                   ) -> tuple[int, Any]:
        hdrs = dict(headers or {})
        if who is not None:
            hdrs["Authorization"] = f"Bearer {self.tokens[who]}"
        resp = await self.client.request(method, path, json=json, data=data, headers=hdrs)
        if resp.content_type == "application/json":
            return resp.status, await resp.json()
        return resp.status, await resp.read()


# Users of the API tests: name -> (role, household)
USERS = {"admin": ("admin", None), "operator": ("operator", None),
         "resident": ("resident", "h1"), "resident2": ("resident", "h2"),
         "auditor": ("auditor", None)}


@pytest.fixture
async def api(aiohttp_client: Any, redis: aredis.Redis, redis_url: str, registry: Registry,
              settings: Settings) -> AsyncIterator[Api]:
    users = Users(redis)
    tokens = {}
    for name, (role, household) in USERS.items():
        _, tokens[name] = await users.add(name, role, actor=ADMIN, household=household)
    app = create_app(settings, RedisUrls(redis_url, redis_url))
    client = await aiohttp_client(app)
    yield Api(client, redis, tokens)


# --- real H.264 in the hub's live channel --------------------------------------------------------


def encode_clip(count: int = 25, fps: float = 10.0) -> list[Any]:
    """``count`` access units of 160x120 from libx264 (PyAV), an IDR every second."""
    import numpy as np

    from rtcc.media.encoder import H264Encoder

    enc = H264Encoder(160, 120, fps, gop_seconds=1.0)
    yy, xx = np.mgrid[0:120, 0:160]
    aus = []
    for i in range(count):
        img = np.stack([(xx * 2 + i * 9) % 256, (yy * 3 + i * 5) % 256,
                        ((xx ^ yy) + i) % 256], axis=-1).astype(np.uint8)
        au = enc.encode(img)
        assert au is not None
        aus.append(au)
    return aus


@pytest.fixture(scope="session")
def clip_aus() -> list[Any]:
    return encode_clip()


async def write_channel(redis: aredis.Redis, camera: str, aus: list[Any], t0: float,
                        fps: float = 10.0, skip: int = 0) -> list[int]:
    """Write access units into ``camera``'s live channel in the hub's schema (docs/channels.md:
    ``au`` Annex-B, ``t`` capture µs, ``key`` "1" on keyframes), as if captured from unix time
    ``t0`` at ``fps``; returns the capture times (µs) written."""
    times = []
    async with redis.pipeline(transaction=False) as pipe:
        for i, au in enumerate(aus[skip:], start=skip):
            t = int((t0 + i / fps) * 1e6)
            times.append(t)
            pipe.xadd(keys.video(camera), {"au": au.annexb(), "seq": i, "t": t, "ta": t,
                                           "key": "1" if au.keyframe else "0", "meta": b""})
        await pipe.execute()
    return times
