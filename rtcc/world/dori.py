"""Image detail (IEC 62676-4 "DORI") of a camera at a distance, and its visible area per band.

How many pixels a camera puts on a metre of target decides what an operator can do with the
picture: identify a stranger (250 px/m), recognise someone known (125), observe what they do
(62.5), detect a person (25) or merely monitor a crowd (12.5). For a lens of horizontal field of
view HFOV delivering W pixels per row, at distance d on the optical axis:

- rectilinear: px/m = W / (2 d tan(HFOV / 2))
- fisheye (equidistant, the better model of wide doorbell lenses): px/m = (W / HFOV_rad) / d

W is the width of the stream the RTCC *receives* (``Camera.width``), not the sensor's: a vendor
capping the police stream at 640 px cuts every band distance to a third.

Bands are treated as radial: the on-axis figure is used at every bearing inside the field of view
and the distance is measured on the ground from the camera position (the mount height is small
against the distances that matter). For a 1920 px, 160 degree fisheye doorbell: identify up to
2.75 m, recognise 5.5 m, observe 11 m, detect 27.5 m, monitor 55 m.
"""

from __future__ import annotations

import math

import numpy as np
import shapely
from shapely.geometry import Polygon
from shapely.geometry.base import BaseGeometry

from rtcc.world.model import Camera

BANDS: tuple[tuple[str, float], ...] = (
    ("identify", 250.0),
    ("recognise", 125.0),
    ("observe", 62.5),
    ("detect", 25.0),
    ("monitor", 12.5),
)
"""DORI bands, finest first, with the pixels per metre each needs."""

BAND_NAMES: tuple[str, ...] = tuple(name for name, _ in BANDS)
_PX_PER_M = dict(BANDS)


def pixels_per_metre_at(width: int, fov_deg: float, lens: str, distance: float) -> float:
    """Pixels per metre at ``distance`` metres on the axis of a lens (inf at distance 0)."""
    if distance <= 0:
        return math.inf
    fov = math.radians(fov_deg)
    if lens == "rectilinear":
        # A rectilinear lens cannot reach 180 degrees; clamp so that wide values stay finite.
        return width / (2.0 * distance * math.tan(min(fov, math.radians(179.0)) / 2.0))
    return width / fov / distance


def pixels_per_metre(camera: Camera, distance: float) -> float:
    """Pixels per metre that ``camera``'s delivered stream puts on a target ``distance`` away."""
    return pixels_per_metre_at(camera.width, camera.fov, camera.lens, distance)


def band_distance_at(width: int, fov_deg: float, lens: str, band: str) -> float:
    """The distance (metres) up to which a lens still reaches ``band``'s pixel density."""
    need = _PX_PER_M[band]
    return pixels_per_metre_at(width, fov_deg, lens, 1.0) / need


def band_distance(camera: Camera, band: str) -> float:
    """Outer radius of ``band`` for this camera (metres, not capped at its range)."""
    return band_distance_at(camera.width, camera.fov, camera.lens, band)


def band_distances(camera: Camera) -> dict[str, float]:
    """Outer radius of every band, finest first."""
    return {name: band_distance(camera, name) for name in BAND_NAMES}


def band_at(camera: Camera, distance: float) -> str | None:
    """The finest band the camera reaches at ``distance`` metres, or None beyond monitor or range.

    A target exactly at a band's outer radius is still in that band.
    """
    if distance > camera.range:
        return None
    ppm = pixels_per_metre(camera, distance)
    for name, need in BANDS:
        # A hair of relative slack so that the band edge itself, computed back from the same
        # formula, does not fall into the next band through rounding.
        if ppm >= need * (1.0 - 1e-12):
            return name
    return None


def _annulus(camera: Camera, r_in: float, r_out: float, step_deg: float) -> Polygon:
    """A full ring around the camera between two radii (a disk when ``r_in`` is 0).

    Full rings rather than field-of-view sectors: the visibility polygon already holds the sector,
    and rings of neighbouring bands share their boundary vertices exactly, so the band polygons
    partition the visible area without slivers.
    """
    cx, cy = camera.xy
    n = max(8, math.ceil(360.0 / step_deg))
    ang = np.linspace(0.0, 2.0 * math.pi, n, endpoint=False)
    outer = np.column_stack([cx + r_out * np.cos(ang), cy + r_out * np.sin(ang)])
    if r_in <= 0.0:
        return Polygon(outer)
    inner = np.column_stack([cx + r_in * np.cos(ang), cy + r_in * np.sin(ang)])
    return Polygon(outer, [inner[::-1]])


def band_polygons(camera: Camera, visibility: BaseGeometry, *,
                  step_deg: float = 0.5) -> dict[str, BaseGeometry]:
    """The visible area in each band: ``visibility`` cut by the band annuli of this camera.

    ``visibility`` is the camera's visibility polygon (:mod:`rtcc.world.visibility`). Every band
    is present in the result, finest first; a band the camera does not reach is an empty polygon.
    """
    out: dict[str, BaseGeometry] = {}
    r_in = 0.0
    for name in BAND_NAMES:
        reach = band_distance(camera, name)
        r_out = min(reach, camera.range)
        if r_out <= r_in or visibility.is_empty:
            out[name] = Polygon()
        else:
            # Where the band reaches past the range, the visibility polygon's own arc is the
            # boundary: draw the ring a little larger so that its chords do not shave it.
            drawn = r_out * 1.01 if reach >= camera.range else r_out
            ring = _annulus(camera, r_in, drawn, step_deg)
            out[name] = shapely.intersection(visibility, ring)
        r_in = max(r_in, r_out)
    return out


def band_areas(camera: Camera, visibility: BaseGeometry) -> dict[str, float]:
    """Square metres of visible area per band, finest first."""
    return {name: float(geom.area) for name, geom in band_polygons(camera, visibility).items()}
