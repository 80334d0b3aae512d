"""WGS84 lon/lat <-> local metres (x east, y north) around a world's origin.

The world file is in lon/lat (RFC 7946); every geometry computation in rtcc is done in a flat local
frame in metres. :class:`LocalProjection` is a transverse Mercator projection on the WGS84 ellipsoid
whose central meridian passes through the origin, with scale factor 1 on that meridian and the
origin itself at (0, 0). It uses Krüger's series to sixth order in the third flattening (Karney,
"Transverse Mercator with an accuracy of a few nanometers", J. Geodesy 2011), which is accurate to
well under a millimetre anywhere a neighbourhood can be. Distances in the local frame are exact
along the central meridian and too long by a factor of about 1 + x²/(2 R²) at x metres east or
west of it: 1.2 ppm at 10 km, 0.012 % at 100 km, far inside the 0.1 % budget.

Functions taking arrays are vectorised with numpy; :func:`project_geometry` and
:func:`unproject_geometry` map shapely geometries of any type.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TypeVar

import numpy as np
import shapely
from numpy.typing import ArrayLike, NDArray
from shapely.geometry.base import BaseGeometry

# WGS84 defining constants.
WGS84_A = 6378137.0
WGS84_F = 1.0 / 298.257223563

_N = WGS84_F / (2.0 - WGS84_F)
_E = math.sqrt(WGS84_F * (2.0 - WGS84_F))
_E2 = _E * _E


def _series() -> tuple[float, tuple[float, ...], tuple[float, ...]]:
    """Rectifying radius and the Krüger alpha (forward) and beta (inverse) coefficients."""
    n = _N
    n2, n3, n4, n5, n6 = n**2, n**3, n**4, n**5, n**6
    rect = WGS84_A / (1.0 + n) * (1.0 + n2 / 4.0 + n4 / 64.0 + n6 / 256.0)
    alpha = (
        n / 2 - 2 * n2 / 3 + 5 * n3 / 16 + 41 * n4 / 180 - 127 * n5 / 288 + 7891 * n6 / 37800,
        13 * n2 / 48 - 3 * n3 / 5 + 557 * n4 / 1440 + 281 * n5 / 630 - 1983433 * n6 / 1935360,
        61 * n3 / 240 - 103 * n4 / 140 + 15061 * n5 / 26880 + 167603 * n6 / 181440,
        49561 * n4 / 161280 - 179 * n5 / 168 + 6601661 * n6 / 7257600,
        34729 * n5 / 80640 - 3418889 * n6 / 1995840,
        212378941 * n6 / 319334400,
    )
    beta = (
        n / 2 - 2 * n2 / 3 + 37 * n3 / 96 - n4 / 360 - 81 * n5 / 512 + 96199 * n6 / 604800,
        n2 / 48 + n3 / 15 - 437 * n4 / 1440 + 46 * n5 / 105 - 1118711 * n6 / 3870720,
        17 * n3 / 480 - 37 * n4 / 840 - 209 * n5 / 4480 + 5569 * n6 / 90720,
        4397 * n4 / 161280 - 11 * n5 / 504 - 830251 * n6 / 7257600,
        4583 * n5 / 161280 - 108847 * n6 / 3991680,
        20648693 * n6 / 638668800,
    )
    return rect, alpha, beta


_RECT, _ALPHA, _BETA = _series()
_J2 = 2.0 * np.arange(1, 7, dtype=float)  # 2j for j = 1..6


def _tm_forward(dlon: NDArray[np.float64], lat: NDArray[np.float64]
                ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Transverse Mercator (k0 = 1) of longitudes relative to the central meridian, in radians."""
    sin_lat = np.sin(lat)
    # tan of the conformal latitude; written with sinh/atanh so it stays finite near the poles.
    tau = np.sinh(np.arctanh(sin_lat) - _E * np.arctanh(_E * sin_lat))
    xi_p = np.arctan2(tau, np.cos(dlon))
    eta_p = np.arctanh(np.sin(dlon) / np.sqrt(1.0 + tau * tau))
    a = np.asarray(_ALPHA)
    xi = xi_p + np.sum(a * np.sin(np.multiply.outer(xi_p, _J2))
                       * np.cosh(np.multiply.outer(eta_p, _J2)), axis=-1)
    eta = eta_p + np.sum(a * np.cos(np.multiply.outer(xi_p, _J2))
                         * np.sinh(np.multiply.outer(eta_p, _J2)), axis=-1)
    return _RECT * eta, _RECT * xi


