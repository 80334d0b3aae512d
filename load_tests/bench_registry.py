"""Benchmark of the consent registry: cached "is camera X live now?" lookups, and the latency from
a revocation through the HTTP API to a subscriber of the consent cache.

    python -m load_tests.bench_registry [--cameras 2000] [--changes 1000] [--runs 5]

Setup: a private state redis-server (AOF, ``appendfsync always``, as in production) in a temporary
directory, a registry of ``--cameras`` cameras (a third live, some with night schedules, some with
expiries), and the whole ``rtcc serve`` application (``rtcc.app.create_app``) on 127.0.0.1 with
an ephemeral port.

* Lookups: ``ConsentCache.is_live(camera)`` over a shuffled list of camera ids (unknown ids
  included), one process, one thread; median over ``--runs``. Baseline: the same question answered
  without the cache (``HGETALL`` of the camera + :func:`rtcc.registry.consent.is_live` per call).
* Revocation latency: a resident opts a camera in (not timed), then revokes it with
  ``DELETE /api/cameras/{id}/consent``; the time from just before the request is sent to the moment
  a ``ConsentCache.subscribe`` callback sees the camera at tier ``none``. HTTP client, server and
  subscriber share one event loop (as the hub and wall do in ``rtcc serve``), so this is a
  conservative figure. p50/p99 per run, median over runs.

Results go to docs/benchmarks.md, section "Registry".
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import random
import statistics
import tempfile
import time
from pathlib import Path

import aiohttp
import redis.asyncio as aredis
from aiohttp import web

from rtcc import keys
from rtcc.app import create_app
from rtcc.config import Settings
from rtcc.redis_server import LIVE, STATE, EmbeddedRedis, RedisUrls
from rtcc.registry import consent
from rtcc.registry.audit import Actor
from rtcc.registry.cache import ConsentCache
from rtcc.registry.consent import ConsentRecord
from rtcc.registry.importer import CameraSeed, import_seeds
from rtcc.registry.store import CameraInfo, HouseholdInfo, Registry
from rtcc.registry.txn import text_map
from rtcc.registry.users import Users
from rtcc.vocabulary import TIERS

ADMIN = Actor("bench", "admin", "127.0.0.1")
TARGET_LOOKUPS = 200_000
TARGET_P99_MS = 100.0


def build_registry(n: int, seed: int = 7) -> tuple[list[HouseholdInfo], list[CameraSeed]]:
    rng = random.Random(seed)
    households = [HouseholdInfo(f"h-{i:05d}", rng.randint(1, 5), "none")
                  for i in range(n // 2)]
    cams = []
    for i in range(n):
        tier = rng.choices(TIERS, [30, 20, 17, 33])[0]
        cams.append(CameraSeed(CameraInfo(f"cam-{i:05d}", households[i // 2].id, "doorbell",
                                          -90.18 + i * 1e-5, 32.30), tier))
    return households, cams


async def add_schedules_and_expiries(reg: Registry, cams: list[CameraSeed]) -> None:
    live = [c.info for c in cams if c.seed == "live"]
    for k, info in enumerate(live[: len(live) // 5]):
        who = Actor(f"r{k}", "resident", "127.0.0.1", info.household)
        if k % 2:
            await reg.set_consent(info.id, "live", actor=who, schedule="20:00-06:00")
        else:
            await reg.set_consent(info.id, "live", actor=who, expires="30d")


def bench_lookups(cache: ConsentCache, ids: list[str], loops: int) -> float:
    is_live = cache.is_live
    start = time.perf_counter()
    for _ in range(loops):
        for cid in ids:
            is_live(cid)
    return loops * len(ids) / (time.perf_counter() - start)


async def bench_uncached(redis: aredis.Redis, ids: list[str]) -> float:
    start = time.perf_counter()
    for cid in ids:
        raw = text_map(await redis.hgetall(keys.camera(cid)))  # type: ignore[misc]
        if raw:
            consent.is_live(ConsentRecord.from_fields(raw), time.time())
    return len(ids) / (time.perf_counter() - start)


async def bench_revocations(session: aiohttp.ClientSession, base: str, token: str,
                            cache: ConsentCache, camera: str, changes: int) -> list[float]:
    headers = {"Authorization": f"Bearer {token}"}
    waiting: dict[str, tuple[asyncio.Event, list[float]]] = {}

    def seen(cam: str, record: ConsentRecord | None) -> None:
        want = record.tier if record is not None else "none"
        if cam == camera and want in waiting:
            event, stamp = waiting.pop(want)
            stamp.append(time.perf_counter())
            event.set()

    unsubscribe = cache.subscribe(seen)
    latencies = []
    try:
        for _ in range(changes):
            for tier, method in (("live", "PUT"), ("none", "DELETE")):
                event, stamp = asyncio.Event(), list[float]()
                waiting[tier] = (event, stamp)
                t0 = time.perf_counter()
                async with session.request(
                        method, f"{base}/api/cameras/{camera}/consent", headers=headers,
                        json={"tier": "live"} if method == "PUT" else None) as resp:
                    if resp.status != 200:
                        raise SystemExit(f"API answered {resp.status}: {await resp.text()}")
                await asyncio.wait_for(event.wait(), 10)
                if tier == "none":
                    latencies.append((stamp[0] - t0) * 1000)
    finally:
        unsubscribe()
    return latencies


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


async def main(args: argparse.Namespace) -> dict[str, object]:
    tmp = Path(tempfile.mkdtemp(prefix="rtcc-bench-", dir="/tmp"))
    server = EmbeddedRedis(LIVE if args.memory else STATE, tmp / "data", tmp / "run")
    server.start()
    runner = None
    try:
        redis = aredis.Redis.from_url(server.url)
        reg = Registry(redis)
        households, cams = build_registry(args.cameras)
        await import_seeds(reg, households, cams, actor=ADMIN, source="bench")
        await add_schedules_and_expiries(reg, cams)
        target = next(c.info for c in cams if c.seed == "none")
        _, token = await Users(redis).add("resident", "resident", actor=ADMIN,
                                          household=target.household)

        settings = Settings.load({"data_dir": str(tmp / "data"), "run_dir": str(tmp / "run"),
                                  "log_level": "warning"}, environ={})
        app = create_app(settings, RedisUrls(server.url, server.url))
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        base = f"http://127.0.0.1:{port}"

        ids = [c.info.id for c in cams] + [f"unknown-{i}" for i in range(args.cameras // 10)]
        random.Random(1).shuffle(ids)
        lookups, uncached, p50s, p99s, maxes = [], [], [], [], []
        async with ConsentCache(server.url) as cache, aiohttp.ClientSession() as session:
            for run in range(args.runs):
                lookups.append(bench_lookups(cache, ids, args.loops))
                uncached.append(await bench_uncached(redis, ids[:2000]))
                lat = await bench_revocations(session, base, token, cache, target.id,
                                              args.changes)
                p50s.append(pct(lat, 50))
                p99s.append(pct(lat, 99))
                maxes.append(max(lat))
                print(f"run {run + 1}: {lookups[-1]:,.0f} cached lookups/s, "
                      f"{uncached[-1]:,.0f} uncached/s; revocation p50 {p50s[-1]:.2f} ms, "
                      f"p99 {p99s[-1]:.2f} ms, max {maxes[-1]:.2f} ms over {len(lat)}",
                      flush=True)
        await redis.aclose()
    finally:
        if runner is not None:
            await runner.cleanup()
        server.stop()
    med = statistics.median
    result = {
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "python": platform.python_version(),
        "redis": "memory only" if args.memory else "AOF, appendfsync always",
        "cameras": args.cameras, "changes_per_run": args.changes, "runs": args.runs,
        "cached_lookups_per_s": round(med(lookups)),
        "uncached_lookups_per_s": round(med(uncached)),
        "speedup_vs_uncached": round(med(lookups) / med(uncached), 1),
        "lookups_vs_target": round(med(lookups) / TARGET_LOOKUPS, 1),
        "revocation_p50_ms": round(med(p50s), 3),
        "revocation_p99_ms": round(med(p99s), 3),
        "revocation_max_ms": round(max(maxes), 3),
        "p99_vs_target": round(med(p99s) / TARGET_P99_MS, 3),
    }
    return result


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cameras", type=int, default=2000)
    parser.add_argument("--changes", type=int, default=1000,
                        help="revocations per run (each after an untimed opt-in)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--loops", type=int, default=200,
                        help="passes over all camera ids per lookup run")
    parser.add_argument("--memory", action="store_true",
                        help="memory-only Redis (no AOF): to see what fsync costs")
    args = parser.parse_args()
    if not (1 <= args.cameras <= 100_000 and 1 <= args.changes <= 100_000
            and 1 <= args.runs <= 50 and 1 <= args.loops <= 10_000):
        parser.error("keep --cameras, --changes, --runs and --loops within sane bounds")
    result = asyncio.run(main(args))
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    cli()
