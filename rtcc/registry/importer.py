"""Import the registry from a world file's consent seeds; export the registry as JSON.

Import rule (idempotent, and never overrides a person): every camera record remembers the tier
the last import proposed (``seed``) and where its current tier came from (``origin``):

* a camera not in the registry yet is created at its seed tier (origin ``seed``);
* a camera whose tier still comes from an import follows a changed seed (origin stays ``seed``);
* a camera whose tier a resident or admin has set since (origin ``user``) keeps that tier; only
  its ``seed`` field and metadata are updated, and the report counts it as ``kept``;
* metadata (household, type, position, optics, source) is refreshed from the file; a source is
  only replaced when the file names one;
* cameras and households missing from the file are left alone (and counted).

Re-importing the same file changes nothing: no version bump, no history entry, no event. The whole
import is one batch (all of it or nothing) with one ``registry.import`` audit entry listing the
tier changes.
"""

from __future__ import annotations

import dataclasses
import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from rtcc import keys
from rtcc.errors import Forbidden
from rtcc.registry.audit import Actor, begin
from rtcc.registry.consent import ConsentRecord, check_tier, format_time
from rtcc.registry.store import (
    CameraInfo,
    ConsentStager,
    HouseholdInfo,
    RegisteredCamera,
    Registry,
    camera_json,
)
from rtcc.registry.txn import Txn, commit
from rtcc.vocabulary import Tier
from rtcc.world.model import World

FORMAT = "rtcc-registry/1"


@dataclass(frozen=True, slots=True)
class CameraSeed:
    info: CameraInfo
    seed: Tier
    """The tier the world file proposes for this camera."""


@dataclass(frozen=True, slots=True)
class ImportReport:
    households: int = 0
    created: int = 0
    seeded: int = 0
    """Existing cameras whose tier followed a changed seed."""
    kept: int = 0
    """Cameras whose tier a person set and the file would change: the person's tier is kept."""
    unchanged: int = 0
    not_in_file: int = 0
    changed: dict[str, tuple[Tier, Tier]] = field(default_factory=dict)
    """camera id -> (old tier, new tier) for every tier the import wrote."""

    def as_json(self) -> dict[str, Any]:
        return {"households": self.households, "created": self.created, "seeded": self.seeded,
                "kept": self.kept, "unchanged": self.unchanged, "not_in_file": self.not_in_file,
                "changed": {k: list(v) for k, v in sorted(self.changed.items())}}


def world_seeds(world: World) -> tuple[list[HouseholdInfo], list[CameraSeed]]:
    """Households and cameras (lon/lat, optics, seed tier) of a world, in file order."""
    households = [HouseholdInfo(h.id, h.residents, h.consent) for h in world.households.values()]
    cams: list[CameraSeed] = []
    for cam in world.cameras.values():
        lon, lat = world.projection.to_lonlat(cam.position.x, cam.position.y)
        source = cam.attributes.get("source")
        info = CameraInfo(
            id=cam.id, household=cam.household, type=cam.type, lon=round(lon, 7),
            lat=round(lat, 7), direction=float(cam.direction), fov=float(cam.fov),
            range=float(cam.range), width=int(cam.width), height=int(cam.height),
            source=source if isinstance(source, str) and source else None,
        )
        cams.append(CameraSeed(info, world.camera_consent(cam)))
    return households, cams


async def import_world(registry: Registry, world: World, *, actor: Actor, source: str = "",
                       digest: str = "", now: float | None = None) -> ImportReport:
    households, cams = world_seeds(world)
    return await import_seeds(registry, households, cams, actor=actor, source=source,
                              digest=digest, now=now)


