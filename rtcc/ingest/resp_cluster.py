"""The lean pipelined RESP connection of :mod:`rtcc.ingest.resp`, for a Redis Cluster.

Same interface as :class:`rtcc.ingest.resp.RespConnection` (``execute``, ``close``,
``connected``), so the hub's writer does not know which one it has. A batch is split by the hash
slot of each command's key (the slot map comes from ``CLUSTER SLOTS``), sent as one pipeline per
master, all masters at once, and the replies are put back in the order of the commands. Per-camera
keys carry the camera id as hash tag, so one camera's commands always go to one master, in order.

Redirections: a ``MOVED`` reply marks the map stale and resends the command to the node named in
it (the slot map is refreshed before the next batch); an ``ASK`` reply resends it with
``ASKING`` to the importing node (slot migration). Failures: when a master cannot be reached or
answers ``CLUSTERDOWN``/``TRYAGAIN``, the whole batch raises ``ConnectionError`` (the writer then
counts the batch's frames as dropped, an upper bound as for a single server, and probes); the map
is refreshed from any node that answers, so a replica promoted by a failover is found. A keyless
command (the writer's probe, ``PING``) goes to every master and answers ``PONG`` only when all of
them answer and report ``cluster_state:ok``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any, cast

import redis.asyncio as aredis
import redis.asyncio.cluster as acluster
from redis.crc import key_slot
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

from rtcc.connections import is_cluster
from rtcc.errors import ConfigError
from rtcc.ingest.resp import Command, RespConnection

log = logging.getLogger(__name__)

SLOTS = 16384
MAX_REDIRECTS = 3
_FAILING = ("CLUSTERDOWN", "TRYAGAIN", "LOADING", "MASTERDOWN")

Addr = tuple[str, int]


def command_key(command: Command) -> bytes | None:
    """The key of a command (its second argument), or None for a keyless command (PING).

    A pre-encoded command (a list of byte strings, :func:`rtcc.ingest.resp.pack`) starts with
    ``*N\\r\\n$L\\r\\nNAME\\r\\n$L\\r\\nKEY\\r\\n`` in its first part."""
    if type(command) is list:
        head = cast(bytes, command[0])  # the command's name and key: never a payload
        pos = head.index(b"\r\n") + 2  # past *N
        end = head.index(b"\r\n", pos)  # $L of the name
        pos = end + 2 + int(head[pos + 1:end]) + 2
        end = head.index(b"\r\n", pos)  # $L of the key
        return bytes(head[end + 2:end + 2 + int(head[pos + 1:end])])
    if len(command) < 2:
        return None
    key = command[1]
    return key if isinstance(key, bytes) else str(key).encode()


def _redirect(reply: object) -> tuple[str, int, Addr] | None:
    """``("MOVED"|"ASK", slot, (host, port))`` for a redirection reply, else None."""
    if not isinstance(reply, ResponseError):
        return None
    text = str(reply)
    if not text.startswith(("MOVED ", "ASK ")):
        return None
    kind, slot, where = text.split()[:3]
    host, _, port = where.rpartition(":")
    return kind, int(slot), (host, int(port))


class ClusterRespConnection:
    """See module docstring."""

    def __init__(self, seeds: Sequence[Addr], *, username: str | None = None,
                 password: str | None = None, connect_timeout: float = 5.0) -> None:
        if not seeds:
            raise ConfigError("a Redis Cluster connection needs at least one seed node")
        self.seeds = list(seeds)
        self.username, self.password = username, password
        self.connect_timeout = connect_timeout
        self._slots: list[Addr] | None = None
        self._conns: dict[Addr, RespConnection] = {}
        self._slot_of: dict[bytes, int] = {}
        self._stale = False
        self.refreshes = 0
        self.redirects = 0

    @classmethod
    def like(cls, client: acluster.RedisCluster) -> ClusterRespConnection:
        """A connection to the same cluster, with the same credentials, as ``client``."""
        kw = client.connection_kwargs
        if kw.get("ssl") or "SSL" in getattr(kw.get("connection_class"), "__name__", ""):
            raise ConfigError("the hub's live Redis cannot be rediss:// (TLS): its frame writer "
                              "speaks plain RESP")
        seeds = [(n.host, int(n.port)) for n in client.get_nodes()] or \
            [(n.host, int(n.port)) for n in client.startup_nodes]
        return cls(seeds, username=kw.get("username"), password=kw.get("password"))

    @property
    def connected(self) -> bool:
        return self._slots is not None and any(c.connected for c in self._conns.values())

    def _conn(self, addr: Addr) -> RespConnection:
        conn = self._conns.get(addr)
        if conn is None:
            conn = self._conns[addr] = RespConnection(
                host=addr[0], port=addr[1], username=self.username, password=self.password,
                connect_timeout=self.connect_timeout)
        return conn

    # --- the slot map -----------------------------------------------------------------------

    async def refresh(self) -> None:
        """Load the slot map from the first node that answers ``CLUSTER SLOTS``."""
        candidates = list(dict.fromkeys([*self._masters(), *self.seeds]))
        last: BaseException | None = None
        for addr in candidates:
            try:
                async with asyncio.timeout(self.connect_timeout):
                    reply = (await self._conn(addr).execute([("CLUSTER", "SLOTS")]))[0]
            except (RedisConnectionError, OSError, TimeoutError) as err:
                last = err
                self._drop(addr)
                continue
            if isinstance(reply, Exception) or not reply:
                last = reply if isinstance(reply, Exception) else None
                continue
            self._slots = self._build(reply, addr)
            self.refreshes += 1
            for stale in set(self._conns) - set(self._masters()) - {addr}:
                self._drop(stale)
            return
        self._slots = None
        raise RedisConnectionError(f"no Redis Cluster node answered CLUSTER SLOTS ({last})")

    @staticmethod
    def _build(reply: list[Any], via: Addr) -> list[Addr]:
        slots: list[Addr | None] = [None] * SLOTS
        for row in reply:
            start, end, master = int(row[0]), int(row[1]), row[2]
            host = master[0].decode() if isinstance(master[0], bytes) else str(master[0])
            addr = (host or via[0], int(master[1]))
            slots[start:end + 1] = [addr] * (end - start + 1)
        fallback = next((a for a in slots if a is not None), via)
        return [a if a is not None else fallback for a in slots]

    def _masters(self) -> list[Addr]:
        return list(dict.fromkeys(self._slots)) if self._slots else []

    def _drop(self, addr: Addr) -> None:
        conn = self._conns.pop(addr, None)
        if conn is not None:
            conn.close()

    def _slot(self, command: Command) -> int | None:
        if type(command) is list:
            head = cast(bytes, command[0])
            slot = self._slot_of.get(head)
            if slot is None:
                key = command_key(command)
                slot = self._slot_of[head] = key_slot(key) if key is not None else -1
                if len(self._slot_of) > 100_000:
                    self._slot_of.clear()
            return None if slot < 0 else slot
        key = command_key(command)
        return None if key is None else key_slot(key)

    # --- batches ----------------------------------------------------------------------------

    async def execute(self, commands: Sequence[Command]) -> list[Any]:
        """Send ``commands`` (one pipeline per master); their replies in order, errors as
        ResponseError instances. Raises ConnectionError when a master failed (see module)."""
        if not commands:
            return []
        if self._slots is None:
            await self.refresh()
        assert self._slots is not None
        slots = self._slots
        routes: dict[Addr, list[int]] = {}
        keyless: list[int] = []
        for i, command in enumerate(commands):
            slot = self._slot(command)
            if slot is None:
                keyless.append(i)
            else:
                routes.setdefault(slots[slot], []).append(i)
        replies: list[Any] = [None] * len(commands)
        await self._send(routes, commands, replies)
        for _ in range(MAX_REDIRECTS):
            redirected = self._redirected(replies)
            if not redirected:
                break
            await self._send(redirected, commands, replies)
        if self._stale:  # a MOVED: reload the whole map before the next batch
            self._stale, self._slots = False, None
        if keyless:
            await self._keyless(keyless, commands, replies)
        for reply in replies:
            if isinstance(reply, ResponseError) and str(reply).startswith(_FAILING):
                self._slots = None
                raise RedisConnectionError(f"Redis Cluster not serving: {reply}")
        return replies

    def _redirected(self, replies: list[Any]) -> dict[Addr, list[int]]:
        out: dict[Addr, list[int]] = {}
        for i, reply in enumerate(replies):
            where = _redirect(reply)
            if where is None:
                continue
            kind, slot, addr = where
            self.redirects += 1
            if kind == "MOVED" and self._slots is not None:
                self._slots[slot] = addr  # and reload the whole map before the next batch
                self._stale = True
            out.setdefault(addr, []).append(-i - 1 if kind == "ASK" else i)
        return out

    async def _send(self, routes: dict[Addr, list[int]], commands: Sequence[Command],
                    replies: list[Any]) -> None:
        async def one(addr: Addr, idxs: list[int]) -> BaseException | None:
            batch: list[Command] = []
            for i in idxs:
                if i < 0:  # ASK: this command only, on the importing node
                    batch.append(("ASKING",))
                batch.append(commands[-i - 1 if i < 0 else i])
            try:
                got = await self._conn(addr).execute(batch)
            except (RedisConnectionError, OSError) as err:
                self._drop(addr)
                return err
            pos = 0
            for i in idxs:
                if i < 0:
                    pos += 1  # the ASKING reply
                replies[-i - 1 if i < 0 else i] = got[pos]
                pos += 1
            return None

        results = await asyncio.gather(*(one(a, ix) for a, ix in routes.items()))
        failed = [r for r in results if r is not None]
        if failed:
            self._slots = None  # reload the map before the next batch
            raise RedisConnectionError(f"Redis Cluster master unreachable: {failed[0]}")

    async def _keyless(self, idxs: list[int], commands: Sequence[Command],
                       replies: list[Any]) -> None:
        """Each keyless command to every master; PING also checks ``cluster_state``."""
        for i in idxs:
            batch = [commands[i], ("CLUSTER", "INFO")]
            got: dict[Addr, list[Any]] = {}
            for addr in self._masters():
                try:
                    got[addr] = await self._conn(addr).execute(batch)
                except (RedisConnectionError, OSError) as err:
                    self._drop(addr)
                    self._slots = None
                    raise RedisConnectionError(f"Redis Cluster master {addr} unreachable: "
                                               f"{err}") from err
            reply: Any = None
            for _addr, (first, info) in got.items():
                if isinstance(first, Exception):
                    reply = first
                    break
                text = info.decode() if isinstance(info, bytes) else str(info)
                if "cluster_state:ok" not in text:
                    reply = ResponseError("CLUSTERDOWN the cluster is not serving every slot")
                    self._slots = None
                    break
                reply = first
            replies[i] = reply

    def close(self) -> None:
        for addr in list(self._conns):
            self._drop(addr)
        self._slots = None


def connection_like(client: aredis.Redis) -> RespConnection | ClusterRespConnection:
    """A RESP connection to what ``client`` talks to: the same single server, or the same
    Redis Cluster (a :class:`ClusterRespConnection`, same interface)."""
    if is_cluster(client):
        return ClusterRespConnection.like(client)  # type: ignore[arg-type]
    return RespConnection.like(client)
