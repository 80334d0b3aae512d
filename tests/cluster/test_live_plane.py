"""The live plane on a single Redis and on a 3-master cluster (each test runs on both): the hub's
lean RESP writer, the wall's multi-camera XREAD, the analyzer's atomic commit."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import redis.asyncio as aredis
from redis.crc import key_slot

from rtcc import channels, keys
from rtcc.channels import ChannelWriter, Frame, StateRecord
from rtcc.connections import is_cluster
from rtcc.exposure.live import LiveAnalyzer, read_aggregates
from rtcc.ingest.metrics import HubMetrics
from rtcc.ingest.resp_cluster import ClusterRespConnection, command_key, connection_like
from rtcc.ingest.supervisor import cancel_and_wait
from rtcc.ingest.writer import FrameWriter, WriterConfig
from rtcc.metrics import new_registry
from rtcc.vocabulary import CameraState
from tests.cluster.redis_cluster import LocalCluster

CAMS = [f"cam-{i:04d}" for i in range(60)]


def frame(cam: str, seq: int, people: int = 0) -> Frame:
    key = seq % 10 == 0
    t = 1_700_000_000_000_000 + seq * 100_000
    subjects = [{"role": "pedestrian", "band": "identify"}] * people
    meta = json.dumps({"cam": cam, "seq": seq, "t": t, "subjects": subjects}).encode()
    return Frame(cam, seq, t, t + 1000, key, b"\x00\x00\x00\x01" + (b"\x65" if key else b"\x41")
                 + bytes(200), meta)


def test_command_key_reads_pre_encoded_and_tuple_commands() -> None:
    cmds: list[Any] = []
    ChannelWriter().add_frame(cmds, frame("cam-7", 3), 1_700_000_000_000)
    assert command_key(cmds[0]) == keys.video("cam-7").encode()
    assert command_key(cmds[1]) == keys.FRAME_META.encode()
    assert command_key(("SET", keys.gop("c"), "1-0")) == keys.gop("c").encode()
    assert command_key(("PING",)) is None


async def test_resp_like_picks_the_variant_and_keeps_reply_order(live: aredis.Redis) -> None:
    conn = connection_like(live)
    assert isinstance(conn, ClusterRespConnection) == is_cluster(live)
    try:
        cmds: list[Any] = []
        writer = ChannelWriter()
        for seq in range(3):
            for cam in CAMS:
                writer.add_frame(cmds, frame(cam, seq), 1_700_000_000_000)
        cmds.append(("PING",))
        replies = await conn.execute(cmds)
        assert len(replies) == len(cmds) and replies[-1] in (b"PONG", "PONG")
        assert not [r for r in replies if isinstance(r, Exception)]
        for cam in CAMS:
            rows = await channels.read_range(live, cam)
            assert [e.frame.seq for e in rows] == [0, 1, 2]
        assert await live.xlen(keys.FRAME_META) == 3 * len(CAMS)
        # The entry ids come back in command order: each video XADD's reply is its id.
        first = replies[0].decode()
        assert (await channels.read_range(live, CAMS[0]))[0].id == first
    finally:
        conn.close()


async def test_cluster_connection_follows_moved_with_a_stale_map(live: aredis.Redis) -> None:
    if not is_cluster(live):
        return  # a single server never redirects
    conn = connection_like(live)
    assert isinstance(conn, ClusterRespConnection)
    try:
        await conn.execute([("PING",)])
        assert conn._slots is not None
        wrong = conn._slots[key_slot(keys.video(CAMS[0]).encode())]
        conn._slots = [wrong] * len(conn._slots)  # as after a resharding nobody told us about
        cmds: list[Any] = []
        for cam in CAMS:
            ChannelWriter().add_frame(cmds, frame(cam, 0), 1_700_000_000_000)
        replies = await conn.execute(cmds)
        assert not [r for r in replies if isinstance(r, Exception)]
        assert conn.redirects > 0
        assert await live.xlen(keys.FRAME_META) == len(CAMS)
        refreshes = conn.refreshes
        await conn.execute([("XLEN", keys.FRAME_META)])
        assert conn.refreshes == refreshes + 1  # the map was reloaded after the MOVED
    finally:
        conn.close()


async def test_frame_writer_fills_every_camera_channel(live: aredis.Redis) -> None:
    w = FrameWriter(live, ChannelWriter(10.0), HubMetrics(new_registry()),
                    WriterConfig(max_camera_frames=50, write_timeout=2.0))
    task = asyncio.create_task(w.run())
    try:
        for cam in CAMS:
            w.publish_state(StateRecord(cam, CameraState.LIVE, since=1.0, source="rtsp://x"))
        for seq in range(12):
            for cam in CAMS:
                assert w.submit(frame(cam, seq))
            await asyncio.sleep(0.005)
        await w.flush()
        for cam in CAMS:
            assert [e.frame.seq for e in await channels.read_range(live, cam)] == list(range(12))
            gop = await channels.read_gop(live, cam)
            assert gop and gop[0].frame.seq == 10
            state = await channels.read_state(live, cam)
            assert state is not None and state.state == "live"
        assert await channels.live_cameras(live) == set(CAMS)
        assert w.written == 12 * len(CAMS)
    finally:
        await cancel_and_wait(task)


async def test_xread_frames_over_many_slots(live: aredis.Redis) -> None:
    writer = ChannelWriter()
    cmds: list[Any] = []
    for cam in CAMS:
        writer.add_frame(cmds, frame(cam, 0), 1_700_000_000_000)
    conn = connection_like(live)
    try:
        await conn.execute(cmds)
        after = {cam: "0-0" for cam in CAMS}
        got = await channels.xread_frames(live, after, count=10)
        assert sorted(e.frame.cam for e in got) == sorted(CAMS)
        after = {e.frame.cam: e.id for e in got}
        # Nothing new: a blocking read waits about block_ms and returns nothing.
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        assert await channels.xread_frames(live, after, block_ms=150) == []
        assert 0.1 <= loop.time() - t0 < 2.0
        # A frame arriving during the wait is returned.
        cmds = []
        writer.add_frame(cmds, frame(CAMS[5], 1), 1_700_000_000_001)
        later = asyncio.create_task(channels.xread_frames(live, after, block_ms=3000))
        await asyncio.sleep(0.05)
        await conn.execute(cmds)
        got = await asyncio.wait_for(later, 5)
        assert [(e.frame.cam, e.frame.seq) for e in got] == [(CAMS[5], 1)]
    finally:
        conn.close()


async def test_analyzer_commit_is_atomic_and_counts_each_frame_once(live: aredis.Redis) -> None:
    writer = ChannelWriter()
    cmds: list[Any] = []
    for seq in range(5):
        for cam in CAMS[:20]:
            writer.add_frame(cmds, frame(cam, seq, people=1), 1_700_000_000_000)
    conn = connection_like(live)
    try:
        await conn.execute(cmds)
    finally:
        conn.close()
    analyzer = LiveAnalyzer(live, consenting=lambda household: False, batch=37)
    assert await analyzer.drain(limit_s=10) == 100
    again = LiveAnalyzer(live, consenting=lambda household: False)
    assert await again.drain(limit_s=2) == 0  # everything was acknowledged with the counts
    doc = await read_aggregates(live)
    assert doc["frames"] == 100 and doc["malformed"] == 0
    assert sum(t["frames"] for t in doc["tiles"].values()) == 100
    # 5 frames 100 ms apart, the first counted at the nominal interval: 0.5 s per camera.
    assert sum(r["seconds"] for r in doc["streams"]) == 20 * 0.5
    pending: Any = await live.xpending(keys.FRAME_META, keys.FRAME_META_GROUP)
    assert pending["pending"] == 0


async def test_cluster_connection_follows_ask_during_slot_migration(
        redis_cluster: LocalCluster) -> None:
    """A slot half-way through a migration: the source answers ASK for a key it does not have,
    the connection resends with ASKING to the importing node, the write lands there."""
    cam = "cam-ask"
    key = keys.video(cam)
    slot = key_slot(key.encode())
    source = redis_cluster.master_of(key)
    target = next(p for p in redis_cluster.masters() if p != source)
    src, dst = redis_cluster.node(source), redis_cluster.node(target)
    src_id, dst_id = src.execute_command("CLUSTER", "MYID"), dst.execute_command("CLUSTER", "MYID")
    src.delete(key)
    dst.execute_command("CLUSTER", "SETSLOT", slot, "IMPORTING", src_id)
    src.execute_command("CLUSTER", "SETSLOT", slot, "MIGRATING", dst_id)
    conn = ClusterRespConnection([("127.0.0.1", source)])
    try:
        cmds: list[Any] = []
        ChannelWriter().add_frame(cmds, frame(cam, 0), 1_700_000_000_000)
        replies = await conn.execute(cmds[:1])
        assert not isinstance(replies[0], Exception), replies
        assert conn.redirects == 1
        assert dst.execute_command("ASKING") and dst.xlen(key) == 1
    finally:
        conn.close()
        for node in (dst, src):  # finish the migration: the slot now belongs to the target
            node.execute_command("CLUSTER", "SETSLOT", slot, "NODE", dst_id)
        redis_cluster.wait_ok()
        dst.delete(key)
