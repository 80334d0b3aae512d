"""Policy scenarios (``scenarios/*.toml``): a neighbourhood, who shares what, and for how long.

A policy scenario says which world to use (a world file, or synthesis parameters), which cameras
are live in each phase of a program, how a demonstration runs it (how many cameras to simulate,
the simulated clock) and what a report needs (costs, retention, sweep settings)::

    name = "classroom"
    title = "A small street for a classroom"
    description = "..."

    [world]              # file = "street.geojson" (relative to the scenario), or synthesis:
    households = 40      # rtcc.world.synth.synthesize(households, seed, **rates)
    seed = 7
    camera_rate = 0.4
    live_rate = 0.25

    [[phase]]            # optional; without phases the world's own tiers apply
    name = "pilot"
    days = 45            # simulated days (for the demo and the report's person-time)
    city_live = 5        # how many city cameras are live (city cameras first)
    private_live = 5     # how many private cameras are live (owners who opted in)
    # live_cameras = 1500   alternatively: a total, city cameras first

    [demo]               # for `rtcc demo --scenario NAME`
    cameras = 16         # cameras to simulate, live ones first
    [clock]              # passed to the simulators with [scene] and [camera]
    time_scale = 1440.0  # one simulated day per wall minute

    [report]             # sweep_rates, sweep_seeds, approval_rate, cap_width
    [costs]              # cost inputs for the Surveillance Impact Report (free keys)
    [oversight]          # retention, sharing, legal standard... (free keys)

``[scene]``, ``[clock]``, ``[camera]`` and ``[faults]`` belong to the simulators
(``simulators.scenario``); :meth:`PolicyScenario.sim_toml` hands them over as a scenario file of
their own. Which private cameras go live in a phase is deterministic: owners ranked by a draw
from the scenario's seed (a pilot signs up the first volunteers, not the best-placed cameras).
"""

from __future__ import annotations

import dataclasses
import math
import random
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from rtcc.errors import ScenarioError
from rtcc.world.model import World

SCENARIO_DIR = Path(__file__).resolve().parents[2] / "scenarios"
"""The repository's ``scenarios/`` directory."""

_TOP = ("name", "title", "description", "world", "phase", "demo", "report", "costs",
        "oversight", "scene", "clock", "camera", "faults")
_SIM_TABLES = ("scene", "clock", "camera", "faults")
_SYNTH_KEYS = {"households": int, "seed": int, "live_rate": float, "request_rate": float,
               "registry_rate": float, "camera_rate": float, "floodlight_rate": float,
               "stream_width": int}
_PHASE_KEYS = ("name", "days", "city_live", "private_live", "live_cameras", "note")
_REPORT_KEYS = {"sweep_rates": str, "sweep_seeds": int, "sweep_neighbourhoods": str,
                "approval_rate": float, "cap_width": int, "min_area": float}


@dataclass(frozen=True, slots=True)
class Phase:
    name: str
    days: float | None = None
    city_live: int | None = None
    private_live: int | None = None
    live_cameras: int | None = None
    note: str = ""


