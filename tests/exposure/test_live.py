"""The live analyzer against a real redis-server: hand-worked person-time, exactly-once resume,
Prometheus metrics, the wall's tile counters and lag while frames keep arriving."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest
import redis.asyncio as aredis
from prometheus_client import CollectorRegistry

from rtcc import keys
from rtcc.exposure.live import LiveAnalyzer, read_aggregates
from rtcc.exposure.live_metrics import LiveMetrics
from tests.exposure.meta import xadd_meta

LIVE_HOUSEHOLDS = {"H1"}


def consenting(hid: str) -> bool:
    return hid in LIVE_HOUSEHOLDS


def subject(sid: str, role: str, household: str | None, band: str | None,
            masked: bool = False) -> dict[str, Any]:
    return {"id": sid, "household": household, "role": role, "d": 3.0, "band": band,
            "bbox": [1, 2, 3, 4], "masked": masked}


# (camera, capture time in µs, subjects) in delivery order; see EXPECTED for the arithmetic.
FRAMES: list[tuple[str, int, list[dict[str, Any]] | str]] = [
    ("c1", 1_000_000, [subject("r1", "resident", "H1", "identify"),
                       subject("v1", "visitor", "H1", "observe"),
                       subject("p1", "passer_by", None, "detect")]),
    ("c2", 1_050_000, [subject("v3", "visitor", "H3", "monitor")]),
    ("c1", 1_100_000, [subject("r2", "resident", "H2", "recognise"),
                       subject("d1", "dog_walker", "H1", "detect"),
                       subject("p2", "passer_by", None, "detect", masked=True)]),
    ("c2", 1_060_000, "not json"),
    ("c1", 1_200_000, [subject("x1", "delivery", "H2", None)]),
    ("c1", 3_000_000, [subject("r2", "resident", "H2", "recognise")]),
    ("c1", 3_100_000, []),
]
# Every frame counts 0.1 s: c1's first frame and the one after the 1.8 s gap take the nominal
# interval (0.1 s), the others the 0.1 s since their camera's previous frame.
EXPECTED_STREAMS = {
    "c1|resident|identify|c": 100_000,     # H1 opted in: its resident consents
    "c1|visitor|observe|n": 100_000,       # a visitor never agreed, whoever they visit
    "c1|passer_by|detect|n": 100_000,
    "c1|resident|recognise|n": 200_000,    # H2's resident, in two frames
    "c1|dog_walker|detect|c": 100_000,     # H1's dog walker
    "c1|delivery|beyond|n": 100_000,       # band null: in view beyond the monitor distance
    "c2|visitor|monitor|n": 100_000,
}
EXPECTED_HOUSEHOLDS = {
    "H1|resident|identify|c": 100_000, "H1|visitor|observe|n": 100_000,
    "H1|dog_walker|detect|c": 100_000, "H2|resident|recognise|n": 200_000,
    "H2|delivery|beyond|n": 100_000, "H3|visitor|monitor|n": 100_000,
}


async def write_frames(redis: aredis.Redis, frames: list[tuple[str, int, Any]]) -> None:
    """Write the frame metadata as docs/channels.md specifies (what the hub delivers)."""
    pipe = redis.pipeline(transaction=False)
    for seq, (cam, t, subjects) in enumerate(frames):
        meta = subjects.encode() if isinstance(subjects, str) else json.dumps(
            {"cam": cam, "seq": seq, "t": t, "subjects": subjects}).encode()
        xadd_meta(pipe, cam, seq, t, meta, ta=t + 5_000, key=seq == 0)
    await pipe.execute()


def decoded(h: dict[Any, Any]) -> dict[str, int]:
    return {k.decode(): int(v) for k, v in h.items()}


async def assert_expected(redis: aredis.Redis) -> None:
    assert decoded(await redis.hgetall(keys.EXPOSURE_STREAMS)) == EXPECTED_STREAMS
    assert decoded(await redis.hgetall(keys.EXPOSURE_HOUSEHOLDS)) == EXPECTED_HOUSEHOLDS
    tiles = decoded(await redis.hgetall(keys.EXPOSURE_TILES))
    assert tiles == {"c1:now": 0, "c1:t": 3_100_000, "c1:us": 500_000, "c1:frames": 5,
                     "c2:now": 1, "c2:t": 1_050_000, "c2:us": 100_000, "c2:frames": 1}
    totals = decoded(await redis.hgetall(keys.EXPOSURE_TOTALS))
    assert totals == {"frames": 6, "malformed": 1, "masked_us": 100_000}
    assert (await redis.xpending(keys.FRAME_META, keys.FRAME_META_GROUP))["pending"] == 0


async def test_person_time_by_hand(redis: aredis.Redis) -> None:
    await write_frames(redis, FRAMES)
    reg = CollectorRegistry()
    analyzer = LiveAnalyzer(redis, consenting=consenting, batch=2, metrics=LiveMetrics(reg))
    assert await analyzer.drain() == len(FRAMES)
    await assert_expected(redis)
    assert reg.get_sample_value("rtcc_exposure_frames_total") == 6
    assert reg.get_sample_value("rtcc_exposure_malformed_total") == 1
    assert reg.get_sample_value("rtcc_exposure_person_seconds_total", {
        "role": "resident", "band": "recognise", "consenting": "no"}) == pytest.approx(0.2)
    assert reg.get_sample_value("rtcc_exposure_camera_non_consenting_seconds_total",
                                {"camera": "c1"}) == pytest.approx(0.5)
    assert reg.get_sample_value("rtcc_exposure_masked_seconds_total") == pytest.approx(0.1)
    agg = await read_aggregates(redis)
    assert agg["frames"] == 6 and agg["masked_seconds"] == pytest.approx(0.1)
    assert agg["tiles"]["c1"]["non_consenting_seconds"] == pytest.approx(0.5)
    row = next(r for r in agg["streams"] if r["camera"] == "c1" and r["role"] == "resident"
               and not r["consenting"])
    assert row == {"camera": "c1", "role": "resident", "band": "recognise", "consenting": False,
                   "seconds": pytest.approx(0.2)}
    # Nothing new: another drain counts nothing more.
    assert await analyzer.drain() == 0
    await assert_expected(redis)


async def test_crash_before_commit_recounts_pending_once(redis: aredis.Redis) -> None:
    await write_frames(redis, FRAMES)
    first = LiveAnalyzer(redis, consenting=consenting, batch=3)
    real_commit = first._commit
    calls = 0

    async def dying_commit(batch: Any) -> None:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise ConnectionError("killed between read and write")
        await real_commit(batch)

    first._commit = dying_commit  # type: ignore[method-assign,assignment]
    assert await first.step(block=False) == 3  # batch 1 counted and committed
    with pytest.raises(ConnectionError):
        await first.step(block=False)  # batch 2 read, never committed: left pending
    pending = await redis.xpending(keys.FRAME_META, keys.FRAME_META_GROUP)
    assert pending["pending"] == 3
    # A restart with the same consumer name counts the pending batch, then the rest, once.
    second = LiveAnalyzer(redis, consenting=consenting, batch=3)
    await second.drain()
    await assert_expected(redis)


async def test_restart_after_commit_does_not_double_count(redis: aredis.Redis) -> None:
    await write_frames(redis, FRAMES[:3])
    first = LiveAnalyzer(redis, consenting=consenting, batch=100)
    await first.drain()
    await write_frames(redis, FRAMES[3:])
    second = LiveAnalyzer(redis, consenting=consenting, batch=100)
    await second.drain()
    # The second analyzer took c1's last capture time from Redis: the frame after the restart
    # counts 0.1 s since the previous frame, not the nominal first-frame interval by luck.
    await assert_expected(redis)


async def test_keeps_up_with_arriving_frames(redis: aredis.Redis) -> None:
    """30 cameras at 10 fps for 2 s: lag (capture -> counted) stays under a second."""
    analyzer = LiveAnalyzer(redis, consenting=consenting, block_ms=50)
    stop = asyncio.Event()
    runner = asyncio.create_task(analyzer.run(stop))
    lags: list[float] = []
    frames = 0
    stamps: list[int] = []
    try:
        for tick in range(20):
            now = time.time()
            stamps.append(int(now * 1e6))
            pipe = redis.pipeline(transaction=False)
            for c in range(30):
                meta = json.dumps({"cam": f"k{c}", "seq": tick, "t": int(now * 1e6),
                                   "subjects": [subject("p", "passer_by", None, "detect")]})
                xadd_meta(pipe, f"k{c}", tick, int(now * 1e6), meta.encode())
                frames += 1
            await pipe.execute()
            await asyncio.sleep(0.1)
            if analyzer.frames:
                lags.append(analyzer.lag)
        for _ in range(100):  # at most 5 s for the last frames
            if analyzer.frames >= frames:
                break
            await asyncio.sleep(0.05)  # noqa: ASYNC110 - polling a counter, bounded
    finally:
        stop.set()
        await asyncio.wait_for(runner, 5)
    assert analyzer.frames == frames
    assert lags and max(lags) < 1.0
    # The first frame counts the nominal 0.1 s, each later one the time since the previous one
    # (the producer's ticks: ~0.1 s, more on a busy machine; a gap over 0.5 s counts 0.1 s).
    expected = 100_000 + sum(b - a if b - a <= 500_000 else 100_000
                             for a, b in zip(stamps, stamps[1:], strict=False))
    tiles = decoded(await redis.hgetall(keys.EXPOSURE_TILES))
    assert tiles["k0:frames"] == 20
    assert tiles["k0:us"] == expected
