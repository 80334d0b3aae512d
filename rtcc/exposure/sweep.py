"""Opt-in-rate sweeps: consent leakage as more households put their cameras on the wall.

For every seed, the geometry is computed once (the world file's, a world synthesized with that
seed, or one fixed synthesized neighbourhood), and every household draws one uniform number u;
at opt-in rate r a household is ``live`` when u < r, and its cameras with it. The same u across
rates (common random numbers) makes each seed's curve monotone in r, so the spread across seeds is
the spread of neighbourhoods and draws, not noise between neighbouring rates. Cameras without a
household (city and business cameras) keep their own tier. Per (rate, seed): leakage, exposed
and non-consenting households, live cameras, the mean number of live streams per household and
(optionally) the share of sidewalk inside some live detect band.

Work is spread over worker processes (``spawn``: no forked locks), one task per seed; a progress
bar on stderr counts rate x seed points.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from multiprocessing import get_context
from typing import Any, TextIO

import numpy as np
import shapely

from rtcc.errors import ConfigError
from rtcc.exposure.bands import cut_at_band
from rtcc.exposure.coverage import covered_parts
from rtcc.exposure.static import DEFAULT_MIN_AREA, HouseholdIndex, in_view_pairs, visibility
from rtcc.world.model import World


@dataclass(frozen=True, slots=True)
class SweepSpec:
    rates: tuple[float, ...]
    seeds: tuple[int, ...]
    world_path: str | None = None
    """Fixed geometry from this world file; else ``households`` synthesized per seed."""
    households: int | None = None
    synth_options: dict[str, Any] = field(default_factory=dict)
    world_seed: int | None = None
    """With ``households``: synthesize one neighbourhood with this seed for every draw (the
    seeds then only vary who opts in); None: a new neighbourhood per seed."""
    min_area: float = DEFAULT_MIN_AREA
    coverage: bool = True

    def __post_init__(self) -> None:
        if (self.world_path is None) == (self.households is None):
            raise ConfigError("sweep: give either a world file or --households N")
        if not self.rates or any(not 0.0 <= r <= 1.0 for r in self.rates):
            raise ConfigError("--rates: opt-in rates must lie between 0 and 1")
        if not self.seeds:
            raise ConfigError("--seeds: at least one seed")


def parse_rates(text: str) -> tuple[float, ...]:
    """``0:1:21`` (start:stop:count, inclusive) or ``0,0.1,0.5``."""
    try:
        if ":" in text:
            a, b, n = text.split(":")
            count = int(n)
            if count < 1:
                raise ValueError("count must be >= 1")
            return tuple(float(x) for x in np.linspace(float(a), float(b), count).round(10))
        return tuple(float(x) for x in text.split(","))
    except ValueError as err:
        raise ConfigError(f"--rates {text!r}: expected START:STOP:COUNT or a comma list "
                          f"({err})") from None


@dataclass(frozen=True, slots=True)
class Geometry:
    """What a sweep needs of one world, computed once per seed."""

    n_households: int
    cam_owner: np.ndarray
    """Household position of each camera, -1 for cameras without a household."""
    cam_fixed_live: np.ndarray
    """Cameras without a household that are live whatever the rate (city cameras)."""
    pair_cam: np.ndarray
    pair_hh: np.ndarray
    detect: list[Any]
    sidewalks: list[Any]
    sidewalk_m: float


def geometry(world: World, min_area: float, coverage: bool) -> Geometry:
    cam_ids = list(world.cameras)
    views = visibility(world)
    hidx = HouseholdIndex.of(world)
    pairs = in_view_pairs(world, cam_ids, [views[c] for c in cam_ids], min_area, index=hidx)
    pos = {hid: i for i, hid in enumerate(hidx.ids)}
    owner = np.array([pos.get(world.cameras[c].household or "", -1) for c in cam_ids],
                     dtype=np.int64)
    fixed = np.array([world.cameras[c].household is None and world.camera_consent(c) == "live"
                      for c in cam_ids], dtype=bool)
    detect: list[Any] = []
    sidewalks = [s.geometry for s in world.streets
                 if s.kind == "sidewalk" and shapely.get_dimensions(s.geometry) == 1]
    if coverage and sidewalks:
        detect = list(cut_at_band([world.cameras[c] for c in cam_ids],
                                  [views[c] for c in cam_ids], "detect"))
    return Geometry(len(hidx.ids), owner, fixed, pairs.cam, pairs.hh, detect, sidewalks,
                    float(sum(g.length for g in sidewalks)))


def evaluate(geo: Geometry, u: np.ndarray, rate: float) -> dict[str, Any]:
    """Figures of one draw: households with u < rate are live, and their cameras."""
    live_h = u < rate
    live_c = geo.cam_fixed_live.copy()
    own = geo.cam_owner >= 0
    live_c[own] = live_h[geo.cam_owner[own]]
    exposed = np.zeros(geo.n_households, dtype=bool)
    seen = live_c[geo.pair_cam]
    exposed[geo.pair_hh[seen]] = True
    streams = np.bincount(geo.pair_hh[seen], minlength=geo.n_households)
    non = ~live_h
    n_non = int(non.sum())
    exp_non = int((exposed & non).sum())
    row: dict[str, Any] = {
        "households": geo.n_households,
        "live_households": int(live_h.sum()),
        "live_cameras": int(live_c.sum()),
        "non_consenting": n_non,
        "exposed_non_consenting": exp_non,
        "consent_leakage": exp_non / n_non if n_non else None,
        "mean_streams": float(streams.mean()) if geo.n_households else 0.0,
    }
    if geo.detect:
        polys = [geo.detect[i] for i in np.flatnonzero(live_c).tolist()]
        parts = covered_parts(geo.sidewalks, polys)
        covered = sum(p.length for p in parts if p is not None)
        row["trackability"] = covered / geo.sidewalk_m if geo.sidewalk_m > 0 else None
    return row


def _world_for(spec: SweepSpec, seed: int) -> World:
    if spec.world_path is not None:
        from rtcc.world.geojson import load_world

        return load_world(spec.world_path)
    from rtcc.world.synth import synthesize

    assert spec.households is not None
    world_seed = seed if spec.world_seed is None else spec.world_seed
    return synthesize(spec.households, world_seed, **spec.synth_options)


_FIXED: dict[tuple[Any, ...], Geometry] = {}
"""A worker's geometry of a fixed world, computed once per process and reused by seeds."""