@dataclass(frozen=True, slots=True)
class PolicyScenario:
    source: str
    name: str
    title: str = ""
    description: str = ""
    world_file: Path | None = None
    synth: Mapping[str, Any] = field(default_factory=dict)
    phases: tuple[Phase, ...] = ()
    demo_cameras: int = 16
    report: Mapping[str, Any] = field(default_factory=dict)
    costs: Mapping[str, Any] = field(default_factory=dict)
    oversight: Mapping[str, Any] = field(default_factory=dict)
    sim: Mapping[str, Any] = field(default_factory=dict)
    """The simulators' tables as written: ``scene``, ``clock``, ``camera``, ``faults``."""

    @property
    def seed(self) -> int:
        return int(self.synth.get("seed", 0))

    @property
    def time_scale(self) -> float:
        clock = self.sim.get("clock", {})
        return float(clock.get("time_scale", 1.0)) if isinstance(clock, Mapping) else 1.0

    def phase(self, name: str | None) -> Phase | None:
        """The named phase (None: the first, or None when the scenario has no phases)."""
        if name is None:
            return self.phases[0] if self.phases else None
        for ph in self.phases:
            if ph.name == name:
                return ph
        known = ", ".join(p.name for p in self.phases) or "none"
        raise ScenarioError(f"{self.source}: no phase {name!r} (phases: {known})")

    def base_world(self) -> World:
        """The world before any phase selection (file or synthesis)."""
        if self.world_file is not None:
            from rtcc.world.geojson import load_world

            return load_world(self.world_file)
        from rtcc.world.synth import synthesize

        opts = {k: v for k, v in self.synth.items() if k not in ("households", "seed")}
        try:
            return synthesize(int(self.synth["households"]), self.seed, **opts)
        except ValueError as err:
            raise ScenarioError(f"{self.source}: [world]: {err}") from err

    def build_world(self, phase: str | None = None) -> World:
        """The world with the phase's cameras live (every other camera not live)."""
        world = self.base_world()
        ph = self.phase(phase)
        if ph is None:
            return world
        return apply_phase(world, ph, self.seed)

    def demo_camera_ids(self, world: World) -> list[str]:
        """Cameras a demo simulates: live ones first (by id), then the rest, up to the limit."""
        live = sorted(cid for cid in world.cameras if world.camera_consent(cid) == "live")
        rest = sorted(cid for cid in world.cameras if cid not in set(live))
        return (live + rest)[:self.demo_cameras]

    def duration_seconds(self, phase: str | None = None) -> float | None:
        """Wall seconds the phase lasts at the scenario clock's time scale (None: no days)."""
        ph = self.phase(phase)
        if ph is None or ph.days is None:
            return None
        return ph.days * 86400.0 / self.time_scale

    def sim_toml(self) -> str:
        """The simulators' part as a scenario file of its own (simulators.scenario format)."""
        lines = [f"name = {_toml(self.name)}", f"description = {_toml(self.title)}"]
        for table in _SIM_TABLES:
            value = self.sim.get(table)
            if isinstance(value, Mapping) and value:
                lines += _toml_table(table, value)
        return "\n".join(lines) + "\n"


def _toml(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)
    if isinstance(v, list | tuple):
        return "[" + ", ".join(_toml(x) for x in v) + "]"
    if hasattr(v, "isoformat"):
        return v.isoformat()
    s = str(v).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{s}"'


def _toml_table(name: str, table: Mapping[str, Any]) -> list[str]:
    lines = ["", f"[{name}]"]
    subs = []
    for k, v in table.items():
        if isinstance(v, Mapping):
            subs.append((k, v))
        else:
            lines.append(f"{k} = {_toml(v)}")
    for k, v in subs:
        lines += _toml_table(f"{name}.{k}", v)
    return lines


def apply_phase(world: World, phase: Phase, seed: int) -> World:
    """Set tiers so that exactly the phase's cameras are live.

    City cameras go live first, in id order; then residents' and businesses' cameras, owners
    ranked by a seeded draw. A household is ``live`` when one of its cameras is; a formerly live
    camera or household that is not selected drops to ``registry`` (known to the police, not
    shared), other tiers stay as they were.
    """
    city = sorted(cid for cid, c in world.cameras.items() if c.type == "city")
    private = sorted(cid for cid, c in world.cameras.items() if c.type != "city")

    def owner(cid: str) -> str:  # a business camera has no household: it is its own owner
        return world.cameras[cid].household or f"business:{cid}"

    rng = random.Random(f"phase:{seed}")
    rank = {o: rng.random() for o in sorted({owner(c) for c in private})}
    private.sort(key=lambda cid: (rank[owner(cid)], cid))
    if phase.live_cameras is not None:
        n_city = min(len(city), phase.live_cameras)
        n_private = min(len(private), phase.live_cameras - n_city)
    else:
        n_city = min(len(city), phase.city_live or 0)
        n_private = min(len(private), phase.private_live or 0)
    live = set(city[:n_city]) | set(private[:n_private])
    live_households = {world.cameras[c].household for c in live} - {None}
    cams = {}
    for cid, cam in world.cameras.items():
        tier = world.camera_consent(cid)
        if cid in live:
            tier = "live"
        elif tier == "live":
            tier = "registry"
        cams[cid] = dataclasses.replace(cam, consent=tier)
    hh = {}
    for hid, h in world.households.items():
        tier = h.consent
        if hid in live_households:
            tier = "live"
        elif tier == "live":
            tier = "registry"
        hh[hid] = dataclasses.replace(h, consent=tier)
    props = dict(world.properties)
    props["phase"] = phase.name
    return World(world.projection, hh, world.buildings, cams, world.streets,
                 MappingProxyType(props))


