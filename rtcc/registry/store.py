"""Households, their cameras and each camera's consent, with the full history of changes.

Redis layout (durable ``state`` server; names in :mod:`rtcc.keys`):

* ``keys.camera(id)`` hash: the camera's metadata (:class:`CameraInfo`) and consent record
  (:class:`~rtcc.registry.consent.ConsentRecord`) side by side;
* ``keys.CAMERAS`` / ``keys.HOUSEHOLDS`` sets, ``keys.household(id)`` hash,
  ``keys.household_cameras(id)`` set;
* ``keys.CONSENT_HISTORY`` stream: one entry per consent change (set, revoke, import, expired);
* ``keys.CONSENT_VERSION`` counter, ``keys.CONSENT_BOUNDARIES`` sorted set (next expiry or schedule
  edge per camera, for the service).

A consent change is one guarded batch (:mod:`rtcc.registry.txn`): the camera record, the history
entry, the version bump, the boundary, the audit entry and the published event, all or nothing.
Who may change what is decided here too (:func:`authorize_consent`), so the API and the CLI
enforce the same rules.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from datetime import UTC, tzinfo
from typing import Any

import redis.asyncio as aredis

from rtcc import keys
from rtcc.errors import Forbidden, InvalidInput, NotFound
from rtcc.logs import redact_url
from rtcc.registry import events
from rtcc.registry.audit import Actor, AuditWriter, begin, begin_at, parse_head
from rtcc.registry.consent import (
    ConsentRecord,
    effective_tier,
    format_time,
    is_live,
    next_change,
    stored_tier,
    validate_change,
)
from rtcc.registry.events import ConsentEvent
from rtcc.registry.txn import Txn, commit, text, text_map
from rtcc.vocabulary import Tier

_INFO_FIELDS = ("type", "lon", "lat", "direction", "fov", "range", "width", "height", "source")


@dataclass(frozen=True, slots=True)
class CameraInfo:
    """What the registry knows about a camera besides its consent."""

    id: str
    household: str | None
    type: str = "doorbell"
    lon: float = 0.0
    lat: float = 0.0
    direction: float = 0.0
    fov: float = 160.0
    range: float = 30.0
    width: int = 1920
    height: int = 1080
    source: str | None = None
    """Where the hub gets the stream: an RTSP URL, ``whip``, or None (not configured)."""

    def fields(self) -> dict[str, str]:
        return {
            "id": self.id, "household": self.household or "", "type": self.type,
            "lon": repr(self.lon), "lat": repr(self.lat), "direction": repr(self.direction),
            "fov": repr(self.fov), "range": repr(self.range), "width": str(self.width),
            "height": str(self.height), "source": self.source or "",
        }

    @classmethod
    def from_fields(cls, raw: dict[str, str]) -> CameraInfo:
        return cls(
            id=raw["id"], household=raw.get("household") or None, type=raw.get("type", ""),
            lon=float(raw.get("lon") or 0), lat=float(raw.get("lat") or 0),
            direction=float(raw.get("direction") or 0), fov=float(raw.get("fov") or 0),
            range=float(raw.get("range") or 0), width=int(raw.get("width") or 0),
            height=int(raw.get("height") or 0), source=raw.get("source") or None,
        )


@dataclass(frozen=True, slots=True)
class RegisteredCamera:
    info: CameraInfo
    consent: ConsentRecord

    @property
    def id(self) -> str:
        return self.info.id

    @property
    def household(self) -> str | None:
        return self.info.household


@dataclass(frozen=True, slots=True)
class HouseholdInfo:
    id: str
    residents: int = 0
    seed: Tier = "none"
    """The household's consent seed from the world file."""

    def fields(self) -> dict[str, str]:
        return {"id": self.id, "residents": str(self.residents), "seed": self.seed}

    @classmethod
    def from_fields(cls, raw: dict[str, str]) -> HouseholdInfo:
        return cls(raw["id"], int(raw.get("residents") or 0), stored_tier(raw, "seed"))


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    id: str
    """The stream entry id (``<ms>-<n>``)."""
    ts: float
    camera: str
    household: str | None
    kind: str
    tier: str
    prev_tier: str
    expires: float | None
    schedule: str | None
    actor: str
    role: str
    reason: str
    version: int

    def as_json(self) -> dict[str, Any]:
        return {
            "ts": format_time(self.ts), "camera": self.camera, "household": self.household,
            "kind": self.kind, "tier": self.tier, "prev_tier": self.prev_tier,
            "expires": format_time(self.expires), "schedule": self.schedule,
            "actor": self.actor, "role": self.role, "reason": self.reason,
            "version": self.version,
        }


