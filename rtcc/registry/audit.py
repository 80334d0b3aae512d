"""The append-only, hash-chained audit log: who did what, when, from where, to what.

Each entry is JSON ``{seq, ts, actor, role, ip, event, subject, details, prev, hash}`` where
``hash`` is the sha256 of the canonical JSON (sorted keys, no spaces, UTF-8) of the entry without
``hash``, and ``prev`` is the hash of the entry before it (64 zeros for the first). The entries are
a Redis list (``keys.AUDIT_LOG``); ``keys.AUDIT_HEAD`` holds the seq and hash of the newest one.

Appends are serialised by a compare-and-set on the head inside the same Lua batch as the change
they record (:mod:`rtcc.registry.txn`): two concurrent writers cannot both extend the same head, so
the chain never forks, and a change is never visible without its audit entry (nor the reverse).
:mod:`rtcc.registry.audit_verify` walks the chain and names the first tampered entry.

Events written by rtcc: ``login.ok``, ``login.failed``, ``login.limited``, ``logout``,
``token.issued``, ``user.created``, ``user.revoked``, ``consent.set``, ``consent.revoked``,
``consent.expired``, ``registry.import``, ``registry.export``, ``request.created``,
``request.decision``, ``request.answered``, ``request.expired``, ``evidence.created``,
``evidence.missing``, ``evidence.download``, ``evidence.play``, ``evidence.purged``,
``audit.export``; the wall adds ``live.start`` / ``live.stop`` through :meth:`AuditLog.append`.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import redis.asyncio as aredis

from rtcc import keys
from rtcc.registry.txn import Txn, commit

GENESIS = "0" * 64
FIELDS = ("seq", "ts", "actor", "role", "ip", "event", "subject", "details", "prev", "hash")
_CHUNK = 1000


@dataclass(frozen=True, slots=True)
class Actor:
    """Who acts: a user (with role, client address and, for residents, household) or the CLI."""

    name: str
    role: str
    ip: str = ""
    household: str | None = None


def canonical(obj: object) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode()


def entry_hash(body: Mapping[str, Any]) -> str:
    """sha256 hex of the canonical JSON of an entry without its ``hash`` field."""
    return hashlib.sha256(canonical({k: v for k, v in body.items() if k != "hash"})).hexdigest()


def iso_micro(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="microseconds").replace(
        "+00:00", "Z")


def parse_ts(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


@dataclass(frozen=True, slots=True)
class AuditEntry:
    seq: int
    ts: str
    actor: str
    role: str
    ip: str
    event: str
    subject: str
    details: dict[str, Any] = field(hash=False)
    prev: str
    hash: str

    def as_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in FIELDS}

    def to_json(self) -> str:
        return canonical(self.as_dict()).decode()

    @property
    def timestamp(self) -> float:
        return parse_ts(self.ts)

    @classmethod
    def from_json(cls, text: str | bytes) -> AuditEntry:
        """Parse a stored entry; ValueError when it is not one (malformed or missing fields)."""
        raw = json.loads(text)
        if not isinstance(raw, dict) or set(raw) != set(FIELDS):
            raise ValueError("not an audit entry (fields differ)")
        if not isinstance(raw["seq"], int) or not isinstance(raw["details"], dict):
            raise ValueError("not an audit entry (seq or details of the wrong type)")
        return cls(**raw)


@dataclass(slots=True)
class AuditWriter:
    """Appends entries to a batch, chaining each to the one before (also within the batch)."""

    txn: Txn
    seq: int
    head: str

    def append(
        self,
        actor: Actor,
        event: str,
        subject: str = "",
        details: Mapping[str, Any] | None = None,
        *,
        now: float | None = None,
    ) -> AuditEntry:
        body: dict[str, Any] = {
            "seq": self.seq + 1,
            "ts": iso_micro(time.time() if now is None else now),
            "actor": actor.name,
            "role": actor.role,
            "ip": actor.ip,
            "event": event,
            "subject": subject,
            "details": dict(details or {}),
            "prev": self.head,
        }
        entry = AuditEntry(**body, hash=entry_hash(body))
        self.txn.op("RPUSH", keys.AUDIT_LOG, entry.to_json())
        self.txn.hset(keys.AUDIT_HEAD, {"seq": str(entry.seq), "hash": entry.hash})
        self.seq, self.head = entry.seq, entry.hash
        return entry


async def read_head(redis: aredis.Redis) -> tuple[int, str]:
    """(seq, hash) of the newest entry; (0, GENESIS) for an empty log."""
    return parse_head(await redis.hmget(keys.AUDIT_HEAD, ["seq", "hash"]))  # type: ignore[misc]


async def begin(redis: aredis.Redis, txn: Txn) -> AuditWriter:
    """Read the head and guard the batch on it: the batch applies only if nobody appended since."""
    return begin_at(txn, await read_head(redis))


def begin_at(txn: Txn, head: tuple[int, str]) -> AuditWriter:
    """:func:`begin` with a head already read (e.g. in one pipeline with other reads)."""
    seq, digest = head
    txn.expect_hget(keys.AUDIT_HEAD, "hash", digest if seq else None)
    return AuditWriter(txn, seq, digest)


def parse_head(raw: list[Any]) -> tuple[int, str]:
    """An ``HMGET AUDIT_HEAD seq hash`` reply as (seq, hash)."""
    if raw[0] is None or raw[1] is None:
        return 0, GENESIS
    return int(raw[0]), _text(raw[1])


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


class AuditLog:
    """The audit log of one state Redis: append (for the wall and the CLI), read, export."""

    def __init__(self, redis: aredis.Redis) -> None:
        self.redis = redis

    async def append(
        self,
        event: str,
        *,
        actor: Actor | str,
        role: str = "",
        ip: str = "",
        subject: str = "",
        details: Mapping[str, Any] | None = None,
    ) -> AuditEntry:
        """Append one entry on its own (e.g. ``live.start`` when an operator opens a tile)."""
        who = actor if isinstance(actor, Actor) else Actor(actor, role, ip)
        if not event or not isinstance(event, str):
            raise ValueError("an audit event needs a name")
        canonical(dict(details or {}))  # fail here, not inside the batch, if not JSON-able

        async def build() -> tuple[Txn, AuditEntry]:
            txn = Txn()
            writer = await begin(self.redis, txn)
            return txn, writer.append(who, event, subject, details)

        return await commit(self.redis, build, what="audit append")

    async def head(self) -> tuple[int, str]:
        return await read_head(self.redis)

    async def length(self) -> int:
        return int(await self.redis.llen(keys.AUDIT_LOG))  # type: ignore[misc]

    async def raw(self) -> AsyncIterator[tuple[int, str]]:
        """(position, stored text) of every entry, oldest first, read in chunks."""
        start = 0
        while True:
            chunk = await self.redis.lrange(keys.AUDIT_LOG, start, start + _CHUNK - 1)  # type: ignore[misc]
            for offset, item in enumerate(chunk):
                yield start + offset, _text(item)
            if len(chunk) < _CHUNK:
                return
            start += _CHUNK

    async def entries(
        self, since: float | None = None, until: float | None = None
    ) -> list[AuditEntry]:
        """Parsed entries with ``since <= ts <= until`` (unix seconds; None = open end).
        Entries that no longer parse are skipped here; ``verify`` reports them."""
        out: list[AuditEntry] = []
        async for _, text in self.raw():
            try:
                entry = AuditEntry.from_json(text)
                ts = entry.timestamp
            except (ValueError, TypeError):
                continue
            if (since is None or ts >= since) and (until is None or ts <= until):
                out.append(entry)
        return out