def run_seed(spec: SweepSpec, seed: int) -> list[dict[str, Any]]:
    """Every rate for one seed (the unit of work of a worker process)."""
    if spec.world_path is not None or spec.world_seed is not None:
        key = (spec.world_path, spec.households, spec.world_seed,
               tuple(sorted(spec.synth_options.items())), spec.min_area, spec.coverage)
        if key not in _FIXED:
            _FIXED.clear()
            _FIXED[key] = geometry(_world_for(spec, seed), spec.min_area, spec.coverage)
        geo = _FIXED[key]
    else:
        geo = geometry(_world_for(spec, seed), spec.min_area, spec.coverage)
    u = np.random.default_rng(seed).random(geo.n_households)
    return [{"rate": r, "seed": seed, **evaluate(geo, u, r)} for r in spec.rates]


class Progress:
    """A one-line progress bar on a terminal; a line per 10 % otherwise (logs, CI)."""

    def __init__(self, total: int, label: str, stream: TextIO | None = None,
                 enabled: bool = True) -> None:
        self.total, self.label, self.done = total, label, 0
        self.stream = sys.stderr if stream is None else stream
        self.enabled = enabled
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.start = time.monotonic()
        self._last_decile = -1

    def advance(self, n: int) -> None:
        self.done += n
        if not self.enabled:
            return
        frac = self.done / self.total if self.total else 1.0
        elapsed = time.monotonic() - self.start
        eta = elapsed / frac - elapsed if frac > 0 else math.inf
        text = (f"{self.label} [{'#' * int(frac * 30):<30}] {self.done}/{self.total} "
                f"{elapsed:5.1f}s elapsed, {eta:5.1f}s left")
        if self.tty:
            self.stream.write("\r" + text + ("\n" if self.done >= self.total else ""))
        elif int(frac * 10) > self._last_decile:
            self._last_decile = int(frac * 10)
            self.stream.write(text + "\n")
        self.stream.flush()


