"""Durability for real: acknowledged consent changes survive ``kill -9`` of the state Redis.

The state server runs with AOF and ``appendfsync always`` (rtcc.redis_server.STATE), so Redis
acknowledges a change only after it is on disk. These tests write through the HTTP API, SIGKILL
the server (no chance to flush anything), start a new one on the same data directory and check
every acknowledged change, the history and the audit chain, also with ``rtcc audit verify`` as a
real subprocess.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aredis

from rtcc.app import create_app
from rtcc.config import Settings
from rtcc.redis_server import STATE, EmbeddedRedis, RedisUrls
from rtcc.registry.audit_verify import verify
from rtcc.registry.importer import import_seeds
from rtcc.registry.store import Registry
from rtcc.registry.users import Users

from .conftest import ADMIN, HOUSEHOLDS, seeds

TIERS = ("live", "registry", "request", "none")
CAMS = ("c1a", "c1b")


@pytest.fixture
def state_server(short_tmp: Path) -> Iterator[EmbeddedRedis]:
    base = short_tmp / f"dur-{uuid.uuid4().hex[:6]}"
    server = EmbeddedRedis(STATE, base / "data", base / "run")
    server.start()
    yield server
    server.stop()


@pytest.fixture
async def token(state_server: EmbeddedRedis) -> AsyncIterator[str]:
    client = aredis.Redis.from_url(state_server.url)
    await import_seeds(Registry(client), HOUSEHOLDS, seeds(), actor=ADMIN)
    _, tok = await Users(client).add("alice", "resident", actor=ADMIN, household="h1")
    await client.aclose()
    yield tok


def restart(server: EmbeddedRedis) -> EmbeddedRedis:
    again = EmbeddedRedis(STATE, server.data_dir.parent, server.run_dir)
    again.start()
    assert not again.reused
    return again


async def check_after_restart(url: str, acked: list[tuple[str, str, int]],
                              in_flight: int = 0) -> None:
    client = aredis.Redis.from_url(url)
    try:
        reg = Registry(client)
        for cam in CAMS:
            mine = [a for a in acked if a[0] == cam]
            if mine:
                rec = (await reg.get(cam)).consent
                last_tier, last_version = mine[-1][1], mine[-1][2]
                # The newest acknowledged change is there (or, at most, the one in flight).
                assert rec.version >= last_version
                if rec.version == last_version:
                    assert rec.tier == last_tier
        history = [h for h in await reg.history() if h.kind in ("set", "revoke")]
        versions = [h.version for h in history]
        assert set(versions) >= {v for _, _, v in acked}
        assert len(history) - len(acked) <= in_flight
        assert (await verify(client)).ok
    finally:
        await client.aclose()


async def test_acknowledged_changes_survive_kill_9(aiohttp_client: Any, settings: Settings,
                                                   state_server: EmbeddedRedis,
                                                   token: str) -> None:
    url = state_server.url
    client = await aiohttp_client(create_app(settings, RedisUrls(url, url)))
    headers = {"Authorization": f"Bearer {token}"}
    acked: list[tuple[str, str, int]] = []
    for i in range(40):
        cam, tier = CAMS[i % 2], TIERS[(i // 2) % 4]
        resp = await client.put(f"/api/cameras/{cam}/consent", json={"tier": tier},
                                headers=headers)
        assert resp.status == 200, await resp.text()
        acked.append((cam, tier, (await resp.json())["version"]))
    state_server.kill()  # SIGKILL: nothing is flushed on the way out
    again = restart(state_server)
    try:
        await check_after_restart(again.url, acked)
        proc = await asyncio.to_thread(
            subprocess.run, [sys.executable, "-m", "rtcc", "audit", "verify",
                             "--redis-url", again.url],
            capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr
        assert "audit log intact" in proc.stdout
    finally:
        again.stop()


async def test_kill_9_during_a_stream_of_changes(aiohttp_client: Any, settings: Settings,
                                                 state_server: EmbeddedRedis,
                                                 token: str) -> None:
    url = state_server.url
    client = await aiohttp_client(create_app(settings, RedisUrls(url, url)))
    headers = {"Authorization": f"Bearer {token}"}
    acked: list[tuple[str, str, int]] = []
    stop = asyncio.Event()

    async def writer() -> None:
        for i in range(10_000):
            cam, tier = CAMS[i % 2], TIERS[(i // 2) % 4]
            try:
                resp = await client.put(f"/api/cameras/{cam}/consent", json={"tier": tier},
                                        headers=headers)
            except Exception:
                return
            if resp.status != 200:
                return  # the server is gone: 503 from the API
            acked.append((cam, tier, (await resp.json())["version"]))
            if len(acked) == 25:
                stop.set()

    task = asyncio.create_task(writer())
    await asyncio.wait_for(stop.wait(), 30)
    state_server.kill()  # while the writer is mid-request
    await asyncio.wait_for(task, 30)
    again = restart(state_server)
    try:
        await check_after_restart(again.url, acked, in_flight=1)
    finally:
        again.stop()