def _tm_inverse(x: NDArray[np.float64], y: NDArray[np.float64]
                ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Inverse of :func:`_tm_forward`: (dlon, lat) in radians."""
    xi = y / _RECT
    eta = x / _RECT
    b = np.asarray(_BETA)
    xi_p = xi - np.sum(b * np.sin(np.multiply.outer(xi, _J2))
                       * np.cosh(np.multiply.outer(eta, _J2)), axis=-1)
    eta_p = eta - np.sum(b * np.cos(np.multiply.outer(xi, _J2))
                         * np.sinh(np.multiply.outer(eta, _J2)), axis=-1)
    dlon = np.arctan2(np.sinh(eta_p), np.cos(xi_p))
    # tan of the conformal latitude, then Newton's method for tan(latitude) (Karney 2011,
    # eq. 19-21).
    tau_p = np.sin(xi_p) / np.sqrt(np.sinh(eta_p) ** 2 + np.cos(xi_p) ** 2)
    tau = tau_p.copy()
    for _ in range(5):
        sig = np.sinh(_E * np.arctanh(_E * tau / np.sqrt(1.0 + tau * tau)))
        tau_i = tau * np.sqrt(1.0 + sig * sig) - sig * np.sqrt(1.0 + tau * tau)
        dtau = ((tau_p - tau_i) / np.sqrt(1.0 + tau_i * tau_i)
                * (1.0 + (1.0 - _E2) * tau * tau) / ((1.0 - _E2) * np.sqrt(1.0 + tau * tau)))
        tau = tau + dtau
    return dlon, np.arctan(tau)


@dataclass(frozen=True, slots=True)
class LocalProjection:
    """Local metres around (lon0, lat0): x east, y north, the origin at (0, 0).

    >>> p = LocalProjection(-90.18, 32.30)
    >>> p.to_local(-90.18, 32.30)
    (0.0, 0.0)
    >>> x, y = p.to_local(-90.18, 32.31)   # 0.01 degree north
    >>> round(x, 6), round(y, 1)
    (0.0, 1108.9)
    """

    lon0: float
    lat0: float
    _y0: float = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not (-180.0 <= self.lon0 <= 180.0 and -85.0 <= self.lat0 <= 85.0):
            raise ValueError(f"projection origin out of range: {self.lon0}, {self.lat0}")
        _, y0 = _tm_forward(np.zeros(1), np.radians(np.array([self.lat0], dtype=float)))
        object.__setattr__(self, "_y0", float(y0[0]))

    # -- arrays ------------------------------------------------------------------------------

    def to_local_arrays(self, lon: ArrayLike, lat: ArrayLike
                        ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Vectorised :meth:`to_local`: arrays of lon/lat degrees -> arrays of x, y metres."""
        lon_a = np.asarray(lon, dtype=float)
        lat_a = np.asarray(lat, dtype=float)
        # Wrap the longitude difference into [-180, 180) so worlds across the antimeridian work.
        dlon = np.radians((lon_a - self.lon0 + 180.0) % 360.0 - 180.0)
        x, y = _tm_forward(dlon, np.radians(lat_a))
        return x, y - self._y0

    def to_lonlat_arrays(self, x: ArrayLike, y: ArrayLike
                         ) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Vectorised :meth:`to_lonlat`: arrays of x, y metres -> arrays of lon, lat degrees."""
        x_a = np.asarray(x, dtype=float)
        y_a = np.asarray(y, dtype=float) + self._y0
        dlon, lat = _tm_inverse(x_a, y_a)
        lon = (self.lon0 + np.degrees(dlon) + 180.0) % 360.0 - 180.0
        return lon, np.degrees(lat)

    def to_local_coords(self, lonlat: ArrayLike) -> NDArray[np.float64]:
        """An (N, 2) array of lon/lat -> an (N, 2) array of x/y."""
        a = np.asarray(lonlat, dtype=float).reshape(-1, 2)
        x, y = self.to_local_arrays(a[:, 0], a[:, 1])
        return np.column_stack([x, y])

    def to_lonlat_coords(self, xy: ArrayLike) -> NDArray[np.float64]:
        """An (N, 2) array of x/y -> an (N, 2) array of lon/lat."""
        a = np.asarray(xy, dtype=float).reshape(-1, 2)
        lon, lat = self.to_lonlat_arrays(a[:, 0], a[:, 1])
        return np.column_stack([lon, lat])

    # -- scalars -----------------------------------------------------------------------------

    def to_local(self, lon: float, lat: float) -> tuple[float, float]:
        """Degrees lon/lat -> metres (x east, y north) from the origin."""
        x, y = self.to_local_arrays(np.array([lon]), np.array([lat]))
        return (float(x[0]) + 0.0, float(y[0]) + 0.0)  # + 0.0 turns -0.0 into 0.0

    def to_lonlat(self, x: float, y: float) -> tuple[float, float]:
        """Metres from the origin -> degrees lon/lat."""
        lon, lat = self.to_lonlat_arrays(np.array([x]), np.array([y]))
        return (float(lon[0]), float(lat[0]))

    # -- shapely -----------------------------------------------------------------------------

    def project(self, geom: G) -> G:
        """A shapely geometry in lon/lat -> the same geometry in local metres."""
        return project_geometry(self, geom)

    def unproject(self, geom: G) -> G:
        """A shapely geometry in local metres -> the same geometry in lon/lat."""
        return unproject_geometry(self, geom)


G = TypeVar("G", bound=BaseGeometry)


def project_geometry(projection: LocalProjection, geom: G) -> G:
    """Map every coordinate of a lon/lat shapely geometry to local metres."""
    return shapely.transform(geom, projection.to_local_coords)  # type: ignore[no-any-return]


def unproject_geometry(projection: LocalProjection, geom: G) -> G:
    """Map every coordinate of a local-metre shapely geometry to lon/lat."""
    return shapely.transform(geom, projection.to_lonlat_coords)  # type: ignore[no-any-return]


def origin_for(lonlat: ArrayLike) -> LocalProjection:
    """A projection centred on the bounding box of some lon/lat points (rounded to 1e-6 deg)."""
    a = np.asarray(lonlat, dtype=float).reshape(-1, 2)
    if a.size == 0:
        return LocalProjection(0.0, 0.0)
    lon = (float(a[:, 0].min()) + float(a[:, 0].max())) / 2.0
    lat = (float(a[:, 1].min()) + float(a[:, 1].max())) / 2.0
    return LocalProjection(round(lon, 6), round(lat, 6))