# --- loading ---------------------------------------------------------------------------------


def list_scenarios(directory: Path = SCENARIO_DIR) -> list[str]:
    """Names of the policy scenarios in ``directory`` (files with a [world] table)."""
    out = []
    for p in sorted(directory.glob("*.toml")):
        try:
            doc = tomllib.loads(p.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
            continue
        if isinstance(doc.get("world"), Mapping):
            out.append(p.stem)
    return out


def resolve(name_or_path: str, directory: Path = SCENARIO_DIR) -> Path:
    p = Path(name_or_path)
    if p.suffix == ".toml" or p.exists():
        return p
    candidate = directory / f"{name_or_path}.toml"
    if candidate.exists():
        return candidate
    known = ", ".join(list_scenarios(directory)) or "none"
    raise ScenarioError(f"--scenario {name_or_path}: no such scenario (known: {known})")


def load_policy_scenario(name_or_path: str, directory: Path = SCENARIO_DIR) -> PolicyScenario:
    """Read a policy scenario by name (``scenarios/NAME.toml``) or path."""
    path = resolve(name_or_path, directory)
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise ScenarioError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ScenarioError(f"{path}: is a directory, expected a TOML file") from None
    except UnicodeDecodeError as err:
        raise ScenarioError(f"{path}: not UTF-8 text (byte {err.start})") from None
    except OSError as err:
        raise ScenarioError(f"{path}: cannot read ({err.strerror})") from None
    return parse_policy_scenario(text, str(path), base=path.parent)


def parse_policy_scenario(text: str, source: str = "<scenario>", *,
                          base: Path | None = None) -> PolicyScenario:
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ScenarioError(f"{source}: invalid TOML: {err}") from None
    for key in doc:
        if key not in _TOP:
            raise ScenarioError(f"{source}: unknown key {key!r} (known: {', '.join(_TOP)})")
    values: dict[str, Any] = {"source": source}
    for key in ("name", "title", "description"):
        if key in doc:
            values[key] = _str(doc[key], f"{source}: {key}")
    values.setdefault("name", Path(source).stem)
    world = _table(doc, "world", source)
    if not world:
        raise ScenarioError(f"{source}: [world]: missing (give file = ... or households = ...)")
    if "file" in world:
        if set(world) - {"file"}:
            extra = sorted(set(world) - {"file"})[0]
            raise ScenarioError(f"{source}: [world] {extra}: not allowed with file = ...")
        raw = _str(world["file"], f"{source}: [world] file")
        values["world_file"] = base / raw if base is not None and not Path(raw).is_absolute() \
            else Path(raw)
    else:
        values["synth"] = MappingProxyType(_synth(world, source))
    values["phases"] = tuple(_phases(doc.get("phase", []), source))
    demo = _table(doc, "demo", source)
    for key in demo:
        if key != "cameras":
            raise ScenarioError(f"{source}: [demo] {key}: unknown key (known: cameras)")
    if "cameras" in demo:
        values["demo_cameras"] = _int(demo["cameras"], f"{source}: [demo] cameras", 1)
    values["report"] = MappingProxyType(_typed(_table(doc, "report", source), _REPORT_KEYS,
                                               f"{source}: [report]"))
    values["costs"] = MappingProxyType(dict(_table(doc, "costs", source)))
    values["oversight"] = MappingProxyType(dict(_table(doc, "oversight", source)))
    values["sim"] = MappingProxyType({k: doc[k] for k in _SIM_TABLES if k in doc})
    for key in _SIM_TABLES:
        _table(doc, key, source)
    return PolicyScenario(**values)


def _synth(world: Mapping[str, Any], source: str) -> dict[str, Any]:
    if "households" not in world:
        raise ScenarioError(f"{source}: [world] households: missing (or give file = ...)")
    out = _typed(world, _SYNTH_KEYS, f"{source}: [world]")
    if out["households"] < 1:
        raise ScenarioError(f"{source}: [world] households: expected at least 1")
    for key, value in out.items():
        if key.endswith("_rate") and not 0.0 <= value <= 1.0:
            raise ScenarioError(f"{source}: [world] {key}: expected a share between 0 and 1, "
                                f"got {value!r}")
    return out


def _typed(table: Mapping[str, Any], kinds: Mapping[str, type], where: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in table.items():
        if key not in kinds:
            raise ScenarioError(f"{where} {key}: unknown key (known: {', '.join(kinds)})")
        kind = kinds[key]
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or isinstance(value, bool) or (
                isinstance(value, float) and not math.isfinite(value)):
            raise ScenarioError(f"{where} {key}: expected {kind.__name__}, got {value!r}")
        out[key] = value
    return out


def _phases(raw: Any, source: str) -> list[Phase]:
    if not isinstance(raw, list):
        raise ScenarioError(f"{source}: phase: expected [[phase]] tables")
    out: list[Phase] = []
    for i, ph in enumerate(raw):
        where = f"{source}: [[phase]] #{i + 1}"
        if not isinstance(ph, Mapping):
            raise ScenarioError(f"{where}: expected a table")
        for key in ph:
            if key not in _PHASE_KEYS:
                raise ScenarioError(f"{where} {key}: unknown key (known: "
                                    f"{', '.join(_PHASE_KEYS)})")
        if "name" not in ph:
            raise ScenarioError(f"{where} name: missing")
        name = _str(ph["name"], f"{where} name")
        if any(p.name == name for p in out):
            raise ScenarioError(f"{where} name: {name!r} used twice")
        counts = {k: _int(ph[k], f"{where} {k}", 0)
                  for k in ("city_live", "private_live", "live_cameras") if k in ph}
        if "live_cameras" in counts and len(counts) > 1:
            raise ScenarioError(f"{where}: give live_cameras or city_live/private_live, not both")
        days = None
        if "days" in ph:
            d = ph["days"]
            if isinstance(d, bool) or not isinstance(d, int | float) or not 0 < d < 1e5:
                raise ScenarioError(f"{where} days: expected a number of days > 0, got {d!r}")
            days = float(d)
        out.append(Phase(name, days, counts.get("city_live"), counts.get("private_live"),
                         counts.get("live_cameras"), str(ph.get("note", ""))))
    return out


def _table(doc: Mapping[str, Any], key: str, source: str) -> Mapping[str, Any]:
    raw = doc.get(key, {})
    if not isinstance(raw, Mapping):
        raise ScenarioError(f"{source}: {key}: expected a table [{key}]")
    return raw


def _str(raw: Any, where: str) -> str:
    if not isinstance(raw, str):
        raise ScenarioError(f"{where}: expected a string, got {raw!r}")
    return raw


def _int(raw: Any, where: str, minimum: int) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise ScenarioError(f"{where}: expected a whole number, got {raw!r}")
    if raw < minimum:
        raise ScenarioError(f"{where}: expected at least {minimum}, got {raw}")
    return raw

