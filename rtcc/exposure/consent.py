"""Who has agreed to what: the consent tiers an exposure analysis runs against.

Three sources, matching the ``rtcc exposure`` flags:

* the world file's seeds (default): each household's ``consent``; each camera takes its own
  ``consent`` when it has one, else its household's, else (no household: a city camera) ``live``;
* a consent file (``--consent FILE``, JSON or TOML): ``{"households": {id: tier},
  "cameras": {id: tier}}``, or the registry's export (a list of camera records with ``id`` and
  ``tier``); anything the file does not name keeps the world's seed;
* the registry (``--registry``): the current tiers of the cameras the registry knows, evaluated
  now (expiry and daily schedules included); a camera the registry does not know is not shared.

A household is *non-consenting* for a stream when it has not opted in to ``live`` itself
(ARCHITECTURE "Consent tiers"). Its own tier is the one its source gives; where a source only
knows cameras (the registry and its export), a household's tier is the widest tier of its own
cameras, or its world seed when it has no camera there.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from rtcc.errors import ConfigError
from rtcc.vocabulary import TIERS, Tier
from rtcc.world.model import World

LIVE: Tier = "live"
_RANK: dict[Tier, int] = {tier: i for i, tier in enumerate(TIERS)}


def widest(tiers: Iterable[Tier]) -> Tier:
    """The most-shared tier among ``tiers`` (``none`` for no tiers)."""
    return max(tiers, key=_RANK.__getitem__, default="none")


@dataclass(frozen=True, slots=True)
class ConsentView:
    """Household and camera tiers for one analysis. Read-only."""

    households: Mapping[str, Tier]
    cameras: Mapping[str, Tier]
    source: str = "world"
    """Where the tiers came from, for reports: ``world``, ``file PATH`` or ``registry``."""
    notes: tuple[str, ...] = field(default=())
    """Things a reader should know (e.g. cameras the registry does not know)."""

    def camera_live(self, camera_id: str) -> bool:
        return self.cameras.get(camera_id) == LIVE

    def consenting(self, household_id: str | None) -> bool:
        """True when the household opted in to ``live`` itself (None: nobody's household)."""
        return household_id is not None and self.households.get(household_id) == LIVE

    def live_cameras(self) -> tuple[str, ...]:
        return tuple(cid for cid, tier in self.cameras.items() if tier == LIVE)

    def replace(self, *, households: Mapping[str, Tier] | None = None,
                cameras: Mapping[str, Tier] | None = None, source: str | None = None
                ) -> ConsentView:
        return ConsentView(
            households=_frozen(households) if households is not None else self.households,
            cameras=_frozen(cameras) if cameras is not None else self.cameras,
            source=self.source if source is None else source,
            notes=self.notes,
        )


def _frozen(mapping: Mapping[str, Tier]) -> Mapping[str, Tier]:
    return MappingProxyType(dict(mapping))


def from_world(world: World) -> ConsentView:
    """The world file's seeds, per the world-file contract."""
    households = {hid: h.consent for hid, h in world.households.items()}
    cameras = {cid: world.camera_consent(cam) for cid, cam in world.cameras.items()}
    return ConsentView(_frozen(households), _frozen(cameras), "world")


def with_camera_tiers(world: World, camera_tiers: Mapping[str, Tier], *, source: str,
                      unknown_cameras: Tier | None = None,
                      household_tiers: Mapping[str, Tier] | None = None,
                      notes: tuple[str, ...] = ()) -> ConsentView:
    """Tiers for the world's cameras from a camera-level source.

    ``unknown_cameras``: the tier of a world camera the source does not name (None: keep the
    world seed). Households take ``household_tiers`` where given, else the widest tier of their
    own cameras in the source, else their world seed.
    """
    base = from_world(world)
    cameras = dict(base.cameras)
    for cid in cameras:
        if cid in camera_tiers:
            cameras[cid] = camera_tiers[cid]
        elif unknown_cameras is not None:
            cameras[cid] = unknown_cameras
    own: dict[str, list[Tier]] = {}
    for cid, cam in world.cameras.items():
        if cam.household is not None and cid in camera_tiers:
            own.setdefault(cam.household, []).append(camera_tiers[cid])
    households = dict(base.households)
    for hid in households:
        if household_tiers is not None and hid in household_tiers:
            households[hid] = household_tiers[hid]
        elif hid in own:
            households[hid] = widest(own[hid])
    return ConsentView(_frozen(households), _frozen(cameras), source, notes)


# --- consent files ---------------------------------------------------------------------------


def _tier(value: Any, where: str, path: str) -> Tier:
    if not isinstance(value, str) or value not in TIERS:
        raise ConfigError(
            f"--consent {path}: {where}: unknown consent tier {value!r} "
            f"(expected one of {', '.join(TIERS)})")
    return value


def _parse_file(path: Path) -> Any:
    try:
        raw = path.read_bytes()
    except IsADirectoryError:
        raise ConfigError(f"--consent {path}: is a directory, expected a JSON or TOML file"
                          ) from None
    except OSError as err:
        raise ConfigError(f"--consent {path}: cannot read ({err.strerror})") from err
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        raise ConfigError(f"--consent {path}: not UTF-8 text (byte {err.start})") from err
    if path.suffix.lower() == ".toml":
        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as err:
            raise ConfigError(f"--consent {path}: invalid TOML: {err}") from err
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise ConfigError(f"--consent {path}: invalid JSON at line {err.lineno} column "
                          f"{err.colno}: {err.msg}") from err


REGISTRY_FORMAT = "rtcc-registry/"
"""Prefix of the ``format`` of ``rtcc registry export`` documents, accepted as consent files."""


def load_consent_file(world: World, path: str | Path) -> ConsentView:
    """Read ``--consent FILE``; every problem is a ConfigError naming the file and entry.

    A registry export (``format: rtcc-registry/1``) is read like ``--registry``: cameras take
    their effective ``tier``, cameras the export does not list are not shared, and registry
    cameras that are not in the world are noted, not refused.
    """
    path = Path(path)
    doc = _parse_file(path)
    shown = str(path)
    if isinstance(doc, Mapping) and str(doc.get("format", "")).startswith(REGISTRY_FORMAT):
        return _registry_export(world, doc, shown)
    if isinstance(doc, Mapping) and ("cameras" in doc or "households" in doc):
        unknown = sorted(set(doc) - {"cameras", "households"})
        if unknown:
            raise ConfigError(f"--consent {shown}: unknown top-level key {unknown[0]!r} "
                              "(expected 'households' and/or 'cameras')")
        cams_doc, hh_doc = doc.get("cameras", {}), doc.get("households", {})
    elif isinstance(doc, list):
        cams_doc, hh_doc = doc, {}
    else:
        raise ConfigError(f"--consent {shown}: expected an object with 'households' and/or "
                          "'cameras', or a list of camera records")
    camera_tiers = _section(cams_doc, "cameras", shown, world.cameras)
    household_tiers = _section(hh_doc, "households", shown, world.households)
    return with_camera_tiers(world, camera_tiers, source=f"file {shown}",
                             household_tiers=household_tiers)


def _section(doc: Any, name: str, path: str, known: Mapping[str, Any]) -> dict[str, Tier]:
    """A mapping id -> tier, or a list of records ``{"id": ..., "tier"|"consent": ...}``."""
    out: dict[str, Tier] = {}
    if isinstance(doc, Mapping):
        items = [(f"{name}.{key}", key, value) for key, value in doc.items()]
    elif isinstance(doc, list):
        items = []
        for i, rec in enumerate(doc):
            if not isinstance(rec, Mapping) or not isinstance(rec.get("id"), str):
                raise ConfigError(f"--consent {path}: {name}[{i}]: expected an object with a "
                                  "string 'id'")
            field_name = "tier" if "tier" in rec else "consent"
            items.append((f"{name}[{i}] (id {rec['id']!r}).{field_name}", rec["id"],
                          rec.get(field_name)))
    else:
        raise ConfigError(f"--consent {path}: {name}: expected an object mapping ids to tiers")
    kind = name[:-1]
    for where, key, value in items:
        if key not in known:
            raise ConfigError(f"--consent {path}: {where}: no {kind} {key!r} in the world")
        if key in out:
            raise ConfigError(f"--consent {path}: {where}: {kind} {key!r} listed twice")
        out[key] = _tier(value, where, path)
    return out


def _registry_export(world: World, doc: Mapping[str, Any], shown: str) -> ConsentView:
    cams = doc.get("cameras")
    if not isinstance(cams, list):
        raise ConfigError(f"--consent {shown}: cameras: expected a list of camera records")
    tiers: dict[str, Tier] = {}
    for i, rec in enumerate(cams):
        if not isinstance(rec, Mapping) or not isinstance(rec.get("id"), str):
            raise ConfigError(f"--consent {shown}: cameras[{i}]: expected an object with a "
                              "string 'id'")
        tiers[rec["id"]] = _tier(rec.get("tier"), f"cameras[{i}] (id {rec['id']!r}).tier",
                                 shown)
    return registry_view(world, tiers, source=f"registry export {shown}")


def registry_view(world: World, camera_tiers: Mapping[str, Tier], *, source: str) -> ConsentView:
    """Tiers from the registry: cameras it does not know are not shared (``none``)."""
    stray = sorted(set(camera_tiers) - set(world.cameras))
    missing = sorted(set(world.cameras) - set(camera_tiers))
    notes: list[str] = []
    if stray:
        notes.append(f"{len(stray)} registry camera(s) are not in this world and were ignored "
                     f"(e.g. {stray[0]})")
    if missing:
        notes.append(f"{len(missing)} camera(s) of the world are not in the registry and count "
                     f"as not shared (e.g. {missing[0]})")
    known = {cid: tier for cid, tier in camera_tiers.items() if cid in world.cameras}
    return with_camera_tiers(world, known, source=source, unknown_cameras="none",
                             notes=tuple(notes))


async def from_registry(world: World, redis: Any, *, now: float | None = None) -> ConsentView:
    """The registry's current tiers (expiry applied) from the state Redis ``redis``."""
    import time

    from rtcc.registry.consent import effective_tier
    from rtcc.registry.store import Registry

    when = time.time() if now is None else now
    cams = await Registry(redis).cameras()
    tiers = {cam.id: effective_tier(cam.consent, when) for cam in cams}
    return registry_view(world, tiers, source="registry")


def tiers_from_records(records: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """camera id -> tier from registry-style records (``id`` and ``tier``)."""
    return {str(r["id"]): str(r["tier"]) for r in records if "id" in r and "tier" in r}
