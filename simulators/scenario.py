"""Scenario files: a TOML description of a simulation run (scene rates, clock, camera stream).

    name = "default"
    world = "street.geojson"          # optional; relative to the scenario file

    [scene]                            # rtcc.simulators.rates.SceneRates, plus the seed
    seed = 1
    visitors_per_hour = 0.02
    [scene.shapes]                     # optional 24 hourly weights per kind of trip
    delivery = [0, 0, 0, ...]

    [clock]
    time_scale = 60.0                  # one wall second = one simulated minute
    start = 2026-06-01T07:00:00        # TOML local datetime (or an ISO string)

    [camera]
    width = 640
    height = 360
    fps = 10.0
    gop_seconds = 1.0
    bitrate = 400000                   # optional, bit/s (average rate, also the cap)
    qp = 23                            # optional, constant quantiser (instead of a bitrate)

    [faults]                           # read by simulators.faults; kept here as given

Every key of the tables read here is checked: an unknown key or a bad value raises
:class:`rtcc.errors.ScenarioError` naming the file, the table and the key. Scenario files are
shared with other parts of rtcc (``rtcc report`` reads ``title``, a ``[world]`` table of synthesis
parameters and ``[[phase]]`` tables): top-level entries this module does not own are kept in
``Scenario.extra`` and otherwise ignored, unless they look like a misspelling of one it owns
(``[scnee]``), which is an error. ``scenarios/default.toml`` spells out every default.
"""

from __future__ import annotations

import difflib
import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from types import MappingProxyType
from typing import Any

from rtcc.errors import ScenarioError
from simulators.clock import SimClock
from simulators.rates import SceneRates

TOP_LEVEL = ("name", "description", "world", "scene", "clock", "camera", "faults")
_CAMERA_KEYS = ("width", "height", "fps", "gop_seconds", "bitrate", "qp")
_CLOCK_KEYS = ("time_scale", "start")


