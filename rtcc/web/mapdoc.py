"""The map as one audience may see it, right now: the compact document every page draws
(``GET /api/map``) and the GeoJSON of ``GET /api/wall/map``.

Both are cut from one :class:`~rtcc.web.mapgeometry.MapGeometry` with the consent of this moment,
and what each audience may see of it is decided by :mod:`rtcc.registry.police_view`: the police
get bare parcels (no id, tier or residents), registry and live cameras with their views (owners
of live ones only), and request-tier cameras only as counts per fixed density cell, "fewer than
k" below k; ``none`` cameras do not exist for them. Nothing here filters less than the police
view says; the pages never filter at all.

The compact document (``format`` :data:`FORMAT`; docs/pages.md, "The map document") quantises
lon/lat to integer steps of :data:`SCALE` degrees (about 11 cm north-south) from an integer
``origin``, delta-encodes each layer's points, drops the closing point of rings and lists
properties as columns. At 10,000 households it is ~1.2 MB of JSON before gzip and ~0.35 MB after,
against 11-20 MB (1.7-3.4 MB gzipped) of GeoJSON (docs/benchmarks.md, "The map"); a shared-arc
(TopoJSON-like) encoding was measured too and saves less than 2 % more once gzipped, because only
parcels share edges and views, the largest layer, share none.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from rtcc.registry.police_view import DENSITY_CELL_DEG, Audience, density_cells
from rtcc.vocabulary import Tier
from rtcc.web.mapgeometry import Bounds, MapGeometry, Shapes, geojson_geometry

FORMAT = "rtcc-map/1"
SCALE = 1e-6
"""Degrees per quantisation step."""


class MapConsent(Protocol):
    """The registry's consent now, as the map needs it (the wall's consent view is one)."""

    def camera_tier(self, camera_id: str, now: float | None = None) -> Tier: ...

    def household_tier(self, household_id: str) -> Tier: ...

    def is_live(self, camera_id: str) -> bool: ...


@dataclass(frozen=True, slots=True)
class _Shown:
    index: int
    tier: Tier
    live: bool
    household: str | None


def _union(a: Bounds, b: Bounds) -> Bounds:
    if a == (0.0, 0.0, 0.0, 0.0):
        return b
    return (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))


def encode_shapes(shapes: Shapes, origin: tuple[int, int], scale: float = SCALE
                  ) -> dict[str, list[int]]:
    """A layer's geometry as integer deltas: ``coords`` (x, y pairs, each relative to the previous
    point of the layer, the first to ``origin``), ``n`` (points per ring or line; rings without
    their closing point), ``rings`` (rings per polygon) and ``parts`` (polygons or lines per
    feature), the last two omitted when every value is 1."""
    coords, offsets = shapes.ragged()
    q = np.rint(coords / scale).astype(np.int64) - np.asarray(origin, dtype=np.int64)
    out: dict[str, list[int]] = {}
    if shapes.family == "polygon":
        ring_off, poly_off, feat_off = offsets
        keep = np.ones(len(q), dtype=bool)
        keep[ring_off[1:] - 1] = False  # each ring's closing point repeats its first
        q = q[keep]
        n = np.diff(ring_off) - 1
        rings, parts = np.diff(poly_off), np.diff(feat_off)
    elif shapes.family == "line":
        line_off, feat_off = offsets
        n, rings, parts = np.diff(line_off), np.ones(0, dtype=np.int64), np.diff(feat_off)
    else:
        n = rings = parts = np.ones(0, dtype=np.int64)
    delta = np.diff(q, axis=0, prepend=np.zeros((1, 2), dtype=np.int64))
    out["coords"] = delta.ravel().tolist()
    if shapes.family != "point":
        out["n"] = n.tolist()
    if np.any(rings != 1):
        out["rings"] = rings.tolist()
    if np.any(parts != 1):
        out["parts"] = parts.tolist()
    return out


class MapDocuments:
    """Both documents of one world's map; the parts that never change are encoded once."""

    def __init__(self, geometry: MapGeometry, scale: float = SCALE) -> None:
        self.geometry = geometry
        self.scale = scale
        west, south, _east, _north = geometry.bounds
        self.origin = (math.floor(west / scale), math.floor(south / scale))
        self._static: dict[str, Any] | None = None
        self._geojson: dict[str, list[dict[str, Any]]] | None = None

    # --- what the audience may see ------------------------------------------------------------

    def _shown(self, audience: Audience, consent: MapConsent, now: float
               ) -> tuple[list[_Shown], list[tuple[float, float]], Bounds]:
        geo = self.geometry
        shown: list[_Shown] = []
        requests: list[tuple[float, float]] = []
        bounds = geo.bounds
        for i, cam in enumerate(geo.cameras):
            tier = consent.camera_tier(cam.id, now)
            if tier == "request":
                requests.append((cam.lon, cam.lat))
            disclosure = audience.camera(tier, cam.household)
            if disclosure.individual:
                shown.append(_Shown(i, tier, consent.is_live(cam.id),
                                    cam.household if disclosure.household else None))
                bounds = _union(bounds, geo.camera_bounds[i])
        return shown, requests, bounds

    # --- the compact document ------------------------------------------------------------------

    def prepare(self) -> None:
        """Encode what never changes now (blocking: call it on a worker thread)."""
        self._static_layers()

    def _static_layers(self) -> dict[str, Any]:
        if self._static is None:
            geo = self.geometry
            lines, areas = geo.streets
            self._static = {
                "parcels": encode_shapes(geo.parcels, self.origin, self.scale),
                "buildings": encode_shapes(geo.buildings, self.origin, self.scale),
                "streets": {
                    "lines": {"shape": encode_shapes(lines, self.origin, self.scale),
                              "class": [geo.street_classes[i] for i in geo.street_lines]},
                    "areas": {"shape": encode_shapes(areas, self.origin, self.scale),
                              "class": [geo.street_classes[i] for i in geo.street_areas]},
                },
            }
        return self._static

    def compact(self, audience: Audience, consent: MapConsent, *, now: float | None = None
                ) -> dict[str, Any]:
        """The map for ``audience`` as the compact document (docs/pages.md)."""
        when = time.time() if now is None else now
        geo = self.geometry
        static = self._static_layers()
        shown, requests, bounds = self._shown(audience, consent, when)
        known = []
        for i, hid in enumerate(geo.household_ids):
            props = audience.parcel(hid, consent.household_tier(hid), geo.residents[i])
            if props:
                known.append([i, props["id"], props["tier"], props["residents"]])
        ox, oy = self.origin
        cams = [geo.cameras[s.index] for s in shown]
        with_view = [s for s in shown if geo.has_view[s.index]]
        views = geo.views_simplified.take([s.index for s in with_view])
        index_of = {s.index: n for n, s in enumerate(shown)}
        doc: dict[str, Any] = {
            "format": FORMAT,
            "scale": self.scale,
            "origin": [ox, oy],
            "bbox": [round(v, 7) for v in bounds],
            "attribution": geo.attribution,
            "parcels": {"shape": static["parcels"], "known": known},
            "buildings": {"shape": static["buildings"]},
            "streets": static["streets"],
            "cameras": {
                "id": [c.id for c in cams],
                "x": [round(c.lon / self.scale) - ox for c in cams],
                "y": [round(c.lat / self.scale) - oy for c in cams],
                "type": [c.type for c in cams],
                "tier": [s.tier for s in shown],
                "live": [int(s.live) for s in shown],
                "household": [s.household for s in shown],
                "direction": [round(c.direction, 1) for c in cams],
                "fov": [round(c.fov, 1) for c in cams],
                "range": [round(c.range, 1) for c in cams],
            },
            "views": {"camera": [index_of[s.index] for s in with_view],
                      "shape": encode_shapes(views, self.origin, self.scale)},
            "density": self._density(requests, bounds, audience),
        }
        return doc

    @staticmethod
    def _density(requests: Iterable[tuple[float, float]], bounds: Bounds,
                 audience: Audience) -> dict[str, Any]:
        cells = []
        for cell in density_cells(requests, bounds, audience):
            i = math.floor((cell.west + cell.east) / 2 / DENSITY_CELL_DEG)
            j = math.floor((cell.south + cell.north) / 2 / DENSITY_CELL_DEG)
            cells.append([i, j, cell.count])
        return {"size": DENSITY_CELL_DEG, "k": audience.k, "cells": cells}

    # --- GeoJSON -------------------------------------------------------------------------------

    def prepare_geojson(self) -> None:
        """Build the GeoJSON geometries (seconds at 10,000 households: call it on a worker
        thread before :meth:`geojson`)."""
        self._geojson_geometries()

    def _geojson_geometries(self) -> dict[str, list[dict[str, Any]]]:
        if self._geojson is None:
            geo = self.geometry
            street_geoms: list[dict[str, Any]] = [{}] * len(geo.street_ids)
            for family, which in zip(geo.streets, (geo.street_lines, geo.street_areas),
                                     strict=True):
                for g, i in zip(family.geoms, which, strict=True):
                    street_geoms[i] = geojson_geometry(g)
            self._geojson = {
                "parcels": [geojson_geometry(g) for g in geo.parcels.geoms],
                "buildings": [geojson_geometry(g) for g in geo.buildings.geoms],
                "streets": street_geoms,
                "views": [geojson_geometry(g) if ok else {}
                          for g, ok in zip(geo.views.geoms, geo.has_view, strict=True)],
                "cameras": [{"type": "Point", "coordinates": [round(c.lon, 7), round(c.lat, 7)]}
                            for c in geo.cameras],
            }
        return self._geojson

    def geojson(self, audience: Audience, consent: MapConsent, *, now: float | None = None
                ) -> dict[str, Any]:
        """The map for ``audience`` as a GeoJSON FeatureCollection (RFC 7946, lon/lat).

        Feature ``properties.kind`` is ``household`` (with ``id``, ``tier`` and ``residents``
        only for those who may see them), ``building``, ``street`` (``class`` street or
        sidewalk), ``view`` (a camera's visibility polygon, with ``camera`` and ``live``),
        ``camera`` (with ``tier`` and ``live``) or ``request_density`` (a fixed grid cell with
        ``count``: request-tier cameras in it, "fewer than k" below k for the police). Views
        come before cameras so a client drawing in order puts markers on top."""
        when = time.time() if now is None else now
        geo = self.geometry
        geoms = self._geojson_geometries()
        features: list[dict[str, Any]] = []
        for i, hid in enumerate(geo.household_ids):
            props = audience.parcel(hid, consent.household_tier(hid), geo.residents[i])
            features.append(_feature(geoms["parcels"][i], kind="household", **props))
        for bid, g in zip(geo.building_ids, geoms["buildings"], strict=True):
            features.append(_feature(g, kind="building", id=bid))
        for sid, cls, g in zip(geo.street_ids, geo.street_classes, geoms["streets"],
                               strict=True):
            features.append(_feature(g, kind="street", id=sid, **{"class": cls}))
        shown, requests, bounds = self._shown(audience, consent, when)
        for s in shown:
            if geo.has_view[s.index]:
                features.append(_feature(geoms["views"][s.index], kind="view",
                                         camera=geo.cameras[s.index].id, live=s.live))
        for s in shown:
            cam = geo.cameras[s.index]
            features.append(_feature(geoms["cameras"][s.index], kind="camera", id=cam.id,
                                     tier=s.tier, live=s.live, household=s.household,
                                     type=cam.type, direction=cam.direction, fov=cam.fov,
                                     range=cam.range))
        features.extend(cell.feature() for cell in density_cells(requests, bounds, audience))
        doc: dict[str, Any] = {"type": "FeatureCollection", "bbox": list(bounds),
                               "features": features}
        if geo.attribution:
            doc["attribution"] = geo.attribution
        return doc


def _feature(geometry: dict[str, Any], **properties: Any) -> dict[str, Any]:
    return {"type": "Feature", "geometry": geometry, "properties": properties}

