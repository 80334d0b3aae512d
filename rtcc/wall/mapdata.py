"""The neighbourhood map for the browser: the world as GeoJSON in lon/lat (RFC 7946).

The wall draws its map from this document: parcels (coloured by their household's consent tier as
the registry has it now), buildings, streets and sidewalks, camera points and each camera's
visibility polygon (``rtcc.world.visibility``: field of view cut by buildings). Geometry is
computed once per world (:class:`MapGeometry`, CPU work: build it in an executor); the consent
properties are filled in per request so the map always shows the current registry.

Pure: no I/O besides what the caller passes in.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from shapely.geometry import mapping
from shapely.geometry.base import BaseGeometry

from rtcc.world.model import World

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
    bounds: tuple[float, float, float, float]
    """(west, south, east, north) in degrees."""
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
    lons: list[float] = []
    lats: list[float] = []
    geoms = [g for _, g, _ in households] + [g for _, g in buildings] + [g for *_, g in streets]
    geoms += [c[1] for c in cameras] + [c[2] for c in cameras if c[2] is not None]
    for geom in geoms:
        for lon, lat in _points(geom["coordinates"]):
            lons.append(lon)
            lats.append(lat)
    bbox = (min(lons), min(lats), max(lons), max(lats)) if lons else (0.0, 0.0, 0.0, 0.0)
    credit = world.properties.get("attribution")
    return MapGeometry(households, buildings, streets, tuple(cameras), bbox,
                       credit if isinstance(credit, str) and credit else None)


def _points(coords: Any) -> Any:
    if coords and isinstance(coords[0], (int, float)):
        yield coords
        return
    for c in coords:
        yield from _points(c)


def map_document(geometry: MapGeometry, *, household_tier: Callable[[str], str],
                 camera_tier: Callable[[str], str], camera_live: Callable[[str], bool],
                 ) -> dict[str, Any]:
    """The map as a GeoJSON FeatureCollection with the consent state of right now.

    Feature ``properties.kind`` is ``household`` (with ``tier``), ``building``, ``street``
    (``class`` street or sidewalk), ``view`` (a camera's visibility polygon, with ``camera`` and
    ``live``) or ``camera`` (with ``tier`` and ``live``). Views come before cameras so a client
    drawing in order puts camera markers on top. ``attribution`` is the map data's credit line,
    when the world has one: the page shows it under the map."""
    features: list[dict[str, Any]] = []
    for hid, geom, residents in geometry.households:
        features.append(_feature(geom, kind="household", id=hid, tier=household_tier(hid),
                                 residents=residents))
    for bid, geom in geometry.buildings:
        features.append(_feature(geom, kind="building", id=bid))
    for sid, kind, geom in geometry.streets:
        features.append(_feature(geom, kind="street", id=sid, **{"class": kind}))
    for cid, _point, view, _props in geometry.cameras:
        if view is not None:
            features.append(_feature(view, kind="view", camera=cid, live=camera_live(cid)))
    for cid, point, _view, props in geometry.cameras:
        features.append(_feature(point, kind="camera", id=cid, tier=camera_tier(cid),
                                 live=camera_live(cid), **props))
    west, south, east, north = geometry.bounds
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

