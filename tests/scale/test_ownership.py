"""Camera leases and the ownership policy on a real Redis: exactly one owner per camera, balance,
takeover of a dead worker's cameras, hand-back without flapping, clean stop, stolen leases."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable

import pytest
import redis.asyncio as aredis

from rtcc import keys
from rtcc.errors import ConfigError
from rtcc.ingest.lease import Leases, members
from rtcc.ingest.metrics import ShardMetrics
from rtcc.ingest.ownership import Ownership, ShardingConfig, plan
from rtcc.ingest.sources import Source
from rtcc.metrics import new_registry

TTL, RENEW = 0.9, 0.3
CAMS = [f"cam-{i:03d}" for i in range(30)]
SOURCES = [Source(cam, url=f"rtsp://127.0.0.1:1/{cam}") for cam in CAMS]


class Worker:
    """One Ownership loop whose ``apply`` records what the hub would ingest."""

    def __init__(self, redis: aredis.Redis, wid: str, **config: float) -> None:
        cfg = ShardingConfig(worker_id=wid, lease_ttl=TTL, renew_interval=RENEW,
                             **{"min_hold": 0.5, "release_batch": 3, **config})  # type: ignore[arg-type]
        self.ingesting: set[str] = set()
        self.changes = 0
        self.metrics = ShardMetrics(new_registry())
        self.own = Ownership(Leases(redis, wid, TTL), cfg, self._apply, self.metrics)
        self.own.set_sources(SOURCES)
        self.task: asyncio.Task[None] | None = None

    async def _apply(self, sources: list[Source]) -> None:
        now = {s.id for s in sources}
        self.changes += len(now ^ self.ingesting)
        self.ingesting = now

    def start(self) -> Worker:
        self.task = asyncio.create_task(self.own.run())
        return self

    async def kill(self) -> None:
        """Stop the loop without releasing anything (a kill -9 as Redis sees it)."""
        assert self.task is not None
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task
        self.ingesting = set()

    async def stop(self) -> None:
        await self.kill()
        await self.own.close()


@pytest.fixture
async def workers(redis: aredis.Redis) -> AsyncIterator[Callable[[str], Worker]]:
    made: list[Worker] = []

    def make(wid: str, **config: float) -> Worker:
        w = Worker(redis, wid, **config)
        made.append(w)
        return w

    yield make
    for w in made:
        if w.task is not None and not w.task.done():
            await w.kill()


async def owners(redis: aredis.Redis) -> dict[str, str | None]:
    return await Leases(redis, "probe", TTL).owners(CAMS)


async def settle(redis: aredis.Redis, ws: list[Worker], limit: float = 10.0) -> float:
    """Wait until every camera is owned by a live worker, ingested by exactly that worker, and
    counts are within one; returns the seconds it took."""
    start = time.monotonic()
    while time.monotonic() - start < limit:
        own = await owners(redis)
        counts = [len(w.ingesting) for w in ws]
        ingest_ok = all(own[c] is not None and
                        [w.own.worker_id for w in ws if c in w.ingesting] == [own[c]]
                        for c in CAMS)
        if ingest_ok and max(counts) - min(counts) <= 1:
            return time.monotonic() - start
        await asyncio.sleep(0.05)
    raise AssertionError(f"not settled: counts {[len(w.ingesting) for w in ws]}, "
                         f"owners {await owners(redis)}")


def test_plan_takes_unowned_only_and_releases_gradually() -> None:
    cfg = ShardingConfig(worker_id="a", lease_ttl=6, renew_interval=2, min_hold=10,
                         release_batch=4)
    cams = [f"c{i}" for i in range(12)]
    # Alone with half the cameras owned by "b" (not a live member: a dead worker's leases).
    owned_by_b = {c: "b" for c in cams[:6]}
    p = plan(cams, owned_by_b, "a", ["a"], {}, 100.0, cfg)
    assert sorted(p.acquire) == sorted(cams[6:]) and p.release == [] and p.target == 12
    # Three workers, "a" holds all 12 since t=0: target 4, releases 4 per round, once held 10 s.
    all_a = dict.fromkeys(cams, "a")
    held = dict.fromkeys(cams, 0.0)
    assert plan(cams, all_a, "a", ["a", "b", "c"], held, 5.0, cfg).release == []
    p = plan(cams, all_a, "a", ["a", "b", "c"], held, 10.0, cfg)
    assert len(p.release) == 4 and p.acquire == []
    # Within one: 5 cameras, 3 workers (hi 2, lo 1); "a" at 2 gives one up while "c" has 0.
    five = cams[:5]
    p = plan(five, {"c0": "a", "c1": "a", "c2": "b", "c3": "b", "c4": None}, "a",
             ["a", "b", "c"], dict.fromkeys(five, 0.0), 50.0, cfg)
    assert len(p.release) == 1 and p.acquire == []
    p = plan(five, {"c0": "a", "c1": "a", "c2": "b", "c3": "c", "c4": None}, "a",
             ["a", "b", "c"], dict.fromkeys(five, 0.0), 50.0, cfg)
    assert p.release == [] and p.acquire == []


def test_config_refuses_a_renew_interval_too_close_to_the_ttl() -> None:
    with pytest.raises(ConfigError, match="third"):
        ShardingConfig(worker_id="a", lease_ttl=3, renew_interval=2)


async def test_lease_primitives_are_compare_and_set(redis: aredis.Redis) -> None:
    a, b = Leases(redis, "a", 5), Leases(redis, "b", 5)
    assert await a.acquire(["x", "y"]) == ["x", "y"]
    assert await b.acquire(["x", "z"]) == ["z"]
    assert await b.renew(["x", "z"]) == (["z"], ["x"])
    assert await b.release(["x"]) == []
    assert await a.owners(["x", "y", "z", "w"]) == {"x": "a", "y": "a", "z": "b", "w": None}
    assert 4000 < await redis.pttl(keys.camera_owner("x")) <= 5000
    assert keys.camera_owner("x") == "rtcc:{x}:owner"
    assert await a.release(["x"]) == ["x"]
    assert await b.acquire(["x"]) == ["x"]
    assert sorted(await a.heartbeat({"cameras": 1})) == ["a"]
    assert sorted(await b.heartbeat({"cameras": 2})) == ["a", "b"]
    found = {m.id: m.as_dict(time.time()) for m in await members(redis)}
    assert found["b"]["cameras"] == 2 and found["a"]["expires_in"] > 4  # type: ignore[operator]
    await a.leave()
    assert [m.id for m in await members(redis)] == ["b"]


async def test_one_worker_owns_everything(redis: aredis.Redis,
                                          workers: Callable[[str], Worker]) -> None:
    w = workers("solo").start()
    await settle(redis, [w])
    assert w.ingesting == set(CAMS)


async def test_three_workers_share_take_over_and_hand_back(
        redis: aredis.Redis, workers: Callable[[str], Worker]) -> None:
    a, b, c = (workers(x).start() for x in ("a", "b", "c"))
    await settle(redis, [a, b, c])
    assert sorted(len(w.ingesting) for w in (a, b, c)) == [10, 10, 10]

    # c dies without a word: its cameras move within two lease periods, only its cameras move.
    lost = set(c.ingesting)
    moved_before = a.changes + b.changes
    await c.kill()
    took = await settle(redis, [a, b])
    assert took < 2 * TTL + 2 * RENEW, took
    assert len(a.ingesting) == len(b.ingesting) == 15
    assert a.changes + b.changes - moved_before == len(lost)
    assert a.metrics.takeovers._value.get() + b.metrics.takeovers._value.get() == len(lost)

    # c comes back under the same name: it gets its share, with few ownership changes.
    changes = a.changes + b.changes
    c2 = workers("c").start()
    await settle(redis, [a, b, c2], limit=15)
    assert sorted(len(w.ingesting) for w in (a, b, c2)) == [10, 10, 10]
    # 10 cameras leave a and b, 10 join c: 20 changes; allow a couple of extra moves.
    assert a.changes + b.changes - changes + c2.changes <= 24

    # A clean stop hands over at the others' next round, long before the TTL.
    t0 = time.monotonic()
    await c2.stop()
    took = await settle(redis, [a, b])
    assert took < TTL, took
    assert time.monotonic() - t0 < TTL + 0.5
    assert [m.id for m in await members(redis)] == ["a", "b"]


async def test_stolen_lease_stops_the_camera_at_the_next_round(
        redis: aredis.Redis, workers: Callable[[str], Worker]) -> None:
    a = workers("a").start()
    await settle(redis, [a])
    await redis.set(keys.camera_owner(CAMS[0]), "intruder", px=60_000)
    deadline = time.monotonic() + 2 * RENEW + 0.2
    while CAMS[0] in a.ingesting:
        assert time.monotonic() < deadline, "still ingesting a camera it lost"
        await asyncio.sleep(0.02)
    assert a.metrics.lost._value.get() == 1
    assert (await owners(redis))[CAMS[0]] == "intruder"


async def test_redis_outage_stops_cameras_before_their_leases_can_expire(
        redis: aredis.Redis, workers: Callable[[str], Worker], tmp_path: object) -> None:
    a = workers("a").start()
    await settle(redis, [a])
    dead = aredis.Redis(unix_socket_path="/tmp/rtcc-no-such-redis.sock",
                        socket_connect_timeout=0.1)
    a.own.leases.redis = dead
    t0 = time.monotonic()
    while a.ingesting:
        assert time.monotonic() - t0 < TTL + 0.2, "ingesting past the lease's expiry"
        await asyncio.sleep(0.02)
    assert a.metrics.errors._value.get() >= 1
    # Redis back: the worker takes its cameras back (renewing what is still in its name,
    # acquiring what expired).
    a.own.leases.redis = redis
    await settle(redis, [a])
    assert a.ingesting == set(CAMS)
    await dead.aclose()


async def test_a_worker_restarted_under_its_id_takes_its_leases_back_at_once(
        redis: aredis.Redis, workers: Callable[[str], Worker]) -> None:
    a = workers("a").start()
    await settle(redis, [a])
    await a.kill()
    t0 = time.monotonic()
    again = workers("a").start()
    await settle(redis, [again])
    # Renewed in its name at the first round, not re-acquired after the leases expired.
    assert time.monotonic() - t0 < TTL
    assert again.metrics.acquired._value.get() == 0
    assert again.ingesting == set(CAMS)