@dataclass(frozen=True, slots=True)
class Scenario:
    source: str
    name: str = "unnamed"
    description: str = ""
    world: Path | None = None
    seed: int = 0
    rates: SceneRates = field(default_factory=SceneRates)
    time_scale: float = 1.0
    start: datetime | None = None
    """Simulated datetime at the start of the run; None = now, in real time."""
    width: int = 640
    height: int = 360
    fps: float = 10.0
    gop_seconds: float = 1.0
    bitrate: int | None = None
    qp: int | None = None
    """Constant quantiser for live rendering; None: the simulator's default (see
    ``simulators.camera.LIVE_QP``), unless a bitrate is set."""
    faults: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    """The ``[faults]`` table as written (parsed by the fault injector)."""
    extra: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    """Top-level entries owned by other readers of scenario files, as written."""

    def clock(self, *, wall_origin: float | None = None) -> SimClock:
        return SimClock(self.time_scale, self.start, wall_origin=wall_origin)


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario file."""
    p = Path(path)
    try:
        text = p.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise ScenarioError(f"{p}: no such file") from None
    except IsADirectoryError:
        raise ScenarioError(f"{p}: is a directory, expected a TOML file") from None
    except UnicodeDecodeError as err:
        raise ScenarioError(f"{p}: not UTF-8 text (byte {err.start})") from None
    except OSError as err:
        raise ScenarioError(f"{p}: cannot read ({err.strerror})") from None
    return parse_scenario(text, str(p), base=p.parent)


def parse_scenario(text: str, source: str = "<scenario>", *, base: Path | None = None
                   ) -> Scenario:
    """Validate scenario TOML ``text``; ``base`` resolves a relative ``world`` path."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ScenarioError(f"{source}: invalid TOML: {err}") from None
    extra: dict[str, Any] = {}
    for key in doc:
        if key in TOP_LEVEL:
            continue
        close = difflib.get_close_matches(key, TOP_LEVEL, n=1, cutoff=0.75)
        if close:
            raise ScenarioError(f"{source}: unknown key {key!r} (did you mean {close[0]!r}?)")
        extra[key] = doc[key]
    values: dict[str, Any] = {"source": source, "extra": MappingProxyType(extra)}
    for key in ("name", "description"):
        if key in doc:
            values[key] = _string(doc[key], f"{source}: {key}")
    if isinstance(doc.get("world"), Mapping):
        extra["world"] = doc["world"]  # synthesis parameters, for rtcc report / demo
    elif "world" in doc:
        raw = _string(doc["world"], f"{source}: world")
        values["world"] = (base / raw) if base is not None and not Path(raw).is_absolute() \
            else Path(raw)
    scene = _table(doc, "scene", source)
    if "seed" in scene:
        values["seed"] = _int(scene["seed"], f"{source}: [scene] seed", minimum=0)
    values["rates"] = SceneRates.from_mapping(scene, f"{source}: [scene]")
    clock = _table(doc, "clock", source)
    _known(clock, _CLOCK_KEYS, f"{source}: [clock]")
    if "time_scale" in clock:
        values["time_scale"] = _positive(clock["time_scale"], f"{source}: [clock] time_scale")
    if "start" in clock:
        values["start"] = _datetime(clock["start"], f"{source}: [clock] start")
    cam = _table(doc, "camera", source)
    _known(cam, _CAMERA_KEYS, f"{source}: [camera]")
    for key in ("width", "height"):
        if key in cam:
            value = _int(cam[key], f"{source}: [camera] {key}", minimum=16)
            if value % 2:
                raise ScenarioError(f"{source}: [camera] {key}: must be even (yuv420p), "
                                    f"got {value}")
            values[key] = value
    if "fps" in cam:
        values["fps"] = _positive(cam["fps"], f"{source}: [camera] fps", maximum=120.0)
    if "gop_seconds" in cam:
        values["gop_seconds"] = _positive(cam["gop_seconds"], f"{source}: [camera] gop_seconds",
                                          maximum=2.0)
    if "bitrate" in cam:
        values["bitrate"] = _int(cam["bitrate"], f"{source}: [camera] bitrate", minimum=10_000)
    if "qp" in cam:
        if "bitrate" in cam:
            raise ScenarioError(f"{source}: [camera] qp: give a bitrate or a qp, not both")
        values["qp"] = _int(cam["qp"], f"{source}: [camera] qp", minimum=0)
        if values["qp"] > 51:
            raise ScenarioError(f"{source}: [camera] qp: expected at most 51, got {cam['qp']}")
    values["faults"] = MappingProxyType(dict(_table(doc, "faults", source)))
    return Scenario(**values)


def _table(doc: Mapping[str, Any], key: str, source: str) -> Mapping[str, Any]:
    raw = doc.get(key, {})
    if not isinstance(raw, Mapping):
        raise ScenarioError(f"{source}: {key}: expected a table [{key}]")
    return raw


def _known(table: Mapping[str, Any], known: tuple[str, ...], where: str) -> None:
    for key in table:
        if key not in known:
            raise ScenarioError(f"{where} {key}: unknown key (known: {', '.join(known)})")


def _string(raw: Any, where: str) -> str:
    if not isinstance(raw, str):
        raise ScenarioError(f"{where}: expected a string, got {raw!r}")
    return raw


def _int(raw: Any, where: str, *, minimum: int) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise ScenarioError(f"{where}: expected an integer, got {raw!r}")
    if raw < minimum:
        raise ScenarioError(f"{where}: expected at least {minimum}, got {raw}")
    return raw


def _positive(raw: Any, where: str, *, maximum: float = math.inf) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise ScenarioError(f"{where}: expected a number, got {raw!r}")
    if not (math.isfinite(raw) and 0 < raw <= maximum):
        bound = f" and <= {maximum:g}" if math.isfinite(maximum) else ""
        raise ScenarioError(f"{where}: expected a number > 0{bound}, got {raw!r}")
    return float(raw)


def _datetime(raw: Any, where: str) -> datetime:
    if isinstance(raw, datetime):
        return raw
    if isinstance(raw, date):
        return datetime.combine(raw, time())
    if isinstance(raw, str):
        try:
            return datetime.fromisoformat(raw)
        except ValueError:
            pass
    raise ScenarioError(f"{where}: expected a date-time such as 2026-06-01T07:00:00, got {raw!r}")
