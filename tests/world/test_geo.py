"""LocalProjection against hand-worked values and against independent geodesy (pyproj/PROJ)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import shapely
from pyproj import Geod, Transformer
from shapely.geometry import Polygon

from rtcc.world.geo import LocalProjection, origin_for, project_geometry, unproject_geometry

GEOD = Geod(ellps="WGS84")
JACKSON = LocalProjection(-90.18, 32.30)


def test_origin_is_zero() -> None:
    assert JACKSON.to_local(-90.18, 32.30) == (0.0, 0.0)
    assert JACKSON.to_lonlat(0.0, 0.0) == pytest.approx((-90.18, 32.30), abs=1e-12)


def test_meridian_arc_hand_values() -> None:
    """Published WGS84 meridian arcs: equator to 1 degree 110,574.389 m, to 45 degrees
    4,984,944.378 m (e.g. Deakin & Hunter, "Geodesy" tables; also Karney's GeographicLib)."""
    p = LocalProjection(0.0, 0.0)
    assert p.to_local(0.0, 1.0)[1] == pytest.approx(110574.389, abs=0.002)
    assert p.to_local(0.0, 45.0)[1] == pytest.approx(4984944.378, abs=0.002)
    # Along the central meridian x is exactly zero.
    assert p.to_local(0.0, 45.0)[0] == 0.0


def test_degree_of_latitude_at_jackson_by_hand() -> None:
    """Radius of curvature in the meridian M = a(1-e²)/(1-e² sin²φ)^1.5, times 0.01° in rad."""
    a, f = 6378137.0, 1 / 298.257223563
    e2 = f * (2 - f)
    phi = math.radians(32.305)  # the middle of the 0.01-degree step
    m = a * (1 - e2) / (1 - e2 * math.sin(phi) ** 2) ** 1.5
    expected = m * math.radians(0.01)
    _, y = JACKSON.to_local(-90.18, 32.31)
    assert y == pytest.approx(expected, rel=1e-7)


def test_small_east_step_at_equator_by_hand() -> None:
    """At the equator a small longitude step is a * dlon (the equatorial circle)."""
    p = LocalProjection(0.0, 0.0)
    x, y = p.to_local(0.001, 0.0)
    assert x == pytest.approx(6378137.0 * math.radians(0.001), rel=1e-9)
    assert y == 0.0


def test_matches_proj_transverse_mercator() -> None:
    """The same projection computed by PROJ agrees to well under a millimetre."""
    proj = Transformer.from_crs(
        "EPSG:4326", "+proj=tmerc +lat_0=32.30 +lon_0=-90.18 +k=1 +x_0=0 +y_0=0 +ellps=WGS84",
        always_xy=True)
    rng = np.random.default_rng(7)
    lon = -90.18 + rng.uniform(-0.5, 0.5, 500)
    lat = 32.30 + rng.uniform(-0.5, 0.5, 500)
    x, y = JACKSON.to_local_arrays(lon, lat)
    px, py = proj.transform(lon, lat)
    assert np.abs(x - px).max() < 1e-4
    assert np.abs(y - py).max() < 1e-4


@pytest.mark.parametrize("origin", [(-90.18, 32.30), (0.0, 0.0), (151.2, -33.87), (24.9, 60.2)])
def test_distances_within_a_thousandth_over_ten_km(origin: tuple[float, float]) -> None:
    """Straight-line distances in local metres vs WGS84 geodesics, pairs up to ~10 km apart."""
    proj = LocalProjection(*origin)
    rng = np.random.default_rng(11)
    n = 400
    # Points scattered over a 10 km x 10 km square around the origin.
    x = rng.uniform(-5000, 5000, (n, 2))
    y = rng.uniform(-5000, 5000, (n, 2))
    lon, lat = proj.to_lonlat_arrays(x.ravel(), y.ravel())
    lon, lat = lon.reshape(n, 2), lat.reshape(n, 2)
    _, _, geodesic = GEOD.inv(lon[:, 0], lat[:, 0], lon[:, 1], lat[:, 1])
    local = np.hypot(x[:, 0] - x[:, 1], y[:, 0] - y[:, 1])
    rel = np.abs(local - geodesic) / geodesic
    assert rel.max() < 1e-3
    # In fact transverse Mercator is far better than the budget at this scale.
    assert rel.max() < 1e-5


def test_round_trip_arrays() -> None:
    rng = np.random.default_rng(3)
    xy = rng.uniform(-20000, 20000, (1000, 2))
    back = JACKSON.to_local_coords(JACKSON.to_lonlat_coords(xy))
    assert np.abs(back - xy).max() < 1e-6


def test_antimeridian() -> None:
    p = LocalProjection(179.999, 0.0)
    x, _ = p.to_local(-179.999, 0.0)  # 0.002 degrees east, across the antimeridian
    assert x == pytest.approx(6378137.0 * math.radians(0.002), rel=1e-6)
    lon, _ = p.to_lonlat(x, 0.0)
    assert lon == pytest.approx(-179.999, abs=1e-9)


def test_geometries_round_trip() -> None:
    poly = Polygon([(-90.181, 32.301), (-90.179, 32.301), (-90.179, 32.299), (-90.181, 32.301)])
    local = project_geometry(JACKSON, poly)
    assert local.is_valid
    # ~ 188 m x 222 m / 2
    assert local.area == pytest.approx(0.5 * 188.3 * 221.8, rel=2e-3)
    back = unproject_geometry(JACKSON, local)
    assert shapely.equals_exact(back, poly, tolerance=1e-10)
    assert JACKSON.unproject(JACKSON.project(poly)).equals_exact(poly, 1e-10)


def test_origin_for_bbox_centre() -> None:
    p = origin_for([(-90.2, 32.2), (-90.1, 32.4)])
    assert (p.lon0, p.lat0) == (-90.15, 32.3)
    assert origin_for(np.empty((0, 2))).lon0 == 0.0


def test_bad_origin() -> None:
    with pytest.raises(ValueError):
        LocalProjection(-90.0, 89.0)


def test_docstring_examples() -> None:
    import doctest

    import rtcc.world.geo

    result = doctest.testmod(rtcc.world.geo)
    assert result.attempted > 0 and result.failed == 0