@dataclass(frozen=True, slots=True)
class SweepResult:
    spec: SweepSpec
    rows: tuple[dict[str, Any], ...]
    seconds: float
    workers: int

    def by_rate(self, key: str = "consent_leakage") -> list[dict[str, Any]]:
        """Per rate: median, quartiles, min and max of ``key`` across seeds."""
        out = []
        for r in self.spec.rates:
            vals = np.array([row[key] for row in self.rows
                             if row["rate"] == r and row.get(key) is not None], dtype=float)
            if len(vals) == 0:
                out.append({"rate": r, "n": 0, "median": None, "q1": None, "q3": None,
                            "min": None, "max": None})
                continue
            q1, med, q3 = np.percentile(vals, [25, 50, 75])
            out.append({"rate": r, "n": int(len(vals)), "median": float(med), "q1": float(q1),
                        "q3": float(q3), "min": float(vals.min()), "max": float(vals.max())})
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "rates": list(self.spec.rates), "seeds": list(self.spec.seeds),
            "world": self.spec.world_path, "households": self.spec.households,
            "world_seed": self.spec.world_seed,
            "min_area_m2": self.spec.min_area, "workers": self.workers,
            "seconds": self.seconds,
            "leakage_by_rate": self.by_rate("consent_leakage"),
            "trackability_by_rate": (self.by_rate("trackability") if self.spec.coverage
                                     else []),
            "rows": list(self.rows),
        }


def run_sweep(spec: SweepSpec, *, workers: int | None = None, progress: bool = True,
              stream: TextIO | None = None,
              on_seed: Callable[[int], None] | None = None) -> SweepResult:
    """Run every seed (in ``workers`` processes; 1 = in this process) and collect the rows."""
    n_workers = max(1, min(workers or os.cpu_count() or 1, len(spec.seeds)))
    bar = Progress(len(spec.rates) * len(spec.seeds), "sweep", stream, enabled=progress)
    start = time.monotonic()
    rows: list[dict[str, Any]] = []
    if n_workers == 1:
        for seed in spec.seeds:
            rows.extend(run_seed(spec, seed))
            bar.advance(len(spec.rates))
            if on_seed:
                on_seed(seed)
    else:
        with ProcessPoolExecutor(n_workers, mp_context=get_context("spawn")) as pool:
            futures = {pool.submit(run_seed, spec, seed): seed for seed in spec.seeds}
            for fut in as_completed(futures):
                rows.extend(fut.result())
                bar.advance(len(spec.rates))
                if on_seed:
                    on_seed(futures[fut])
    rows.sort(key=lambda r: (r["rate"], r["seed"]))
    return SweepResult(spec, tuple(rows), time.monotonic() - start, n_workers)


def summarise(rows: Sequence[dict[str, Any]]) -> str:
    """A short text table of median leakage per rate (for the CLI)."""
    rates = sorted({r["rate"] for r in rows})
    lines = [f"{'opt-in rate':>11}  {'leakage median':>14}  {'min':>6}  {'max':>6}"]
    for rate in rates:
        vals = [r["consent_leakage"] for r in rows
                if r["rate"] == rate and r["consent_leakage"] is not None]
        if not vals:
            lines.append(f"{rate:>11.2f}  {'n/a':>14}")
            continue
        lines.append(f"{rate:>11.2f}  {float(np.median(vals)):>14.3f}  {min(vals):>6.3f}  "
                     f"{max(vals):>6.3f}")
    return "\n".join(lines)
