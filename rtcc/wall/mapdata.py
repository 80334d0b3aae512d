"""The neighbourhood map for the browser: the world as GeoJSON in lon/lat (RFC 7946).

The wall draws its map from this document: parcels (coloured by their household's consent tier as
the registry has it now), buildings, streets and sidewalks, camera points and each camera's
visibility polygon (``rtcc.world.visibility``: field of view cut by buildings), and the density
of request-tier cameras per fixed grid cell. Geometry is computed once per world
(:class:`MapGeometry`, CPU work: build it in an executor); the consent properties are filled in
per request so the map always shows the current registry, and what each viewer may see of it is
decided by :mod:`rtcc.registry.police_view` (the police: parcels without tier, residents or id;
no ``none`` or ``request`` camera on its own, only the density).

Pure: no I/O besides what the caller passes in.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from shapely.geometry import mapping
from shapely.geometry.base import BaseGeometry

from rtcc.registry.police_view import Audience, density_cells
from rtcc.vocabulary import Tier
from rtcc.world.model import World

Bounds = tuple[float, float, float, float]

COORD_DIGITS = 7
"""1e-7 degree is about 1 cm: plenty for a map and it keeps the document small."""


def _lonlat(world: World, geom: BaseGeometry) -> dict[str, Any]:
    return dict(mapping(world.projection.unproject(geom)))


def _rounded(doc: Any) -> Any:
    """Round coordinates in a GeoJSON geometry (tuples from shapely) to COORD_DIGITS."""
    if isinstance(doc, float):
        return round(doc, COORD_DIGITS)
    if isinstance(doc, (list, tuple)):
        return [_rounded(v) for v in doc]
    if isinstance(doc, dict):
        return {k: _rounded(v) for k, v in doc.items()}
    return doc


@dataclass(frozen=True, slots=True)
class MapGeometry:
    """The static part of the map: every feature's geometry in lon/lat, computed once."""

    households: tuple[tuple[str, dict[str, Any], int], ...]
    """(household id, parcel geometry, residents)."""
    buildings: tuple[tuple[str, dict[str, Any]], ...]
    streets: tuple[tuple[str, str, dict[str, Any]], ...]
    """(street id, kind, geometry)."""
    cameras: tuple[tuple[str, dict[str, Any], dict[str, Any] | None, dict[str, Any]], ...]
    """(camera id, point, view polygon or None, static properties)."""
    bounds: Bounds
    """(west, south, east, north) in degrees of parcels, buildings and streets."""
    camera_bounds: dict[str, Bounds]
    """Each camera's point and view polygon: the map's box grows only by cameras it shows."""
    attribution: str | None = None
    """The map data's credit line (an imported world's ``© OpenStreetMap contributors``)."""


def build_geometry(world: World,
                   views: Mapping[str, BaseGeometry] | None = None) -> MapGeometry:
    """Project the world (and the cameras' visibility polygons, local metres) to lon/lat."""
    views = views or {}
    households = tuple(
        (h.id, _rounded(_lonlat(world, h.parcel)), h.residents)
        for h in sorted(world.households.values(), key=lambda h: h.id)
    )
    buildings = tuple((b.id, _rounded(_lonlat(world, b.footprint))) for b in world.buildings)
    streets = tuple((s.id, s.kind, _rounded(_lonlat(world, s.geometry))) for s in world.streets)
    cameras = []
    for cam in sorted(world.cameras.values(), key=lambda c: c.id):
        view = views.get(cam.id)
        props = {
            "household": cam.household,
            "type": cam.type,
            "direction": cam.direction,
            "fov": cam.fov,
            "range": cam.range,
        }
        cameras.append((
            cam.id,
            _rounded(_lonlat(world, cam.position)),
            _rounded(_lonlat(world, view)) if view is not None and not view.is_empty else None,
            props,
        ))
    # The bbox from the projected coordinates themselves: a box in metres is not a box in degrees.
    geoms = [g for _, g, _ in households] + [g for _, g in buildings] + [g for *_, g in streets]
    camera_bounds = {}
    for cid, point, view, _props in cameras:
        camera_bounds[cid] = _bounds([point] if view is None else [point, view])
    credit = world.properties.get("attribution")
    return MapGeometry(households, buildings, streets, tuple(cameras), _bounds(geoms),
                       camera_bounds, credit if isinstance(credit, str) and credit else None)


