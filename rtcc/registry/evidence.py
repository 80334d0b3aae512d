"""Evidence: clips collected for approved footage requests, kept for a limited time.

Where clips come from is a small protocol, :class:`ClipSource`: ``await fetch(camera_id, start,
end)`` returns the camera's H.264 (Annex-B) for that window, or None when it has nothing.
:class:`LiveChannelClipSource` reads the recent buffer the hub keeps in the live Redis
(``keys.video(camera)`` stream entries with fields ``au`` = Annex-B access unit, ``t`` = capture
time in microseconds, ``key`` = ``"1"`` on keyframes); a simulated camera's local store (an HTTP
endpoint of the simulator) can be added as another implementation and chained with
:class:`ChainClipSource`.

:class:`EvidenceStore` writes each clip to ``<data_dir>/evidence/<id>.h264`` (temp file, fsync,
rename: never half a clip under the final name), and indexes it in the state Redis
(``keys.evidence(id)`` hash with its sha256, size, window, request and case; ``keys.EVIDENCE_ALL``
sorted by the time it is purged). Reading a clip checks its sha256. Purging removes the index entry
with an ``evidence.purged`` audit entry in one batch, then the file; files without an index entry
(a crash between the two) are swept at service start.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import redis.asyncio as aredis

from rtcc import keys
from rtcc.errors import NotFound, RtccError
from rtcc.registry.audit import Actor, begin
from rtcc.registry.consent import format_time
from rtcc.registry.txn import Txn, commit, text, text_map

log = logging.getLogger(__name__)

SERVICE = Actor("rtcc", "system", "local")
"""The actor of what the registry does by itself (expiry, purge)."""


class ClipSource(Protocol):
    async def fetch(self, camera_id: str, start: float, end: float) -> bytes | None:
        """Annex-B H.264 of ``camera_id`` between unix times ``start`` and ``end``, or None."""
        ...


class LiveChannelClipSource:
    """Clips from the hub's per-camera stream in the live Redis, starting at a keyframe."""

    def __init__(self, live: aredis.Redis, *, max_bytes: int = 512 * 1024**2,
                 slack: float = 5.0, batch: int = 500) -> None:
        self.live = live
        self.max_bytes = max_bytes
        self.slack = slack
        """Seconds the stream entry ids (write time) may lag the capture time ``t``."""
        self.batch = batch

    async def fetch(self, camera_id: str, start: float, end: float) -> bytes | None:
        key = keys.video(camera_id)
        lo_us, hi_us = int(start * 1e6), int(end * 1e6)
        cursor = str(max(0, int((start - self.slack) * 1000)))
        stop = str(int((end + self.slack) * 1000))
        parts: list[bytes] = []
        size = 0
        started = False
        while True:
            entries = await self.live.xrange(key, min=cursor, max=stop, count=self.batch) or []
            for _entry_id, raw in entries:
                fields = {_b(k): v for k, v in (raw or {}).items()}
                try:
                    t = int(fields[b"t"])
                    au = fields[b"au"]
                except (KeyError, ValueError):
                    continue
                if not lo_us <= t <= hi_us:
                    continue
                if not started:
                    # A clip must decode on its own: drop what precedes the first keyframe.
                    if _b(fields.get(b"key", b"")) != b"1":
                        continue
                    started = True
                au = au if isinstance(au, bytes) else au.encode("latin-1")
                size += len(au)
                if size > self.max_bytes:
                    log.warning("clip of %s capped at %d bytes", camera_id, self.max_bytes)
                    return b"".join(parts) or None
                parts.append(au)
            if len(entries) < self.batch:
                break
            cursor = "(" + (text(entries[-1][0]) or "")
        return b"".join(parts) or None


def _b(value: bytes | str) -> bytes:
    return value if isinstance(value, bytes) else value.encode()


class ChainClipSource:
    """The first source that has footage wins (e.g. the hub's buffer, then the camera's store)."""

    def __init__(self, sources: Sequence[ClipSource]) -> None:
        self.sources = list(sources)

    async def fetch(self, camera_id: str, start: float, end: float) -> bytes | None:
        for source in self.sources:
            clip = await source.fetch(camera_id, start, end)
            if clip:
                return clip
        return None


@dataclass(frozen=True, slots=True)
class EvidenceItem:
    id: str
    request: str
    case: str
    camera: str
    start: float
    end: float
    size: int
    sha256: str
    file: str
    created: float
    purge_at: float

    def fields(self) -> dict[str, str]:
        return {"id": self.id, "request": self.request, "case": self.case,
                "camera": self.camera, "start": repr(self.start), "end": repr(self.end),
                "size": str(self.size), "sha256": self.sha256, "file": self.file,
                "created": repr(self.created), "purge_at": repr(self.purge_at)}

    @classmethod
    def from_fields(cls, raw: dict[str, str]) -> EvidenceItem:
        return cls(raw["id"], raw["request"], raw.get("case", ""), raw["camera"],
                   float(raw["start"]), float(raw["end"]), int(raw["size"]), raw["sha256"],
                   raw["file"], float(raw["created"]), float(raw["purge_at"]))

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "request": self.request, "case": self.case,
                "camera": self.camera, "start": format_time(self.start),
                "end": format_time(self.end), "size": self.size, "sha256": self.sha256,
                "created": format_time(self.created), "purge_at": format_time(self.purge_at)}


