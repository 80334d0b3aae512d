"""The writer against a real Redis that stalls or restarts: bounded memory, counted drops,
keyframes kept over non-keyframes, recovery."""

from __future__ import annotations

import asyncio
import tracemalloc
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import redis.asyncio as aredis

from rtcc import channels, keys
from rtcc.channels import ChannelWriter, Frame, StateRecord
from rtcc.ingest.metrics import HubMetrics
from rtcc.ingest.supervisor import cancel_and_wait
from rtcc.ingest.writer import FrameWriter, WriterConfig
from rtcc.metrics import new_registry
from rtcc.redis_server import LIVE, EmbeddedRedis
from rtcc.vocabulary import CameraState
from tests.ingest.conftest import wait_for

GOP = 10


def frame(cam: str, seq: int, size: int = 1000, t: int | None = None) -> Frame:
    key = seq % GOP == 0
    body = (b"\x65" if key else b"\x41") + bytes([seq % 251]) * (size - 1)
    t_us = t if t is not None else 1_700_000_000_000_000 + seq * 100_000
    return Frame(cam, seq, t_us, t_us + 1000, key, b"\x00\x00\x00\x01" + body)


@pytest.fixture
async def writer(redis: aredis.Redis) -> AsyncIterator[FrameWriter]:
    w = FrameWriter(redis, ChannelWriter(10.0), HubMetrics(new_registry()),
                    WriterConfig(max_camera_frames=20, max_bytes=200_000, write_timeout=0.3,
                                 probe_min=0.05, probe_max=0.2))
    task = asyncio.create_task(w.run())
    yield w
    await cancel_and_wait(task)


async def test_batches_are_written_in_order(redis: aredis.Redis, writer: FrameWriter) -> None:
    for seq in range(25):
        for cam in ("c1", "c2", "c3"):
            assert writer.submit(frame(cam, seq))
        if seq == 14:  # stay under the 20-frame queue bound
            await writer.flush()
    await writer.flush()
    for cam in ("c1", "c2", "c3"):
        rows = await channels.read_range(redis, cam)
        assert [e.frame.seq for e in rows] == list(range(25))
        assert rows[10].frame.key and not rows[11].frame.key
        gop = await channels.read_gop(redis, cam)
        assert [e.frame.seq for e in gop] == list(range(20, 25))
    assert await redis.xlen(keys.FRAME_META) == 75
    assert writer.written == 75 and writer.batches < 75  # pipelined, not one by one


async def test_a_full_queue_evicts_non_keyframes_for_a_keyframe(
    redis: aredis.Redis, writer: FrameWriter,
) -> None:
    # 25 frames at once into a 20-frame queue: keyframe 20 evicts the queued non-keyframes
    # (1-9, 11-19) but keeps keyframes 0 and 10; nothing is half a GOP.
    for seq in range(25):
        writer.submit(frame("c1", seq))
    await writer.flush()
    rows = await channels.read_range(redis, "c1")
    assert [e.frame.seq for e in rows] == [0, 10, 20, 21, 22, 23, 24]
    assert writer.metrics.dropped_total("c1", "backpressure") == 18


async def test_stalled_redis_keeps_memory_bounded_and_keeps_keyframes(
    redis: aredis.Redis, redis_url: str, writer: FrameWriter,
) -> None:
    admin = aredis.Redis.from_url(redis_url)
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        await admin.execute_command("CLIENT", "PAUSE", 1500, "ALL")
        # 8 cameras x 300 frames x 5 KB = 12 MB offered while Redis does not answer.
        for seq in range(300):
            for cam in range(8):
                writer.submit(frame(f"s{cam}", seq, size=5000))
            if seq % 10 == 0:
                await asyncio.sleep(0.02)
                assert writer.queued_bytes <= 200_000
        grown = tracemalloc.get_traced_memory()[0] - base
    finally:
        tracemalloc.stop()
    assert writer.queued_bytes <= 200_000
    assert grown < 3_000_000, f"memory grew by {grown} bytes while Redis stalled"
    dropped = writer.metrics.dropped_total(reason="backpressure")
    assert dropped > 1000
    # Redis comes back by itself (the pause expires): the writer resumes.
    await wait_for(lambda: writer.redis_up and not writer.queued_bytes, timeout=10,
                   what="writer drained")
    for seq in range(300, 320):
        writer.submit(frame("s0", seq, size=5000))
    await writer.flush()
    rows = await channels.read_range(redis, "s0")
    seqs = {e.frame.seq for e in rows}
    assert {310, 319} <= seqs
    # Every delivered non-keyframe has its predecessor: drops never cut a GOP in the middle.
    for e in rows:
        if not e.frame.key:
            assert e.frame.seq - 1 in seqs, e.frame.seq
    await admin.aclose()


async def test_redis_restart_is_survived_and_reported(short_tmp: Path) -> None:
    server = EmbeddedRedis(LIVE, short_tmp / "restart-data", short_tmp / "rr")
    server.start()
    live = aredis.Redis.from_url(server.url)
    metrics = HubMetrics(new_registry())
    w = FrameWriter(live, ChannelWriter(10.0), metrics,
                    WriterConfig(write_timeout=0.5, probe_min=0.05, probe_max=0.2))
    reconnected: list[bool] = []
    w.on_reconnect.append(lambda: reconnected.append(True))
    task = asyncio.create_task(w.run())
    try:
        w.publish_state(StateRecord("r1", CameraState.LIVE, since=1.0, source="rtsp://x"))
        for seq in range(10):
            w.submit(frame("r1", seq))
        await w.flush()
        assert await live.xlen(keys.video("r1")) == 10
        server.stop()  # all channels and states are gone with it (memory only)
        for seq in range(10, 40):
            w.submit(frame("r1", seq))
            await asyncio.sleep(0.02)
        assert not w.redis_up
        server.start()
        await wait_for(lambda: w.redis_up, timeout=10, what="writer reconnected")
        for seq in range(40, 60):
            w.submit(frame("r1", seq))
            await asyncio.sleep(0.01)
        await w.flush()
        assert reconnected == [True]
        assert not task.done()
        state = await channels.read_state(live, "r1")
        assert state is not None and state.state == "live"  # rewritten after the restart
        rows = await channels.read_range(live, "r1")
        seqs = [e.frame.seq for e in rows]
        assert seqs[-1] == 59 and 50 in seqs
        assert rows[0].frame.key  # the restarted channel starts decodable
        lost = metrics.dropped_total("r1")
        assert lost >= 1 and lost + len(seqs) <= 60
    finally:
        await cancel_and_wait(task)
        await live.aclose()
        server.stop()
