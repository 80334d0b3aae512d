"""The area of a footage request: a GeoJSON Polygon or a point and radius. Pure.

Areas arrive in WGS84 lon/lat and are measured in a local transverse Mercator frame centred on the
area (:class:`rtcc.world.geo.LocalProjection`), which is exact to far better than the precision a
request needs. The size must lie in the configured range (DOMAIN.md, Ring's request model: 0.025 to
0.5 square miles). A camera is in the area when its position is (boundary included).

Accepted JSON (``area`` of a request)::

    {"type": "Polygon", "coordinates": [[[lon, lat], ...]]}       # GeoJSON geometry
    {"type": "Feature", "geometry": {"type": "Polygon", ...}}   # or a Feature wrapping one
    {"point": [lon, lat], "radius_m": 200}                      # a circle
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from shapely.geometry import Point, Polygon
from shapely.validation import explain_validity

from rtcc.errors import InvalidInput
from rtcc.world.geo import LocalProjection

SQ_MILE_M2 = 1609.344**2
"""Square metres in a square mile (2,589,988.110336)."""
MAX_VERTICES = 1000


@dataclass(frozen=True, slots=True)
class Area:
    geojson: dict[str, Any]
    """The area as given (normalised: a bare geometry or the point/radius form)."""
    projection: LocalProjection
    shape: Polygon | None
    center: tuple[float, float] | None
    radius_m: float | None
    area_m2: float

    @property
    def square_miles(self) -> float:
        return self.area_m2 / SQ_MILE_M2

    def contains(self, lon: float, lat: float) -> bool:
        x, y = self.projection.to_local(lon, lat)
        if self.radius_m is not None:
            return math.hypot(x, y) <= self.radius_m
        assert self.shape is not None
        return bool(self.shape.covers(Point(x, y)))

    def local_shape(self) -> Polygon:
        """The area in its local metres (a circle as a 128-gon)."""
        if self.radius_m is not None:
            return Point(0.0, 0.0).buffer(self.radius_m, quad_segs=32)
        assert self.shape is not None
        return self.shape

    def lonlat_bounds(self) -> tuple[float, float, float, float]:
        """(west, south, east, north) of the area in degrees."""
        minx, miny, maxx, maxy = self.local_shape().bounds
        corners = [self.projection.to_lonlat(x, y) for x in (minx, maxx) for y in (miny, maxy)]
        lons, lats = [c[0] for c in corners], [c[1] for c in corners]
        return min(lons), min(lats), max(lons), max(lats)

    def overlap(self, west: float, south: float, east: float, north: float) -> float:
        """The fraction (0 to 1) of a lon/lat box that lies in the area."""
        steps = 8  # the box's edges are curves in the local frame: sample them
        ring = ([(west + (east - west) * i / steps, south) for i in range(steps)]
                + [(east, south + (north - south) * i / steps) for i in range(steps)]
                + [(east - (east - west) * i / steps, north) for i in range(steps)]
                + [(west, north - (north - south) * i / steps) for i in range(steps)])
        cell = Polygon([self.projection.to_local(lon, lat) for lon, lat in ring])
        if cell.area <= 0:
            return 0.0
        return float(cell.intersection(self.local_shape()).area / cell.area)


def _lonlat(value: object, field: str) -> tuple[float, float]:
    if (not isinstance(value, list | tuple) or len(value) != 2
            or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)):
        raise InvalidInput(f"{field}: expected a [lon, lat] pair of numbers", field)
    lon, lat = float(value[0]), float(value[1])
    if not (math.isfinite(lon) and math.isfinite(lat)) or not (-180 <= lon <= 180) or not (
            -85 <= lat <= 85):
        raise InvalidInput(f"{field}: [{lon}, {lat}] is not a longitude/latitude", field)
    return lon, lat


def parse_area(raw: object, *, min_sq_mi: float, max_sq_mi: float) -> Area:
    """Validate a request area; InvalidInput names the field (``area.coordinates[0][3]``...)."""
    if not isinstance(raw, dict):
        raise InvalidInput("area must be a GeoJSON Polygon or {\"point\": [lon, lat], "
                           "\"radius_m\": metres}", "area")
    if raw.get("type") == "Feature":
        raw = raw.get("geometry")
        if not isinstance(raw, dict):
            raise InvalidInput("area: the Feature has no geometry", "area.geometry")
    if "point" in raw or "radius_m" in raw:
        area = _circle(raw)
    elif raw.get("type") == "Polygon":
        area = _polygon(raw)
    else:
        raise InvalidInput(f"area: unsupported type {raw.get('type')!r} (expected a Polygon or "
                           "point and radius_m)", "area.type")
    sq_mi = area.square_miles
    if not min_sq_mi <= sq_mi <= max_sq_mi:
        raise InvalidInput(f"area is {sq_mi:.4f} square miles; a request must cover "
                           f"{min_sq_mi:g} to {max_sq_mi:g} square miles", "area")
    return area


def _circle(raw: dict[str, Any]) -> Area:
    lon, lat = _lonlat(raw.get("point"), "area.point")
    radius = raw.get("radius_m")
    if (not isinstance(radius, int | float) or isinstance(radius, bool)
            or not math.isfinite(radius) or radius <= 0):
        raise InvalidInput("area.radius_m: expected a positive number of metres",
                           "area.radius_m")
    proj = LocalProjection(lon, lat)
    return Area({"point": [lon, lat], "radius_m": float(radius)}, proj, None, (lon, lat),
                float(radius), math.pi * float(radius) ** 2)


def _polygon(raw: dict[str, Any]) -> Area:
    rings = raw.get("coordinates")
    if not isinstance(rings, list) or not rings or not isinstance(rings[0], list):
        raise InvalidInput("area.coordinates: expected a list of linear rings",
                           "area.coordinates")
    parsed: list[list[tuple[float, float]]] = []
    for r, ring in enumerate(rings):
        field = f"area.coordinates[{r}]"
        if not isinstance(ring, list) or len(ring) < 4:
            raise InvalidInput(f"{field}: a ring needs at least 4 positions", field)
        if len(ring) > MAX_VERTICES:
            raise InvalidInput(f"{field}: more than {MAX_VERTICES} positions", field)
        pts = [_lonlat(p, f"{field}[{i}]") for i, p in enumerate(ring)]
        if pts[0] != pts[-1]:
            raise InvalidInput(f"{field}: the ring is not closed (first and last positions "
                               "differ)", field)
        parsed.append(pts)
    outer = parsed[0]
    lon0 = sum(p[0] for p in outer[:-1]) / (len(outer) - 1)
    lat0 = sum(p[1] for p in outer[:-1]) / (len(outer) - 1)
    proj = LocalProjection(lon0, lat0)
    local = [[proj.to_local(lon, lat) for lon, lat in ring] for ring in parsed]
    shape = Polygon(local[0], local[1:])
    if not shape.is_valid:
        raise InvalidInput(f"area: invalid polygon ({explain_validity(shape)})",
                           "area.coordinates")
    geo = {"type": "Polygon", "coordinates": [[list(p) for p in ring] for ring in parsed]}
    return Area(geo, proj, shape, None, None, float(shape.area))