def authorize_consent(actor: Actor, camera: RegisteredCamera) -> None:
    """Residents change only their own household's cameras; admins any; nobody else."""
    if actor.role == "admin":
        return
    if actor.role == "resident":
        if actor.household and camera.household == actor.household:
            return
        raise Forbidden(f"camera {camera.id!r} belongs to another household")
    raise Forbidden(f"role {actor.role or 'unknown'} may not change consent")


def camera_json(cam: RegisteredCamera, now: float, tz: tzinfo, *, police: bool = False
                ) -> dict[str, Any]:
    """A camera as the API shows it. ``police``: only what the police may know (location,
    optics, tier), without household, owner names or the stream source."""
    c, i = cam.consent, cam.info
    out: dict[str, Any] = {
        "id": i.id, "type": i.type, "lon": i.lon, "lat": i.lat, "direction": i.direction,
        "fov": i.fov, "range": i.range, "tier": effective_tier(c, now),
        "live_now": is_live(c, now, tz),
    }
    if police:
        return out
    out.update({
        "household": i.household, "width": i.width, "height": i.height,
        "source": redact_url(i.source) if i.source else None, "set_tier": c.tier,
        "expires": format_time(c.expires), "schedule": c.schedule,
        "next_change": format_time(next_change(c, now, tz)), "version": c.version,
        "updated": format_time(c.updated) if c.updated else None,
        "updated_by": c.updated_by, "seed": c.seed, "origin": c.origin,
    })
    return out


class ConsentStager:
    """Stages consent changes into one batch: version bumps, records, history, boundaries and
    events, chaining versions when a batch changes several cameras (an import)."""

    def __init__(self, txn: Txn, version: int, tz: tzinfo) -> None:
        self.txn, self.version, self.tz = txn, version, tz
        txn.expect_get(keys.CONSENT_VERSION, str(version) if version else None)

    def change(
        self,
        before: RegisteredCamera | None,
        after: ConsentRecord,
        *,
        kind: str,
        actor: Actor,
        reason: str = "",
        now: float,
        info: CameraInfo | None = None,
    ) -> ConsentEvent:
        """Write ``after`` (a record without its version yet) as the camera's new consent."""
        self.version += 1
        record = dataclasses.replace(after, version=self.version)
        key = keys.camera(record.camera)
        if before is not None:
            self.txn.expect_hget(key, "version", str(before.consent.version))
        fields = record.fields()
        if info is not None:
            fields.update(info.fields())
        self.txn.hset(key, fields)
        self.txn.op("SET", keys.CONSENT_VERSION, self.version)
        prev = before.consent.tier if before is not None else "none"
        self.txn.op(
            "XADD", keys.CONSENT_HISTORY, "*",
            "ts", repr(now), "camera", record.camera, "household", record.household or "",
            "kind", kind, "tier", record.tier, "prev_tier", prev,
            "expires", "" if record.expires is None else repr(record.expires),
            "schedule", record.schedule or "", "actor", actor.name, "role", actor.role,
            "reason", reason, "version", self.version,
        )
        stage_boundary(self.txn, record, now, self.tz)
        event = ConsentEvent(self.version, kind, record.camera, now,
                             is_live(record, now, self.tz), record)
        events.stage(self.txn, event)
        return event


def stage_boundary(txn: Txn, record: ConsentRecord, now: float, tz: tzinfo) -> float | None:
    """Schedule (or clear) the camera's next self-change for the service."""
    nxt = next_change(record, now, tz)
    if nxt is None:
        txn.op("ZREM", keys.CONSENT_BOUNDARIES, record.camera)
    else:
        txn.op("ZADD", keys.CONSENT_BOUNDARIES, nxt, record.camera)
    return nxt


