"""A lean pipelined Redis connection for the hub's write path: RESP2 packed here, replies parsed
by hiredis (the C parser redis-py itself uses).

Why not redis-py's pipeline: at 10,000 frames a second its Python command packing
(``Connection.pack_command``, one ``Encoder.encode`` per argument) and per-reply coroutine cost
more CPU than the rest of the hub together (measured: ~80 µs of ~200 µs per frame at 100 cameras;
docs/benchmarks.md, "Ingest hub"). Here a whole batch is one ``bytes.join`` and one
``transport.write``, and the replies come back from one ``hiredis.Reader``. Everything that is not
the per-frame batch (reads, registry, consent) keeps using redis-py.

On a Redis Cluster, :func:`rtcc.ingest.resp_cluster.connection_like` gives the cluster variant
with the same interface (one such connection per master).

The connection parameters (unix socket or host/port, username/password, database) are taken from
a redis-py client, so there is exactly one Redis configuration. One batch is in flight at a time
(the writer is sequential); a failure closes the connection, the next call reconnects.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import hiredis
import redis.asyncio as aredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

from rtcc.connections import is_cluster
from rtcc.errors import ConfigError

Command = tuple[Any, ...] | list[bytes | memoryview]
"""A tuple of arguments, or a list of byte strings that are the command already RESP-encoded."""

PAYLOAD_AT = 3
"""In a pre-encoded command, the place of a large payload that goes to the socket by reference:
a ``memoryview`` there (``ChannelWriter.add_frame`` puts a large access unit there so) is not
copied into the batch by :func:`pack_parts`."""


def _arg(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, (int, float)):
        return repr(value).encode()
    if isinstance(value, (bytearray, memoryview)):
        return bytes(value)
    raise TypeError(f"cannot send {type(value).__name__} to Redis")


def pack(commands: Sequence[Command]) -> bytes:
    """RESP2 encoding of ``commands`` (arrays of bulk strings), all in one buffer; a command
    given as a list of byte strings is taken as already encoded."""
    parts: list[bytes | memoryview] = []
    add = parts.append
    extend = parts.extend
    for command in commands:
        if type(command) is list:
            extend(command)
            continue
        add(b"*%d\r\n" % len(command))
        for value in command:
            data = value if type(value) is bytes else _arg(value)
            add(b"$%d\r\n" % len(data))
            add(data)
            add(b"\r\n")
    return b"".join(parts)


def pack_parts(commands: Sequence[Command]) -> list[bytes | memoryview]:
    """:func:`pack` as a list of buffers for one gathered write: the small parts joined, each
    large payload (a memoryview at :data:`PAYLOAD_AT` of a pre-encoded command) left where it is.

    At 1-3 Mbit/s a batch of a few hundred frames is megabytes; joining it was one more copy of
    every byte delivered (2.7 µs per 26 kB frame, against 0.7 µs to hand the payload over)."""
    out: list[bytes | memoryview] = []
    run: list[Any] = []
    extend = run.extend
    for command in commands:
        if type(command) is list:
            if len(command) > PAYLOAD_AT and type(command[PAYLOAD_AT]) is memoryview:
                extend(command[:PAYLOAD_AT])
                out.append(b"".join(run))
                out.append(command[PAYLOAD_AT])
                run = command[PAYLOAD_AT + 1:]
                extend = run.extend
            else:
                extend(command)
            continue
        run.append(pack((command,)))
    if run:
        out.append(b"".join(run))
    return out


class _Protocol(asyncio.Protocol):
    def __init__(self) -> None:
        self.reader = hiredis.Reader(replyError=ResponseError)
        self.transport: asyncio.Transport | None = None
        self.replies: list[Any] = []
        self.expected = 0
        self.waiter: asyncio.Future[list[Any]] | None = None
        self.lost: BaseException | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        reader = self.reader
        reader.feed(data)
        replies = self.replies
        while True:
            try:
                reply = reader.gets()
            except hiredis.ProtocolError as err:
                self._fail(RedisConnectionError(f"Redis protocol error: {err}"))
                return
            if reply is False:
                break
            replies.append(reply)
        if self.waiter is not None and len(replies) >= self.expected and \
                not self.waiter.done():
            self.waiter.set_result(replies)

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(RedisConnectionError(f"connection to Redis lost: {exc or 'closed by server'}"))

    def _fail(self, exc: BaseException) -> None:
        self.lost = exc
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(exc)
        if self.transport is not None:
            self.transport.close()


class RespConnection:
    """See module docstring."""

    def __init__(self, *, path: str | None = None, host: str = "127.0.0.1", port: int = 6379,
                 username: str | None = None, password: str | None = None, db: int = 0,
                 connect_timeout: float = 5.0) -> None:
        self.path = path
        self.host, self.port = host, port
        self.username, self.password = username, password
        self.db = db
        self.connect_timeout = connect_timeout
        self._proto: _Protocol | None = None

    @classmethod
    def like(cls, client: aredis.Redis) -> RespConnection:
        """A connection to the same server, database and credentials as ``client`` (a single
        server; :func:`rtcc.ingest.resp_cluster.connection_like` takes either kind)."""
        if is_cluster(client):
            raise ConfigError("a Redis Cluster client needs rtcc.ingest.resp_cluster")
        pool = client.connection_pool
        if "SSL" in pool.connection_class.__name__:
            raise ConfigError("the hub's live Redis cannot be rediss:// (TLS): its frame writer "
                              "speaks plain RESP; use a local or unix-socket Redis")
        kw = pool.connection_kwargs
        return cls(path=kw.get("path"), host=kw.get("host", "127.0.0.1"),
                   port=int(kw.get("port", 6379)), username=kw.get("username"),
                   password=kw.get("password"), db=int(kw.get("db") or 0))

    @property
    def connected(self) -> bool:
        p = self._proto
        return p is not None and p.lost is None and p.transport is not None and \
            not p.transport.is_closing()

    async def _connect(self) -> _Protocol:
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(self.connect_timeout):
            if self.path:
                _t, proto = await loop.create_unix_connection(_Protocol, self.path)
            else:
                _t, proto = await loop.create_connection(_Protocol, self.host, self.port)
        self._proto = proto
        hello: list[Command] = []
        if self.password:
            hello.append(("AUTH", self.username, self.password) if self.username
                         else ("AUTH", self.password))
        if self.db:
            hello.append(("SELECT", self.db))
        if hello:
            for reply in await self._roundtrip(proto, hello):
                if isinstance(reply, Exception):
                    self.close()
                    raise RedisConnectionError(f"Redis refused the connection setup: {reply}")
        return proto

    async def execute(self, commands: Sequence[Command]) -> list[Any]:
        """Send ``commands`` in one write; their replies, errors as ResponseError instances.

        Connection failures raise redis.exceptions.ConnectionError (the connection is then
        closed and the next call reconnects)."""
        if not commands:
            return []
        proto = self._proto if self.connected else None
        if proto is None:
            try:
                proto = await self._connect()
            except OSError as err:
                raise RedisConnectionError(f"cannot connect to Redis: {err}") from err
        try:
            return await self._roundtrip(proto, commands)
        except BaseException:
            self.close()  # a half-read batch leaves the stream unusable
            raise

    async def _roundtrip(self, proto: _Protocol, commands: Sequence[Command]) -> list[Any]:
        assert proto.transport is not None
        proto.replies = []
        proto.expected = len(commands)
        waiter: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
        proto.waiter = waiter
        proto.transport.writelines(pack_parts(commands))
        try:
            replies = await waiter
        finally:
            proto.waiter = None
        proto.replies = []
        return replies[:len(commands)]

    def close(self) -> None:
        proto, self._proto = self._proto, None
        if proto is not None and proto.transport is not None:
            proto.transport.close()