def _bounds(geoms: list[dict[str, Any]]) -> Bounds:
    lons: list[float] = []
    lats: list[float] = []
    for geom in geoms:
        for lon, lat in _points(geom["coordinates"]):
            lons.append(lon)
            lats.append(lat)
    return (min(lons), min(lats), max(lons), max(lats)) if lons else (0.0, 0.0, 0.0, 0.0)


def _union(a: Bounds, b: Bounds) -> Bounds:
    if a == (0.0, 0.0, 0.0, 0.0):
        return b
    return (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))


def _points(coords: Any) -> Any:
    if coords and isinstance(coords[0], (int, float)):
        yield coords
        return
    for c in coords:
        yield from _points(c)


def map_document(geometry: MapGeometry, audience: Audience, *,
                 household_tier: Callable[[str], Tier], camera_tier: Callable[[str], Tier],
                 camera_live: Callable[[str], bool]) -> dict[str, Any]:
    """The map as ``audience`` may see it, as a GeoJSON FeatureCollection with the consent state
    of right now.

    Feature ``properties.kind`` is ``household`` (with ``id``, ``tier`` and ``residents`` only
    for those who may see them), ``building``, ``street`` (``class`` street or sidewalk),
    ``view`` (a camera's visibility polygon, with ``camera`` and ``live``), ``camera`` (with
    ``tier`` and ``live``) or ``request_density`` (a fixed grid cell with ``count``: request-tier
    cameras in it, "fewer than k" below k for the police). Views come before cameras so a client
    drawing in order puts camera markers on top; cameras the audience may not see on their own
    are absent, views included."""
    features: list[dict[str, Any]] = []
    for hid, geom, residents in geometry.households:
        features.append(_feature(geom, kind="household",
                                 **audience.parcel(hid, household_tier(hid), residents)))
    for bid, geom in geometry.buildings:
        features.append(_feature(geom, kind="building", id=bid))
    for sid, kind, geom in geometry.streets:
        features.append(_feature(geom, kind="street", id=sid, **{"class": kind}))
    bounds = geometry.bounds
    shown: list[tuple[str, dict[str, Any], dict[str, Any] | None, dict[str, Any], Tier]] = []
    requests: list[tuple[float, float]] = []
    for cid, point, view, props in geometry.cameras:
        tier = camera_tier(cid)
        if tier == "request":
            lon, lat = point["coordinates"]
            requests.append((lon, lat))
        disclosure = audience.camera(tier, props.get("household"))
        if disclosure.individual:
            if not disclosure.household:
                props = {**props, "household": None}
            shown.append((cid, point, view, props, tier))
            bounds = _union(bounds, geometry.camera_bounds[cid])
    for cid, _point, view, _props, _tier in shown:
        if view is not None:
            features.append(_feature(view, kind="view", camera=cid, live=camera_live(cid)))
    for cid, point, _view, props, tier in shown:
        features.append(_feature(point, kind="camera", id=cid, tier=tier,
                                 live=camera_live(cid), **props))
    features.extend(cell.feature() for cell in density_cells(requests, bounds, audience))
    west, south, east, north = bounds
    doc: dict[str, Any] = {
        "type": "FeatureCollection",
        "bbox": [west, south, east, north],
        "features": features,
    }
    if geometry.attribution:
        doc["attribution"] = geometry.attribution
    return doc


def _feature(geometry: dict[str, Any], **properties: Any) -> dict[str, Any]:
    return {"type": "Feature", "geometry": geometry, "properties": properties}