class Registry:
    """Reads and consent changes against one state Redis."""

    def __init__(self, redis: aredis.Redis, *, tz: tzinfo = UTC) -> None:
        self.redis = redis
        self.tz = tz

    # --- reads ---------------------------------------------------------------------------------

    async def version(self) -> int:
        return int(text(await self.redis.get(keys.CONSENT_VERSION)) or 0)

    async def find(self, camera_id: str) -> RegisteredCamera | None:
        if not camera_id or "{" in camera_id or "}" in camera_id:
            return None
        raw = text_map(await self.redis.hgetall(keys.camera(camera_id)))  # type: ignore[misc]
        return _camera(raw) if raw else None

    async def get(self, camera_id: str) -> RegisteredCamera:
        cam = await self.find(camera_id)
        if cam is None:
            raise NotFound(f"unknown camera {camera_id!r}")
        return cam

    async def cameras(self, household: str | None = None) -> list[RegisteredCamera]:
        key = keys.household_cameras(household) if household else keys.CAMERAS
        ids = sorted(text(m) or "" for m in await self.redis.smembers(key))  # type: ignore[misc]
        return await self._load(ids)

    async def _load(self, ids: list[str]) -> list[RegisteredCamera]:
        out: list[RegisteredCamera] = []
        for start in range(0, len(ids), 500):
            async with self.redis.pipeline(transaction=False) as pipe:
                for cid in ids[start:start + 500]:
                    pipe.hgetall(keys.camera(cid))
                rows = await pipe.execute()
            out += [_camera(text_map(r)) for r in rows if r]
        return out

    async def household(self, household_id: str) -> HouseholdInfo:
        raw = text_map(await self.redis.hgetall(keys.household(household_id)))  # type: ignore[misc]
        if not raw:
            raise NotFound(f"unknown household {household_id!r}")
        return HouseholdInfo.from_fields(raw)

    async def households(self) -> list[HouseholdInfo]:
        ids = sorted(text(m) or "" for m in await self.redis.smembers(keys.HOUSEHOLDS))  # type: ignore[misc]
        async with self.redis.pipeline(transaction=False) as pipe:
            for hid in ids:
                pipe.hgetall(keys.household(hid))
            rows = await pipe.execute()
        return [HouseholdInfo.from_fields(text_map(r)) for r in rows if r]

    async def history(
        self, camera_id: str | None = None, *, household: str | None = None
    ) -> list[HistoryEntry]:
        """Consent changes, oldest first, optionally for one camera or household."""
        out: list[HistoryEntry] = []
        last = "-"
        while True:
            chunk = await self.redis.xrange(keys.CONSENT_HISTORY, min=last, count=1000) or []
            for entry_id, raw_fields in chunk:
                h = _history(text(entry_id) or "", text_map(raw_fields or {}))
                if (camera_id is None or h.camera == camera_id) and (
                        household is None or h.household == household):
                    out.append(h)
            if len(chunk) < 1000:
                return out
            last = "(" + (text(chunk[-1][0]) or "")

    # --- changes -------------------------------------------------------------------------------

    async def set_consent(
        self,
        camera_id: str,
        tier: object,
        *,
        actor: Actor,
        expires: object = None,
        schedule: object = None,
        reason: str = "",
        now: float | None = None,
    ) -> RegisteredCamera:
        """Set a camera's tier (with optional expiry and schedule) on behalf of ``actor``."""
        when = time.time() if now is None else now
        if not isinstance(reason, str) or len(reason) > 500:
            raise InvalidInput("reason must be text of at most 500 characters", "reason")

        async def build() -> tuple[Txn, RegisteredCamera]:
            cam, version, head = await self._read_for_change(camera_id)
            authorize_consent(actor, cam)
            new_tier, new_expires, new_schedule = validate_change(
                tier, expires, schedule, when, self.tz)
            kind = "revoke" if new_tier == "none" else "set"
            return self._stage_change(cam, version, head, new_tier, new_expires, new_schedule,
                                      kind, actor, reason, when)

        return await commit(self.redis, build, what=f"consent change of {camera_id}")

    async def revoke(
        self, camera_id: str, *, actor: Actor, reason: str = "", now: float | None = None
    ) -> RegisteredCamera:
        """Withdraw all consent (tier ``none``, no expiry, no schedule)."""
        return await self.set_consent(camera_id, "none", actor=actor, reason=reason, now=now)

    async def _read_for_change(self, camera_id: str
                               ) -> tuple[RegisteredCamera, int, tuple[int, str]]:
        """The camera, the registry version and the audit head, in one round trip."""
        if not camera_id or "{" in camera_id or "}" in camera_id:
            raise NotFound(f"unknown camera {camera_id!r}")
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hgetall(keys.camera(camera_id))
            pipe.get(keys.CONSENT_VERSION)
            pipe.hmget(keys.AUDIT_HEAD, ["seq", "hash"])
            raw, version, head = await pipe.execute()
        if not raw:
            raise NotFound(f"unknown camera {camera_id!r}")
        return _camera(text_map(raw)), int(text(version) or 0), parse_head(head)

    def _stage_change(
        self, cam: RegisteredCamera, version: int, head: tuple[int, str], tier: Tier,
        expires: float | None, schedule: str | None, kind: str, actor: Actor, reason: str,
        now: float,
    ) -> tuple[Txn, RegisteredCamera]:
        c = cam.consent
        txn = Txn()
        if (c.tier, c.expires, c.schedule, c.origin) == (tier, expires, schedule, "user"):
            txn.expect_hget(keys.camera(cam.id), "version", str(c.version))
            return txn, cam  # nothing changes: no history, no event, no audit entry
        stager = ConsentStager(txn, version, self.tz)
        after = ConsentRecord(cam.id, cam.household, tier, expires, schedule, 0, now,
                              actor.name, c.seed, "user")
        event = stager.change(cam, after, kind=kind, actor=actor, reason=reason, now=now)
        writer = begin_at(txn, head)
        audit_consent(writer, actor, cam, event, reason)
        return txn, RegisteredCamera(cam.info, event.record)

    async def set_source(self, camera_id: str, source: str | None, *, actor: Actor
                         ) -> RegisteredCamera:
        """Set where the hub gets this camera's stream (admin only)."""
        if actor.role != "admin":
            raise Forbidden("only an admin may set a camera's source")
        if source is not None and source != "whip" and not source.startswith(
                ("rtsp://", "rtsps://", "http://", "https://")):
            raise InvalidInput("source must be an rtsp:// or http(s):// URL, or whip", "source")

        async def build() -> tuple[Txn, RegisteredCamera]:
            cam = await self.get(camera_id)
            txn = Txn().expect_exists(keys.camera(camera_id))
            txn.hset(keys.camera(camera_id), {"source": source or ""})
            writer = await begin(self.redis, txn)
            writer.append(actor, "camera.source", camera_id,
                          {"source": redact_url(source) if source else None})
            info = dataclasses.replace(cam.info, source=source)
            return txn, RegisteredCamera(info, cam.consent)

        return await commit(self.redis, build, what=f"source of {camera_id}")


