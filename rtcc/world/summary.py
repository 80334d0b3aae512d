"""A short description of a world: what ``rtcc world check`` prints when a file is valid.

Besides the counts it gives the world's **camera density**: the cameras a street-view survey
would count (every camera except doorbells and the modelled floodlights on homes: mapped,
business and city cameras) per kilometre of road (``DENSITY_ROADS`` when streets carry an OSM
``highway`` class, else every street), comparable with Sheng, Yao & Goel's street-view estimates
(docs/world.md). Households that share a lot (the dwellings of one building) are counted, and the
lots' area is counted once.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import shapely
from shapely.geometry import LineString

from rtcc.vocabulary import TIERS
from rtcc.world.model import CAMERA_TYPES, Camera, Street, World

DENSITY_ROADS = ("motorway", "trunk", "primary", "secondary", "tertiary", "unclassified",
                 "residential", "living_street", "motorway_link", "trunk_link", "primary_link",
                 "secondary_link", "tertiary_link")
"""The OSM road classes whose length the camera density is counted over (service roads,
driveways, pedestrian zones and paths are left out)."""
SURVEY_RANGE = (0.1, 0.9)
"""Cameras per km of road seen from the street across 16 cities (Sheng, Yao & Goel 2021)."""


def is_modelled(camera: Camera) -> bool:
    """True for a camera an import assumed (``modelled: true``), not one that was mapped."""
    return camera.attributes.get("modelled") is True


def street_visible(camera: Camera) -> bool:
    """A camera a street-view survey would count: not a doorbell, nor a modelled floodlight
    on a home."""
    if camera.type == "doorbell":
        return False
    return not (camera.type == "floodlight" and is_modelled(camera))


def road_km(streets: tuple[Street, ...]) -> float:
    total = 0.0
    for s in streets:
        if s.kind != "street":
            continue
        hw = s.attributes.get("highway")
        if hw is not None and hw not in DENSITY_ROADS:
            continue
        g = s.geometry
        total += g.length if isinstance(g, LineString) else g.length / 2.0
    return total / 1000.0


def summarize(world: World) -> dict[str, Any]:
    """Counts by consent tier and camera type, extent and origin, as plain JSON-able values."""
    homes = world.households.values()
    cams = list(world.cameras.values())
    minx, miny, maxx, maxy = world.bounds()
    corners = world.projection.to_lonlat_coords(
        [(minx, miny), (minx, maxy), (maxx, miny), (maxx, maxy)])
    lots = {h.parcel.wkb: h.parcel for h in homes}
    parcels = shapely.area(list(lots.values())).sum() if lots else 0.0
    shared = Counter(h.parcel.wkb for h in homes)
    km = road_km(world.streets)
    seen = sum(1 for c in cams if street_visible(c))
    seen_mapped = sum(1 for c in cams if street_visible(c) and not is_modelled(c))
    by_type = Counter(c.type for c in cams)
    by_tier = Counter(world.camera_consent(c) for c in cams)
    streets = Counter(s.kind for s in world.streets)
    return {
        "households": {
            "total": len(world.households),
            "by_consent": {t: sum(1 for h in homes if h.consent == t) for t in TIERS},
            "residents": sum(h.residents for h in homes),
            "with_entrance": sum(1 for h in homes if h.entrance is not None),
            "lots": len(lots),
            "sharing_a_lot": sum(n for n in shared.values() if n > 1),
        },
        "cameras": {
            "total": len(cams),
            "by_type": {t: by_type.get(t, 0) for t in CAMERA_TYPES},
            "by_consent": {t: by_tier.get(t, 0) for t in TIERS},
            "without_household": sum(1 for c in cams if c.household is None),
            "modelled": sum(1 for c in cams if is_modelled(c)),
            "street_visible": seen,
        },
        "road_km": round(km, 3),
        "cameras_per_road_km": round(seen / km, 3) if km > 0 else None,
        "mapped_cameras_per_road_km": round(seen_mapped / km, 3) if km > 0 else None,
        "attribution": world.properties.get("attribution"),
        "buildings": len(world.buildings),
        "streets": {"street": streets.get("street", 0), "sidewalk": streets.get("sidewalk", 0)},
        "extent_m": [round(maxx - minx, 1), round(maxy - miny, 1)],
        "area_km2": round((maxx - minx) * (maxy - miny) / 1e6, 4),
        "parcel_area_km2": round(float(parcels) / 1e6, 4),
        "bounds_lonlat": [round(float(v), 7) for v in (corners[:, 0].min(), corners[:, 1].min(),
                                                        corners[:, 0].max(), corners[:, 1].max())],
        "origin": [world.projection.lon0, world.projection.lat0],
    }


def _counts(d: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in d.items())


def format_summary(source: str, s: dict[str, Any]) -> str:
    """The summary as the lines ``rtcc world check`` prints."""
    h, c = s["households"], s["cameras"]
    b = s["bounds_lonlat"]
    lots = (f", {h['sharing_a_lot']} of them sharing a building's lot ({h['lots']} lots)"
            if h["sharing_a_lot"] else "")
    density = s["cameras_per_road_km"]
    lo, hi = SURVEY_RANGE
    density_line = (
        f"  density     {density:>6.2f}  street-visible cameras per km of road "
        f"({c['street_visible']} over {s['road_km']:.1f} km; street-view surveys of 16 cities "
        f"found {lo:g}-{hi:g}, Sheng, Yao & Goel 2021)"
        + (f"; without the modelled ones {s['mapped_cameras_per_road_km']:.2f}"
           if c["modelled"] else "") if density is not None else
        "  density          -  no road to count cameras along")
    lines = [
        f"{source}: valid world",
        f"  households  {h['total']:>6}  by consent: {_counts(h['by_consent'])}",
        f"              {'':>6}  residents {h['residents']}, with entrance {h['with_entrance']}"
        f"{lots}",
        f"  cameras     {c['total']:>6}  by type: {_counts(c['by_type'])}",
        f"              {'':>6}  by consent: {_counts(c['by_consent'])}",
    ]
    if c["modelled"]:
        lines.append(f"              {'':>6}  mapped {c['total'] - c['modelled']}, modelled "
                     f"{c['modelled']} (assumed: doorbells, floodlights, business cameras)")
    lines += [
        f"  buildings   {s['buildings']:>6}",
        f"  streets     {sum(s['streets'].values()):>6}  {_counts(s['streets'])}",
        f"  extent      {s['extent_m'][0]:.0f} m x {s['extent_m'][1]:.0f} m "
        f"({s['area_km2']:.3f} km², parcels {s['parcel_area_km2']:.3f} km²)",
        f"  bounds      lon {b[0]:.6f} .. {b[2]:.6f}, lat {b[1]:.6f} .. {b[3]:.6f}",
        f"  origin      {s['origin'][0]}, {s['origin'][1]}",
        density_line,
    ]
    if s["attribution"]:
        lines.append(f"  data        {s['attribution']}")
    return "\n".join(lines)
