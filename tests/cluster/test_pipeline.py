"""The whole pipeline on one Redis and on a 3-master Redis Cluster, as real processes: replay
simulators -> `rtcc serve` (registry API, hub, wall, analyzer) -> Redis. Frames land in every
live camera's stream and nowhere else; a revocation still gates; the wall's fan-out reads; the
analyzer counts each frame once. On the cluster, kill -9 a master that has a replica: the replica
is promoted, the pipeline recovers, and the loss is counted and bounded."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from rtcc import keys
from rtcc.connections import connect, sync_client_from_url
from rtcc.registry.cache import ConsentCache
from rtcc.wall.fanout import FeedHub
from rtcc.wall.frames import ViewerQueue
from tests.cluster.redis_cluster import LocalCluster
from tests.cluster.stack import Proc, env_for, run, scrape, start_serve, start_world, total, wait


@pytest.fixture
def procs() -> Any:
    running: list[Proc] = []
    yield running
    for proc in running:
        proc.stop(signal.SIGKILL)


def _flush(client: Any) -> None:
    if hasattr(client, "get_primaries"):
        client.flushall(target_nodes="primaries")
    else:
        client.flushall()


def _tiers(client: Any, cams: list[str]) -> tuple[list[str], list[str]]:
    tiers = {cam: client.hget(keys.camera(cam), "tier").decode() for cam in cams}
    return (sorted(c for c, t in tiers.items() if t == "live"),
            sorted(c for c, t in tiers.items() if t != "live"))


def _state(client: Any, cam: str) -> str:
    raw = client.hget(keys.camera_state(cam), "state")
    return raw.decode() if raw else ""


class _Consent:
    def __init__(self, cache: ConsentCache) -> None:
        self.cache = cache

    def is_live(self, camera_id: str) -> bool:
        return self.cache.is_live(camera_id)

    def household_live(self, household_id: str) -> bool:
        return False


async def _wall_reads(url: str, cams: list[str]) -> dict[str, int]:
    """An in-process wall fan-out on the same Redis: frames delivered per camera in 2 s."""
    client = await connect(url, timeout=10, migrate=False)
    cache = ConsentCache(client, poll_interval=0.5)
    await cache.start()
    hub = FeedHub(client, _Consent(cache), block_ms=100)
    await hub.start()
    queue = ViewerQueue()
    got: dict[str, int] = dict.fromkeys(cams, 0)
    try:
        for cam in cams:
            await hub.subscribe(cam, queue, lambda *a: None)
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            try:
                item = await asyncio.wait_for(queue.get(), 0.5)
            except TimeoutError:
                continue
            name = getattr(item, "cam", None)
            if name in got:
                got[name] += 1
    finally:
        await hub.close()
        await cache.close()
        await client.aclose()
    return got


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_pipeline_on_single_redis_and_cluster(live_url: str, tmp_path: Path,
                                              procs: list[Proc]) -> None:
    client: Any = sync_client_from_url(live_url)
    _flush(client)
    env = env_for(live_url, tmp_path)
    sim, urls = start_world(env, tmp_path)
    procs.append(sim)
    live, gated = _tiers(client, list(urls))
    assert len(live) >= 3 and gated
    serve, port = start_serve(env, tmp_path)
    procs.append(serve)

    wait(lambda: all(client.xlen(keys.video(c)) >= 5 for c in live), 60, "frames of every live "
         f"camera; serve stderr: {serve.stderr()}")
    wait(lambda: all(_state(client, c) == "live" for c in live), 20, "every live camera live")
    assert all(client.xlen(keys.video(c)) == 0 for c in gated)
    assert all(_state(client, c) == "gated" for c in gated)
    assert {m.decode() for m in client.smembers(keys.LIVE_CAMERAS)} == set(live)

    # The wall's fan-out reads every followed camera (per slot on the cluster).
    got = asyncio.run(_wall_reads(live_url, live[:4]))
    assert all(n >= 5 for n in got.values()), got

    # Revocation still gates: the channel is cleared and stays empty.
    victim = live[0]
    run(["registry", "revoke", victim, "--reason", "test"], env, tmp_path)
    wait(lambda: _state(client, victim) == "gated", 15, f"{victim} gated after revoke")
    time.sleep(1.0)
    assert client.xlen(keys.video(victim)) == 0
    assert victim not in {m.decode() for m in client.smembers(keys.LIVE_CAMERAS)}

    # The analyzer counts each delivered frame exactly once.
    sim.stop(signal.SIGINT)
    time.sleep(1.0)

    def caught_up() -> bool:
        groups = client.xinfo_groups(keys.FRAME_META)
        g = next(g for g in groups if g["name"] == keys.FRAME_META_GROUP.encode())
        return g["pending"] == 0 and g.get("lag") == 0

    wait(caught_up, 30, "the analyzer to catch up")
    added = int(client.xinfo_stream(keys.FRAME_META)["entries-added"])
    counted = int(client.hget(keys.EXPOSURE_TOTALS, "frames") or 0)
    assert added > 50 and counted == added, (counted, added)
    metrics = scrape(port)
    assert total(metrics, "rtcc_hub_frames_dropped_total", reason="redis_error") == 0
    assert serve.stop(signal.SIGINT) == 0


def _seq_gaps(client: Any, cams: list[str], since_ms: int) -> dict[str, int]:
    """Frames missing in each camera's metadata sequence since ``since_ms`` (stream time)."""
    seqs: dict[str, list[int]] = {c: [] for c in cams}
    for _id, fields in client.xrange(keys.FRAME_META, min=f"{since_ms}-0", max="+"):
        cam = fields[b"cam"].decode()
        if cam in seqs:
            seqs[cam].append(int(fields[b"seq"]))
    gaps = {}
    for cam, seq in seqs.items():
        seq.sort()
        gaps[cam] = sum(max(0, b - a - 1) for a, b in zip(seq, seq[1:], strict=False))
    return gaps


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_cluster_master_failover_is_survived_and_counted(fresh_cluster: LocalCluster,
                                                         tmp_path: Path,
                                                         procs: list[Proc]) -> None:
    url = fresh_cluster.url
    client: Any = sync_client_from_url(url)
    env = env_for(url, tmp_path)
    sim, urls = start_world(env, tmp_path)
    procs.append(sim)
    live, _gated = _tiers(client, list(urls))
    serve, port = start_serve(env, tmp_path)
    procs.append(serve)
    wait(lambda: all(client.xlen(keys.video(c)) >= 5 for c in live), 60, "frames of every live "
         f"camera; serve stderr: {serve.stderr()}")
    time.sleep(2.0)
    before = scrape(port)

    # Kill the master holding the first live camera's channel (it has one replica).
    victim = fresh_cluster.master_of(keys.video(live[0]))
    masters_before = fresh_cluster.masters()
    assert victim in masters_before and len(masters_before) == 3
    t_kill = time.time()
    fresh_cluster.kill(victim)
    fresh_cluster.wait_failover(victim, 30)
    promoted = time.time() - t_kill
    masters_after = fresh_cluster.masters()
    assert victim not in masters_after and len(masters_after) == 3  # the replica took over
    client.close()
    client = sync_client_from_url(url.replace(f"127.0.0.1:{victim},", ""))

    # Every live camera gets new frames again.
    kill_ms = int(t_kill * 1000)

    def fresh_frames() -> bool:
        for cam in live:
            newest = client.xrevrange(keys.video(cam), count=1)
            if not newest or int(newest[0][0].split(b"-")[0]) < kill_ms + 500:
                return False
        return True

    wait(fresh_frames, 60, f"frames after the failover; serve stderr: {serve.stderr()}")
    recovered = time.time() - t_kill
    time.sleep(2.0)
    after = scrape(port)
    dropped = total(after, "rtcc_hub_frames_dropped_total") - \
        total(before, "rtcc_hub_frames_dropped_total")
    redis_errors = total(after, "rtcc_hub_frames_dropped_total", reason="redis_error") - \
        total(before, "rtcc_hub_frames_dropped_total", reason="redis_error")
    gaps = _seq_gaps(client, live, kill_ms - 3000)
    reasons = {r: total(after, "rtcc_hub_frames_dropped_total", reason=r) -
               total(before, "rtcc_hub_frames_dropped_total", reason=r)
               for r in ("redis_error", "consent", "backpressure", "awaiting_keyframe")}
    print(f"failover: promoted after {promoted:.1f}s, pipeline back after {recovered:.1f}s, "
          f"{len(live)} live cameras, hub drops {dropped:.0f} {reasons}, "
          f"sequence gaps {sum(gaps.values())} {gaps}")
    assert redis_errors > 0, "the outage must be counted"
    # Bounded: failed writes at most what the cameras produced until recovery; all drops
    # (also cameras gated while the registry's shard failed over, and frames up to each
    # camera's next keyframe afterwards) at most what they produced until a few s later.
    fps = 10
    assert redis_errors <= len(live) * fps * (recovered + 1)
    assert dropped <= len(live) * fps * (recovered + 6)
    assert sum(gaps.values()) <= len(live) * fps * (recovered + 6)
    assert recovered < 45
    # The analyzer and the registry work on the new topology too.
    assert int(client.hget(keys.EXPOSURE_TOTALS, "frames") or 0) > 0
    assert serve.stop(signal.SIGINT) == 0