async def import_seeds(
    registry: Registry,
    households: Sequence[HouseholdInfo],
    cameras: Sequence[CameraSeed],
    *,
    actor: Actor,
    source: str = "",
    digest: str = "",
    now: float | None = None,
) -> ImportReport:
    """Create or refresh households and cameras from seeds (see the module doc for the rule)."""
    if actor.role != "admin":
        raise Forbidden("only an admin may import the registry")
    for c in cameras:
        check_tier(c.seed, f"cameras[{c.info.id}].consent")
    when = time.time() if now is None else now
    redis = registry.redis

    async def build() -> tuple[Txn, ImportReport]:
        existing = {cam.id: cam for cam in await registry.cameras()}
        txn = Txn()
        stager = ConsentStager(txn, await registry.version(), registry.tz)
        for h in households:
            txn.hset(keys.household(h.id), h.fields())
            txn.op("SADD", keys.HOUSEHOLDS, h.id)
        counts = {"created": 0, "seeded": 0, "kept": 0, "unchanged": 0}
        changed: dict[str, tuple[Tier, Tier]] = {}
        for seed in cameras:
            before = existing.get(seed.info.id)
            info = _merged_info(seed.info, before)
            if before is not None and before.household != info.household and before.household:
                txn.op("SREM", keys.household_cameras(before.household), info.id)
            if info.household:
                txn.op("SADD", keys.household_cameras(info.household), info.id)
            txn.op("SADD", keys.CAMERAS, info.id)
            outcome = _stage_camera(txn, stager, before, info, seed.seed, actor, when)
            counts[outcome] += 1
            if outcome in ("created", "seeded"):
                changed[info.id] = (before.consent.tier if before else "none",
                                    seed.seed)
        in_file = {c.info.id for c in cameras}
        report = ImportReport(
            households=len(households), created=counts["created"], seeded=counts["seeded"],
            kept=counts["kept"], unchanged=counts["unchanged"],
            not_in_file=sum(1 for cid in existing if cid not in in_file), changed=changed)
        writer = await begin(redis, txn)
        writer.append(actor, "registry.import", source,
                      {**report.as_json(), "sha256": digest}, now=when)
        return txn, report

    return await commit(redis, build, what="registry import")


def _merged_info(new: CameraInfo, before: RegisteredCamera | None) -> CameraInfo:
    if before is not None and new.source is None and before.info.source:
        return dataclasses.replace(new, source=before.info.source)
    return new


def _stage_camera(txn: Txn, stager: ConsentStager, before: RegisteredCamera | None,
                  info: CameraInfo, seed: Tier, actor: Actor, now: float) -> str:
    """Stage one camera of an import; returns created, seeded, kept or unchanged."""
    if before is None:
        record = ConsentRecord(info.id, info.household, seed, None, None, 0, now, actor.name,
                               seed, "seed")
        stager.change(None, record, kind="import", actor=actor, now=now, info=info)
        return "created"
    c = before.consent
    key = keys.camera(info.id)
    if c.origin == "seed" and c.tier != seed:
        record = ConsentRecord(info.id, info.household, seed, None, None, 0, now, actor.name,
                               seed, "seed")
        stager.change(before, record, kind="import", actor=actor, now=now, info=info)
        return "seeded"
    txn.expect_hget(key, "version", str(c.version))
    meta = {**info.fields(), "seed": seed}
    if meta != {**before.info.fields(), "seed": c.seed}:
        txn.hset(key, meta)
    return "kept" if c.origin == "user" and c.tier != seed else "unchanged"


async def export_registry(registry: Registry, *, history: bool = False,
                          now: float | None = None) -> dict[str, Any]:
    """The whole registry as a JSON-able document (format ``rtcc-registry/1``)."""
    when = time.time() if now is None else now
    cams = await registry.cameras()
    by_household: dict[str, list[str]] = {}
    for cam in cams:
        if cam.household:
            by_household.setdefault(cam.household, []).append(cam.id)
    doc: dict[str, Any] = {
        "format": FORMAT,
        "exported": format_time(when),
        "version": await registry.version(),
        "timezone": str(registry.tz),
        "households": [
            {**dataclasses.asdict(h), "cameras": by_household.get(h.id, [])}
            for h in await registry.households()
        ],
        "cameras": [camera_json(cam, when, registry.tz) for cam in cams],
    }
    if history:
        doc["history"] = [h.as_json() for h in await registry.history()]
    return doc


def file_digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
