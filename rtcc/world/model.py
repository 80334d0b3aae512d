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
from typing import TYPE_CHECKING, Any

from shapely import STRtree
from shapely.geometry import LineString, Point, Polygon
from shapely.geometry.base import BaseGeometry

from rtcc.vocabulary import Tier
from rtcc.world.geo import LocalProjection

if TYPE_CHECKING:
    from rtcc.world.index import WorldIndex

CAMERA_TYPES = ("doorbell", "floodlight", "business", "city")
LENSES = ("fisheye", "rectilinear")


def _no_attributes() -> Mapping[str, Any]:
    # A fresh plain dict: a shared MappingProxyType would be read-only but cannot be pickled
    # (worlds go to worker processes), and Python 3.11 dataclasses refuse it as a plain default.
    return {}


ENTRANCE_TOLERANCE = 0.01
"""Metres: an entrance this close to a view polygon is in view (it sits on the view's edge)."""


@dataclass(frozen=True, slots=True)
class Household:
    id: str
    parcel: Polygon
    entrance: Point | None = None
    residents: int = 0
    consent: Tier = "none"
    """The household's consent seed (a tier); the registry is seeded from it."""
    attributes: Mapping[str, Any] = field(default_factory=_no_attributes)
    """Free extra properties of the feature (e.g. tract demographics), kept for breakdowns."""


@dataclass(frozen=True, slots=True)
class Building:
    id: str
    footprint: Polygon
    household: str | None = None
    attributes: Mapping[str, Any] = field(default_factory=_no_attributes)
    """Free extra properties (e.g. ``use: business``, OSM tags), kept for round trips."""


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
    consent: Tier | None = None
    """Explicit tier for this camera; None means: take the household's seed (or ``live`` for a
    camera without a household, such as a city camera)."""
    mount_height: float = 1.2
    masks: tuple[Mask, ...] = ()
    attributes: Mapping[str, Any] = field(default_factory=_no_attributes)

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
    attributes: Mapping[str, Any] = field(default_factory=_no_attributes)
    """Free extra properties (e.g. ``width`` in metres), kept for round trips."""


@dataclass(frozen=True, slots=True)
class World:
    projection: LocalProjection
    households: Mapping[str, Household] = field(default_factory=dict)
    buildings: tuple[Building, ...] = ()
    cameras: Mapping[str, Camera] = field(default_factory=dict)
    streets: tuple[Street, ...] = ()
    properties: Mapping[str, Any] = field(default_factory=_no_attributes)
    """The FeatureCollection's own ``properties`` (name, seed, generator...)."""
    _index: WorldIndex | None = field(default=None, init=False, repr=False, compare=False)

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickle the data, not the cached index (rebuilt on first use in the other process).
        return (World, (self.projection, dict(self.households), self.buildings,
                        dict(self.cameras), self.streets, dict(self.properties)))

    # -- lookups -------------------------------------------------------------------------------

    @property
    def index(self) -> WorldIndex:
        """Spatial indexes over this world, built on first use and then kept."""
        if self._index is None:
            from rtcc.world.index import WorldIndex

            # The world is immutable, so the cache can never go stale.
            object.__setattr__(self, "_index", WorldIndex(self))
        assert self._index is not None
        return self._index

    @property
    def building_tree(self) -> STRtree:
        """STRtree of building footprints; its indices are positions in ``buildings``."""
        return self.index.building_tree

    def building(self, building_id: str) -> Building:
        """The building with this id (KeyError if there is none)."""
        return self.buildings[self.index.building_pos[building_id]]

    def mount_building(self, camera: Camera | str) -> Building | None:
        """The building a camera is mounted on, which does not occlude its view.

        That is the building containing the camera point or nearest to it within 1 m, a building
        of the camera's own household first; None for a camera standing free (a pole).
        """
        cam = self.cameras[camera] if isinstance(camera, str) else camera
        i = self.index.mount_index(cam)
        return None if i < 0 else self.buildings[i]

    def household_of(self, camera: Camera | str) -> Household | None:
        """The household owning a camera, or None (city cameras, businesses)."""
        cam = self.cameras[camera] if isinstance(camera, str) else camera
        return None if cam.household is None else self.households.get(cam.household)

    def camera_consent(self, camera: Camera | str) -> Tier:
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
