"""Roles of ``rtcc serve`` as separate processes: a hub, two wall servers and two analyzers on one
private Redis. A viewer that reconnects to the other wall server resumes the live stream (the
wall keeps no state but its in-process fan-out); the two analyzers split the frame metadata
between them and count every delivered frame exactly once."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import redis as sync_redis

from rtcc import keys
from rtcc.wall.protocol import unpack_frame
from tests.scale.cluster_procs import (
    Proc,
    get_json,
    metric,
    rtcc_env,
    seed_world,
    start_serve,
    start_sim,
    user_token,
    wait,
    write_sources,
)


@pytest.fixture
def procs() -> Iterator[list[Proc]]:
    running: list[Proc] = []
    yield running
    for proc in running:
        proc.stop(signal.SIGKILL)


async def _watch(base: str, token: str, cam: str, frames: int) -> list[tuple[int, bool]]:
    """Subscribe to ``cam`` on one wall server; (seq, keyframe) of the first ``frames``."""
    got: list[tuple[int, bool]] = []
    async with aiohttp.ClientSession() as http, http.ws_connect(f"{base}/wall/ws") as ws:
        await ws.send_json({"op": "auth", "token": token})
        await ws.send_json({"op": "sub", "cam": cam})
        deadline = time.monotonic() + 20
        while len(got) < frames:
            msg = await ws.receive(timeout=max(0.1, deadline - time.monotonic()))
            if msg.type == aiohttp.WSMsgType.BINARY:
                header = unpack_frame(msg.data)[0]
                got.append((header.seq, header.key))
            elif msg.type == aiohttp.WSMsgType.TEXT:
                doc = json.loads(msg.data)
                assert doc["op"] != "error", doc
            else:
                raise AssertionError(f"socket ended: {msg.type}")
    return got


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_wall_failover_and_analyzers_split_the_metadata(
        redis_url: str, tmp_path: Path, procs: list[Proc]) -> None:
    client: Any = sync_redis.Redis.from_url(redis_url)
    client.flushall()
    env = rtcc_env(redis_url, tmp_path, RTCC_HUB_LEASE_TTL="3", RTCC_HUB_LEASE_RENEW="1")
    world = seed_world(env, tmp_path, 12)
    token = user_token(env, tmp_path, "olive")
    ops = user_token(env, tmp_path, "ada", "admin")  # hub workers are not for the police
    sim, urls = start_sim(env, tmp_path, world, 12)
    procs.append(sim)
    analyzers = {}
    for wid in ("an-1", "an-2"):
        proc, analyzers[wid] = start_serve(env, tmp_path, "analyzer", wid)
        procs.append(proc)
    walls = []
    for wid in ("wall-1", "wall-2"):
        proc, base = start_serve(env, tmp_path, "wall", wid)
        procs.append(proc)
        walls.append(base)
    hub, hub_base = start_serve(env, tmp_path, "hub", "hub-1", "--sources",
                                str(write_sources(tmp_path, urls)))
    procs.append(hub)
    cam = sorted(urls)[0]
    wait(lambda: client.hget(keys.camera_state(cam), "state") == b"live", 30, "camera live")

    # Roles serve only their part.
    assert get_json(f"{hub_base}/api/hub/workers", ops)["workers"][0]["id"] == "hub-1"
    assert metric(hub_base, "rtcc_hub_cameras_owned") == len(urls)

    # A viewer on wall-1, then (its server gone from its point of view) on wall-2: each starts
    # at a keyframe and the second picks up the live stream after the first left off.
    first = asyncio.run(_watch(walls[0], token, cam, 8))
    second = asyncio.run(_watch(walls[1], token, cam, 8))
    assert first[0][1] and second[0][1], "a (re)subscription starts at a keyframe"
    assert second[0][0] > first[-1][0] - 30, (first, second)  # live, not replayed from afar
    assert [s for s, _k in second] == sorted({s for s, _k in second})  # in order, no repeats

    # Let frames flow, then stop ingest and let both analyzers drain the stream.
    time.sleep(4)
    assert hub.stop(signal.SIGTERM) == 0

    def drained() -> bool:
        groups = client.xinfo_groups(keys.FRAME_META)
        group = next(g for g in groups if g["name"] == keys.FRAME_META_GROUP.encode())
        return group["pending"] == 0 and group["lag"] == 0

    wait(drained, 30, "analyzers drained the metadata")
    added = client.xinfo_stream(keys.FRAME_META)["entries-added"]
    totals = client.hgetall(keys.EXPOSURE_TOTALS)
    counted = {wid: metric(base, "rtcc_exposure_frames_total")
               for wid, base in analyzers.items()}
    consumers = {c["name"].decode() for c in
                 client.xinfo_consumers(keys.FRAME_META, keys.FRAME_META_GROUP)}
    assert consumers == {"an-1", "an-2"}
    assert int(totals[b"frames"]) == added  # every delivered frame counted once
    assert sum(counted.values()) == added  # ... and split between the two analyzers
    assert all(n > 0 for n in counted.values()), counted
    client.close()
