"""How often simulated people come and go: rates per hour, shaped over the day.

Every rate is a *mean over the day* in events per hour, per unit given in its name (per resident,
per household, per dog household, per household of the world for passers-by). A 24-value
time-of-day *shape* for each kind of trip redistributes that mean over the hours: the shapes are
normalised to mean 1, so ``rate * 24`` is the expected count per day whatever the shape.

Defaults are deliberately ordinary for a US residential street: about 1.5 outings a day per
resident (morning commute peak), half a visitor and a third of a parcel a day per household
(deliveries only in working hours), a dog in a third of households walked about twice a day
(morning and evening peaks), and foot traffic of passers-by proportional to the neighbourhood's
size. A scenario's ``[scene]`` table overrides any of them (see :mod:`simulators.scenario`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from rtcc.errors import ScenarioError
from rtcc.world.walkways import PASSERS_BY_PER_HOUR

SHAPE_NAMES = ("resident_out", "visitor", "delivery", "dog_walk", "passer_by")

# fmt: off
_DEFAULT_SHAPES: dict[str, tuple[float, ...]] = {
    # hour:        0    1    2    3    4    5    6    7    8    9   10   11
    #             12   13   14   15   16   17   18   19   20   21   22   23
    "resident_out": (0.1, 0.05, 0.05, 0.05, 0.1, 0.4, 1.5, 3.0, 3.0, 1.5, 1.0, 1.0,
                     1.1, 1.0, 1.0, 1.1, 1.2, 1.3, 1.2, 1.0, 0.7, 0.4, 0.2, 0.1),
    "visitor": (0.05, 0.02, 0.02, 0.02, 0.02, 0.05, 0.1, 0.3, 0.5, 0.8, 1.0, 1.2,
                1.3, 1.3, 1.3, 1.4, 1.6, 2.0, 2.2, 2.0, 1.5, 1.0, 0.5, 0.2),
    "delivery": (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.2, 0.8, 1.5, 2.0, 2.2,
                 2.2, 2.2, 2.2, 2.0, 2.0, 1.8, 1.4, 1.0, 0.5, 0.1, 0.0, 0.0),
    "dog_walk": (0.1, 0.0, 0.0, 0.0, 0.0, 0.5, 2.5, 3.0, 1.5, 0.8, 0.6, 0.6,
                 0.8, 0.8, 0.6, 0.6, 1.0, 2.0, 2.5, 2.0, 1.2, 0.8, 0.4, 0.0),
    "passer_by": (0.2, 0.1, 0.1, 0.1, 0.1, 0.3, 0.8, 1.6, 1.8, 1.2, 1.0, 1.1,
                  1.3, 1.3, 1.2, 1.3, 1.6, 1.9, 1.7, 1.3, 1.0, 0.7, 0.5, 0.3),
}
# fmt: on


def _shapes() -> dict[str, tuple[float, ...]]:
    return dict(_DEFAULT_SHAPES)


@dataclass(frozen=True, slots=True)
class SceneRates:
    resident_outings_per_hour: float = 0.0625
    """Outings per resident (each one a walk out and, later, a walk home)."""
    visitors_per_hour: float = 0.02
    """Visitors per household."""
    deliveries_per_hour: float = 0.015
    """Parcel deliveries per household."""
    dog_share: float = 0.35
    """Share of households (with residents) that have a dog to walk."""
    dog_walks_per_hour: float = 0.1
    """Walks per dog household."""
    passers_by_per_hour: float = PASSERS_BY_PER_HOUR
    """Passers-by per household of the world (walkers crossing the area, household null)."""
    walk_speed: float = 1.35
    """Mean walking speed, m/s (each person draws their own around it)."""
    dog_walk_speed: float = 1.0
    delivery_speed: float = 1.6
    visitor_door_wait: tuple[float, float] = (10.0, 60.0)
    """Seconds at the door before being let in (uniform between the two)."""
    brief_visit_share: float = 0.3
    """Share of visitors who only stop at the door (a neighbour, a canvasser) and walk on."""
    visit_minutes: float = 45.0
    """Median minutes a visitor spends inside (log-normal)."""
    delivery_door_wait: tuple[float, float] = (8.0, 40.0)
    dog_walk_metres: tuple[float, float] = (600.0, 2000.0)
    shapes: Mapping[str, tuple[float, ...]] = field(default_factory=_shapes)
    """24 hourly weights per kind of trip (see SHAPE_NAMES)."""

    def shape(self, name: str) -> tuple[float, ...]:
        """The hourly weights of ``name`` normalised to mean 1 (all zeros stay zeros)."""
        raw = self.shapes[name]
        total = sum(raw)
        return tuple(0.0 for _ in raw) if total <= 0 else tuple(24.0 * w / total for w in raw)

    @classmethod
    def from_mapping(cls, table: Mapping[str, Any], source: str = "[scene]") -> SceneRates:
        """Defaults overridden by a scenario's ``[scene]`` table; ScenarioError naming the key."""
        known = {f.name: f for f in dataclasses.fields(cls)}
        values: dict[str, Any] = {}
        for key, raw in table.items():
            where = f"{source} {key}"
            if key == "seed":
                continue  # read by the scenario loader, not a rate
            if key not in known:
                raise ScenarioError(
                    f"{where}: unknown key (known: seed, {', '.join(sorted(known))})")
            if key == "shapes":
                values[key] = _parse_shapes(raw, where)
            elif isinstance(known[key].default, tuple):
                values[key] = _pair(raw, where)
            else:
                values[key] = _number(raw, where, share=key.endswith("_share"))
        return cls(**values)


def _number(raw: Any, where: str, *, share: bool = False) -> float:
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise ScenarioError(f"{where}: expected a number, got {raw!r}")
    value = float(raw)
    if not math.isfinite(value) or value < 0:
        raise ScenarioError(f"{where}: expected a finite number >= 0, got {raw!r}")
    if share and value > 1:
        raise ScenarioError(f"{where}: expected a share between 0 and 1, got {raw!r}")
    if where.endswith("speed") and value == 0:
        raise ScenarioError(f"{where}: a speed must be > 0")
    return value


def _pair(raw: Any, where: str) -> tuple[float, float]:
    if not isinstance(raw, list | tuple) or len(raw) != 2:
        raise ScenarioError(f"{where}: expected [low, high], got {raw!r}")
    lo, hi = (_number(v, f"{where}[{i}]") for i, v in enumerate(raw))
    if lo > hi:
        raise ScenarioError(f"{where}: low {lo:g} is above high {hi:g}")
    return (lo, hi)


def _parse_shapes(raw: Any, where: str) -> dict[str, tuple[float, ...]]:
    if not isinstance(raw, Mapping):
        raise ScenarioError(f"{where}: expected a table of 24-value arrays")
    shapes = _shapes()
    for name, weights in raw.items():
        at = f"{where}.{name}"
        if name not in SHAPE_NAMES:
            raise ScenarioError(f"{at}: unknown shape (known: {', '.join(SHAPE_NAMES)})")
        if not isinstance(weights, list | tuple) or len(weights) != 24:
            raise ScenarioError(f"{at}: expected 24 hourly weights (hour 0 first)")
        shapes[name] = tuple(_number(w, f"{at}[{i}]") for i, w in enumerate(weights))
    return shapes