def evidence_id(request_id: str, camera_id: str) -> str:
    return f"ev-{request_id}-{camera_id}"


class EvidenceStore:
    def __init__(self, redis: aredis.Redis, directory: Path, retention: float) -> None:
        self.redis = redis
        self.directory = Path(directory)
        self.retention = retention

    def path(self, item: EvidenceItem) -> Path:
        return self.directory / item.file

    async def write(self, item_id: str, data: bytes) -> tuple[str, str]:
        """Write a clip durably; returns (file name, sha256). Runs the disk work in a thread."""
        name = f"{item_id}.h264"
        digest = hashlib.sha256(data).hexdigest()
        await asyncio.to_thread(self._write_sync, name, data)
        return name, digest

    def _write_sync(self, name: str, data: bytes) -> None:
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = self.directory / f".{name}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self.directory / name)
        dir_fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

    def discard(self, name: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            (self.directory / name).unlink()

    def stage(self, txn: Txn, item: EvidenceItem) -> None:
        txn.expect_exists(keys.evidence(item.id), False)
        txn.hset(keys.evidence(item.id), item.fields())
        txn.op("ZADD", keys.EVIDENCE_ALL, item.purge_at, item.id)

    async def find(self, item_id: str) -> EvidenceItem | None:
        raw = text_map(await self.redis.hgetall(keys.evidence(item_id)))  # type: ignore[misc]
        return EvidenceItem.from_fields(raw) if raw else None

    async def get(self, item_id: str) -> EvidenceItem:
        item = await self.find(item_id)
        if item is None:
            raise NotFound(f"unknown evidence {item_id!r} (or purged)")
        return item

    async def read(self, item: EvidenceItem) -> bytes:
        """The clip's bytes, after checking them against the sha256 recorded at collection."""
        try:
            data = await asyncio.to_thread(self.path(item).read_bytes)
        except FileNotFoundError:
            raise NotFound(f"evidence {item.id!r}: file missing") from None
        if hashlib.sha256(data).hexdigest() != item.sha256:
            raise RtccError(f"evidence {item.id!r}: file does not match its recorded sha256")
        return data

    async def purge_due(self, now: float | None = None) -> list[str]:
        """Purge every clip whose retention has passed; returns their ids."""
        when = time.time() if now is None else now
        due = [text(m) or "" for m in
               await self.redis.zrangebyscore(keys.EVIDENCE_ALL, "-inf", when, start=0, num=100)]
        purged = []
        for item_id in due:
            item = await self.find(item_id)
            if item is None:
                await self.redis.zrem(keys.EVIDENCE_ALL, item_id)
                continue

            async def build(item: EvidenceItem = item) -> tuple[Txn, None]:
                txn = Txn().expect_exists(keys.evidence(item.id))
                txn.op("DEL", keys.evidence(item.id))
                txn.op("ZREM", keys.EVIDENCE_ALL, item.id)
                writer = await begin(self.redis, txn)
                writer.append(SERVICE, "evidence.purged", item.id,
                              {"request": item.request, "case": item.case,
                               "camera": item.camera, "sha256": item.sha256,
                               "size": item.size, "retention_s": self.retention}, now=when)
                txn.after.append(lambda: self.discard(item.file))
                return txn, None

            try:
                await commit(self.redis, build, what=f"purge of {item_id}")
            except NotFound:
                continue
            purged.append(item_id)
            log.info("purged evidence %s (retention %.0fs)", item_id, self.retention)
        return purged

    async def sweep_orphans(self, *, min_age: float = 3600.0, now: float | None = None) -> int:
        """Delete clip files that no index entry refers to (left by a crash between the purge
        batch and the unlink, or between writing a clip and indexing it); returns how many.
        Files younger than ``min_age`` seconds are left alone: they may be about to be indexed
        by another process."""
        when = time.time() if now is None else now

        def listing() -> list[tuple[str, float]]:
            if not self.directory.is_dir():
                return []
            return sorted((p.name, p.stat().st_mtime) for p in self.directory.iterdir())

        removed = 0
        for name, mtime in await asyncio.to_thread(listing):
            if when - mtime < min_age:
                continue
            item_id = name.removesuffix(".h264")
            if name.startswith(".") or not await self.redis.exists(keys.evidence(item_id)):
                self.discard(name)
                removed += 1
        return removed
