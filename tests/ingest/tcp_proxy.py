"""A loopback TCP proxy for fault tests: counts connection attempts, cuts every connection at
once, refuses for a while, and injects garbage into a server->client stream."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time


class TcpProxy:
    def __init__(self, target_port: int, target_host: str = "127.0.0.1") -> None:
        self.target = (target_host, target_port)
        self.accepted: list[float] = []
        """monotonic time of every accepted client connection"""
        self.refusing = False
        self.garbage_after: int | None = None
        """Inject random bytes into the next connection's server->client stream after this
        many bytes (once)."""
        self._server: asyncio.Server | None = None
        self._pairs: set[tuple[asyncio.StreamWriter, asyncio.StreamWriter]] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    async def __aenter__(self) -> TcpProxy:
        self._server = await asyncio.start_server(self._client, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        self.cut_all()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()

    def cut_all(self) -> int:
        pairs = list(self._pairs)
        for a, b in pairs:
            a.transport.abort()
            b.transport.abort()
        self._pairs.clear()
        return len(pairs)

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted.append(time.monotonic())
        if self.refusing:
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        pair = (writer, up_writer)
        self._pairs.add(pair)
        garbage, self.garbage_after = self.garbage_after, None
        down = asyncio.create_task(self._pump(up_reader, writer, garbage))
        self._tasks.add(down)
        try:
            await self._pump(reader, up_writer, None)
            await down
        finally:
            self._tasks.discard(down)
            self._pairs.discard(pair)
            for w in (writer, up_writer):
                w.transport.abort()

    @staticmethod
    async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                    garbage_after: int | None) -> None:
        sent = 0
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                writer.write(data)
                sent += len(data)
                if garbage_after is not None and sent >= garbage_after:
                    # Bytes that are neither '$' framing nor an RTSP message ('~' = 0x7e).
                    writer.write(b"~" + os.urandom(2000))
                    garbage_after = None
                await writer.drain()
        writer.transport.abort()
