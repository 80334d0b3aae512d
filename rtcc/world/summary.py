"""A short description of a world: what ``rtcc world check`` prints when a file is valid."""

from __future__ import annotations

from collections import Counter
from typing import Any

import shapely

from rtcc.vocabulary import TIERS
from rtcc.world.model import CAMERA_TYPES, World


def summarize(world: World) -> dict[str, Any]:
    """Counts by consent tier and camera type, extent and origin, as plain JSON-able values."""
    homes = world.households.values()
    cams = list(world.cameras.values())
    minx, miny, maxx, maxy = world.bounds()
    corners = world.projection.to_lonlat_coords(
        [(minx, miny), (minx, maxy), (maxx, miny), (maxx, maxy)])
    parcels = shapely.area([h.parcel for h in homes]).sum() if world.households else 0.0
    by_type = Counter(c.type for c in cams)
    by_tier = Counter(world.camera_consent(c) for c in cams)
    streets = Counter(s.kind for s in world.streets)
    return {
        "households": {
            "total": len(world.households),
            "by_consent": {t: sum(1 for h in homes if h.consent == t) for t in TIERS},
            "residents": sum(h.residents for h in homes),
            "with_entrance": sum(1 for h in homes if h.entrance is not None),
        },
        "cameras": {
            "total": len(cams),
            "by_type": {t: by_type.get(t, 0) for t in CAMERA_TYPES},
            "by_consent": {t: by_tier.get(t, 0) for t in TIERS},
            "without_household": sum(1 for c in cams if c.household is None),
        },
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
    return "\n".join([
        f"{source}: valid world",
        f"  households  {h['total']:>6}  by consent: {_counts(h['by_consent'])}",
        f"              {'':>6}  residents {h['residents']}, with entrance {h['with_entrance']}",
        f"  cameras     {c['total']:>6}  by type: {_counts(c['by_type'])}",
        f"              {'':>6}  by consent: {_counts(c['by_consent'])}",
        f"  buildings   {s['buildings']:>6}",
        f"  streets     {sum(s['streets'].values()):>6}  {_counts(s['streets'])}",
        f"  extent      {s['extent_m'][0]:.0f} m x {s['extent_m'][1]:.0f} m "
        f"({s['area_km2']:.3f} km², parcels {s['parcel_area_km2']:.3f} km²)",
        f"  bounds      lon {b[0]:.6f} .. {b[2]:.6f}, lat {b[1]:.6f} .. {b[3]:.6f}",
        f"  origin      {s['origin'][0]}, {s['origin'][1]}",
    ])