def audit_consent(writer: AuditWriter, actor: Actor, cam: RegisteredCamera,
                  event: ConsentEvent, reason: str) -> None:
    r = event.record
    writer.append(
        actor, "consent.revoked" if r.tier == "none" else "consent.set", cam.id,
        {"household": cam.household, "tier": r.tier, "prev_tier": cam.consent.tier,
         "expires": format_time(r.expires), "schedule": r.schedule, "reason": reason,
         "version": r.version},
        now=event.ts,
    )


def _camera(raw: dict[str, str]) -> RegisteredCamera:
    return RegisteredCamera(CameraInfo.from_fields(raw), ConsentRecord.from_fields(raw))


def _history(entry_id: str, raw: dict[str, str]) -> HistoryEntry:
    return HistoryEntry(
        id=entry_id, ts=float(raw.get("ts") or 0), camera=raw.get("camera", ""),
        household=raw.get("household") or None, kind=raw.get("kind", ""),
        tier=raw.get("tier", ""), prev_tier=raw.get("prev_tier", ""),
        expires=float(raw["expires"]) if raw.get("expires") else None,
        schedule=raw.get("schedule") or None, actor=raw.get("actor", ""),
        role=raw.get("role", ""), reason=raw.get("reason", ""),
        version=int(raw.get("version") or 0),
    )
