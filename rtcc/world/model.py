"""The neighbourhood world in local metres: households, buildings, cameras, streets.

Pure value types shared by the simulators, the hub (camera metadata) and the analyzer. Geometry is
held as shapely objects in a local east/north frame (metres, x east, y north) whose origin is the
world's projection origin; the GeoJSON I/O in :mod:`rtcc.world.geojson` converts from and to WGS84.
Angles follow the world-file contract: ``direction`` in degrees clockwise from north.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from shapely.geometry import LineString, Point, Polygon
from shapely.geometry.base import BaseGeometry

from rtcc.world.geo import LocalProjection

TIERS = ("none", "registry", "request", "live")
"""CONTRACT consent tiers, from least to most shared."""

CAMERA_TYPES = ("doorbell", "floodlight", "business", "city")
LENSES = ("fisheye", "rectilinear")
ROLES = ("resident", "visitor", "delivery", "dog_walker", "passer_by")
"""CONTRACT subject roles in the ground-truth SEI."""

_EMPTY: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class Household:
    id: str
    parcel: Polygon
    entrance: Point | None = None
    residents: int = 0
    consent: str = "none"
    """The household's consent seed (a tier); the registry is seeded from it."""
    attributes: Mapping[str, Any] = _EMPTY
    """Free extra properties of the feature (e.g. tract demographics), kept for breakdowns."""


@dataclass(frozen=True, slots=True)
class Building:
    id: str
    footprint: Polygon
    household: str | None = None


@dataclass(frozen=True, slots=True)
class Mask:
    """A camera-side privacy mask: a rectangle in normalised frame coordinates (0..1)."""

    x: float
    y: float
    w: float
    h: float


@dataclass(frozen=True, slots=True)
class Camera:
    id: str
    position: Point
    direction: float
    """Degrees clockwise from north, 0 <= direction < 360."""
    fov: float
    """Horizontal field of view in degrees, 0 < fov <= 360."""
    range: float
    """Metres; beyond this the camera sees nothing useful."""
    household: str | None = None
    width: int = 1920
    """Pixels per row of the stream the RTCC receives (DORI uses this)."""
    height: int = 1080
    lens: str = "fisheye"
    type: str = "doorbell"
    consent: str | None = None
    """Explicit tier for this camera; None means: take the household's seed (or ``live`` for a
    camera without a household, such as a city camera)."""
    mount_height: float = 1.2
    masks: tuple[Mask, ...] = ()
    attributes: Mapping[str, Any] = _EMPTY

    @property
    def xy(self) -> tuple[float, float]:
        return (self.position.x, self.position.y)

    @property
    def heading_rad(self) -> float:
        """Direction as a math angle: radians counter-clockwise from east."""
        return math.radians(90.0 - self.direction)


@dataclass(frozen=True, slots=True)
class Street:
    id: str
    geometry: LineString | Polygon
    kind: str = "street"
    """``street`` or ``sidewalk`` (passers-by walk on sidewalks)."""
    name: str | None = None


@dataclass(frozen=True, slots=True)
class World:
    projection: LocalProjection
    households: Mapping[str, Household] = field(default_factory=dict)
    buildings: tuple[Building, ...] = ()
    cameras: Mapping[str, Camera] = field(default_factory=dict)
    streets: tuple[Street, ...] = ()
    properties: Mapping[str, Any] = _EMPTY
    """The FeatureCollection's own ``properties`` (name, seed, generator...)."""

    def camera_consent(self, camera: Camera | str) -> str:
        """The effective consent seed of a camera per the world-file contract."""
        cam = self.cameras[camera] if isinstance(camera, str) else camera
        if cam.consent is not None:
            return cam.consent
        if cam.household is None:
            return "live"
        return self.households[cam.household].consent

    def bounds(self) -> tuple[float, float, float, float]:
        """(minx, miny, maxx, maxy) over every feature, in local metres."""
        geoms: list[BaseGeometry] = [h.parcel for h in self.households.values()]
        geoms += [b.footprint for b in self.buildings]
        geoms += [c.position for c in self.cameras.values()]
        geoms += [s.geometry for s in self.streets]
        if not geoms:
            return (0.0, 0.0, 0.0, 0.0)
        b = [g.bounds for g in geoms]
        return (min(x[0] for x in b), min(x[1] for x in b), max(x[2] for x in b),
                max(x[3] for x in b))
