"""What my camera sees, before I decide: the exposure analyzer's answer for one camera.

For one of the resident's cameras, from the world file ``rtcc serve`` draws (``--world``):

* its visibility polygon and the detail bands inside it (:mod:`rtcc.exposure.static`,
  :mod:`rtcc.exposure.bands`), in lon/lat for the map;
* the neighbours it would put on the wall if it were live: the same households, lot areas and
  front-door detail levels as ``rtcc exposure`` gives for that camera (one camera analysed with
  the same code), each placed in words (distance and direction) and numbered, never with their
  consent choice;
* how many passers-by a day walk through its view (:mod:`rtcc.exposure.footfall`);
* how many of the neighbours in view have not agreed to live video, only as the police view
  counts choices within a group the reader can name: a number only when it leaves every
  neighbour's choice open (from ``k`` up to ``in view - k``), else "fewer than k", "more than
  n - k", or nothing for fewer than ``2k`` neighbours
  (:meth:`rtcc.registry.police_view.Audience.count_among`).

The world, its household index and the passers-by routes are loaded once per process on a worker
thread, on first use; one camera's analysis (tens of milliseconds) runs on a worker thread too.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import shapely
from shapely.geometry.base import BaseGeometry

from rtcc.errors import NotFound, RtccError
from rtcc.exposure.consent import ConsentView
from rtcc.exposure.footfall import Footfall
from rtcc.exposure.results import BANDS
from rtcc.exposure.static import analyze, prepare, visibility
from rtcc.home import words
from rtcc.registry.police_view import Audience
from rtcc.web.mapgeometry import geojson_geometry
from rtcc.world.geo import unproject_geometry
from rtcc.world.model import World

MIN_BAND_M2 = 1.0
"""Square metres of a lot a band must cover for the lot to count as seen at that band."""


@dataclass(frozen=True, slots=True)
class Neighbourhood:
    """The world of ``rtcc serve`` with what the analysis of one camera needs, built once."""

    world: World
    views: Mapping[str, BaseGeometry]
    """Every camera's visibility polygon, computed as ``rtcc exposure`` computes them: in one
    batch for the whole world (a camera's polygon computed alone may differ by a few square
    centimetres, enough to move a household across the 1 m² rule)."""
    footfall: Footfall

    @classmethod
    def load(cls, path: Path) -> Neighbourhood:
        """Blocking: read the world file, compute its views and lay out its passers-by routes."""
        from rtcc.world.geojson import load_world

        world = load_world(path)
        return cls(world, visibility(world), Footfall(world))


class Sights:
    """The process's :class:`Neighbourhood`, loaded on first use (a world may be large)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._loaded: Neighbourhood | None = None
        self._error: str | None = None
        self._lock = asyncio.Lock()

    async def neighbourhood(self) -> Neighbourhood:
        async with self._lock:
            if self._loaded is None and self._error is None:
                if self.path is None:
                    self._error = "no world file: start rtcc serve with --world FILE"
                else:
                    try:
                        self._loaded = await asyncio.to_thread(Neighbourhood.load, self.path)
                    except RtccError as err:
                        self._error = str(err).splitlines()[0]
        if self._loaded is None:
            raise NotFound(f"the map of the neighbourhood is not available ({self._error})")
        return self._loaded


def _lonlat(world: World, geom: BaseGeometry) -> dict[str, Any]:
    return geojson_geometry(unproject_geometry(world.projection, geom))


def _bearing(dx: float, dy: float) -> float:
    return math.degrees(math.atan2(dx, dy)) % 360.0


def camera_sees(place: Neighbourhood, camera_id: str, consent: ConsentView,
                audience: Audience) -> dict[str, Any]:
    """Blocking: the answer for one camera (see the module docstring)."""
    world = place.world
    cam = world.cameras.get(camera_id)
    if cam is None:
        raise NotFound(f"camera {camera_id!r} is not on the map of the neighbourhood")
    prepared = prepare(world, cameras={camera_id: cam},
                       views={camera_id: place.views[camera_id]})
    result = analyze(world, consent, prepared=prepared, breakdown_by=())
    exposure = result.cameras[0]
    view = prepared.views[camera_id]
    cumulative = {band: prepared.cumulative[band][0] for band in BANDS}
    bands = []
    for band in reversed(BANDS):  # coarse first: the finer ones are drawn over them
        area = float(cumulative[band].area)
        if area <= 0:
            continue
        bands.append({"band": band, "short": words.BAND_SHORT[band],
                      "words": words.BAND_WORDS[band],
                      "area_m2": round(float(exposure.area_by_band_m2[band]), 1),
                      "geometry": _lonlat(world, cumulative[band])})
    cx, cy = cam.xy
    found: list[tuple[float, float, dict[str, Any]]] = []
    for seen in exposure.in_view:
        if seen.household == cam.household:
            continue
        home = world.households[seen.household]
        lot = home.parcel
        lot_band = None
        for band in BANDS:  # finest first
            if float(shapely.area(shapely.intersection(cumulative[band], lot))) >= MIN_BAND_M2:
                lot_band = band
                break
        door = home.entrance if seen.entrance_band is not None else None
        target = door if door is not None else lot.representative_point()
        dx, dy = target.x - cx, target.y - cy
        found.append((math.hypot(dx, dy), _bearing(dx, dy), {
            "household": seen.household,
            "lot_m2": round(seen.parcel_m2, 1),
            "lot_share": round(seen.parcel_m2 / lot.area, 3) if lot.area > 0 else 0.0,
            "lot_band": lot_band,
            "lot_words": words.BAND_WORDS[lot_band] if lot_band else None,
            "door_band": seen.entrance_band,
            "door_words": words.BAND_WORDS[seen.entrance_band] if seen.entrance_band else None,
            "parcel": _lonlat(world, lot),
            "door": list(world.projection.to_lonlat(door.x, door.y)) if door is not None
            else None,
        }))
    found.sort(key=lambda f: (f[0], f[2]["household"]))
    neighbours = []
    for i, (metres, bearing, n) in enumerate(found, start=1):
        neighbours.append({"n": i, "place": words.place(i, metres, bearing),
                           "metres": round(metres, 1), "bearing": round(bearing), **n})
    others = [s for s in exposure.in_view if s.household != cam.household]
    count = audience.count_among(sum(1 for s in others if not s.consenting), len(others))
    footfall = place.footfall.camera(view)
    own = next((s for s in exposure.in_view if s.household == cam.household), None)
    return {
        "camera": camera_id,
        "lonlat": list(world.projection.to_lonlat(cx, cy)),
        "view": _lonlat(world, view),
        "view_m2": round(exposure.visible_area_m2, 1),
        "own_lot_m2": round(own.parcel_m2, 1) if own is not None else 0.0,
        "outside_own_m2": round(exposure.spillover_m2 or 0.0, 1),
        "bands": bands,
        "households": list(exposure.households_in_view),
        "neighbours": neighbours,
        "not_agreed": count,
        "not_agreed_words": words.not_agreed(count, audience.k, len(others)),
        "passers_by_per_day": round(footfall.per_day, 1),
        "passers_by_words": words.passers_by(footfall.per_day),
        "explain": words.SEES_EXPLAIN,
        "k": audience.k,
    }
