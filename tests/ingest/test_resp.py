"""The hub's lean RESP connection against real redis-servers (plain, password, database)."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

from rtcc.channels import ChannelWriter, Frame
from rtcc.ingest.resp import RespConnection, pack, pack_parts


def test_pack_is_resp2() -> None:
    assert pack([("SET", "k", b"v\r\n", 12), ("PING",)]) == (
        b"*4\r\n$3\r\nSET\r\n$1\r\nk\r\n$3\r\nv\r\n\r\n$2\r\n12\r\n*1\r\n$4\r\nPING\r\n")
    with pytest.raises(TypeError):
        pack([("SET", "k", object())])


async def test_batch_replies_errors_and_prepacked_frames(redis: aredis.Redis) -> None:
    conn = RespConnection.like(redis)
    try:
        cmds: list[Any] = [("SET", "a", "1"), ("INCR", "a"), ("LPUSH", "a", "x"), ("GET", "a")]
        channels = ChannelWriter(10.0)
        frame = Frame("cam-1", 7, 1_700_000_000_000_000, 1_700_000_000_001_000, True,
                      b"\x00\x00\x00\x01\x65abc", b'{"cam":"cam-1"}')
        channels.add_frame(cmds, frame, int(time.time() * 1000))
        replies = await conn.execute(cmds)
        assert replies[:2] == [b"OK", 2]
        assert isinstance(replies[2], ResponseError) and "WRONGTYPE" in str(replies[2])
        assert replies[3] == b"2"
        assert replies[4].count(b"-") == 1 and replies[5].count(b"-") == 1  # two stream ids
        rows: Any = await redis.xrange("rtcc:{cam-1}:video")
        (entry_id, fields), = rows
        assert entry_id == replies[4]
        assert fields == {b"au": frame.au, b"seq": b"7", b"t": b"1700000000000000",
                          b"ta": b"1700000000001000", b"key": b"1", b"meta": frame.meta}
    finally:
        conn.close()


async def test_large_access_units_go_to_redis_by_reference(redis: aredis.Redis) -> None:
    """A 1080p keyframe is not copied into the batch: pack_parts hands it to the socket where
    it lies, the small parts around it joined; Redis stores the same bytes as pack would send."""
    channels = ChannelWriter(10.0)
    big = b"\x00\x00\x00\x01\x65" + bytes(range(256)) * 700  # ~180 kB
    small = b"\x00\x00\x00\x01\x41" + b"x" * 100
    frames = [Frame("cam-1", 1, 1_700_000_000_000_000, 1_700_000_000_001_000, True, big, b""),
              Frame("cam-2", 1, 1_700_000_000_000_000, 1_700_000_000_001_000, False, small,
                    b'{"cam":"cam-2"}')]
    cmds: list[Any] = [("PING",)]
    for frame in frames:
        channels.add_frame(cmds, frame, int(time.time() * 1000))
    parts = pack_parts(cmds)
    assert b"".join(parts) == pack(cmds)
    views = [p for p in parts if isinstance(p, memoryview)]
    assert len(views) == 1 and views[0].obj is big  # by reference: the frame's own bytes
    assert all(len(p) < 2048 for p in parts if not isinstance(p, memoryview))
    conn = RespConnection.like(redis)
    try:
        replies = await conn.execute(cmds)
    finally:
        conn.close()
    assert replies[0] == b"PONG" and not any(isinstance(r, Exception) for r in replies)
    for frame in frames:
        (_id, fields), = await redis.xrange(f"rtcc:{{{frame.cam}}}:video")
        assert fields[b"au"] == frame.au and fields[b"meta"] == frame.meta


@pytest.fixture
def password_redis(short_tmp: Path) -> Iterator[Path]:
    sock = short_tmp / "pw.sock"
    proc = subprocess.Popen([shutil.which("redis-server") or "redis-server", "--port", "0",
                             "--unixsocket", str(sock), "--requirepass", "s3cret", "--save", "",
                             "--appendonly", "no"], stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while not sock.exists() and time.monotonic() < deadline:
            time.sleep(0.01)
        yield sock
    finally:
        proc.terminate()
        proc.wait(10)


async def test_auth_and_database_selection(password_redis: Path) -> None:
    good = RespConnection.like(aredis.Redis(unix_socket_path=str(password_redis),
                                            password="s3cret", db=3))
    try:
        assert await good.execute([("SET", "k", "v"), ("CLIENT", "INFO")]) is not None
        info = (await good.execute([("CLIENT", "INFO")]))[0]
        assert b" db=3 " in info
    finally:
        good.close()
    bad = RespConnection(path=str(password_redis), password="wrong")
    with pytest.raises(RedisConnectionError, match="refused the connection setup"):
        await bad.execute([("PING",)])
    missing = RespConnection(path=str(password_redis.with_name("nobody.sock")))
    with pytest.raises(RedisConnectionError, match="cannot connect"):
        await missing.execute([("PING",)])
