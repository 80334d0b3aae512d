"""A camera's optics in world terms: per-pixel viewing rays and world-point -> pixel projection.

The camera sits at its world position, ``mount_height`` metres above the ground, looks along its
``direction`` (degrees clockwise from north) tilted slightly down, with no roll. Two lenses:

- ``rectilinear`` (pinhole): focal length f = (W / 2) / tan(HFOV / 2) pixels; straight lines stay
  straight. The field of view is clamped to 170 deg, past which a pinhole image is meaningless.
- ``fisheye`` (equidistant, the better model of wide doorbell lenses, as in DOMAIN.md): a ray at
  angle theta from the optical axis lands rho = k * theta pixels from the centre, with
  k = W / HFOV_rad; the horizon bends, as it does on a real doorbell.

Square pixels: the vertical field of view follows from the frame's aspect ratio. The tilt is
``camera.attributes["tilt"]`` (degrees, negative = down) when given, else a default that puts the
middle of the useful range near the picture centre (at least 6 deg down).
Pure numpy; everything here is computed once per camera except :meth:`CameraPose.project`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from rtcc.world.model import Camera

MAX_RECTILINEAR_FOV = 170.0


def default_tilt(camera: Camera) -> float:
    """Degrees (negative = down) a camera of this mount height and range looks down."""
    raw = camera.attributes.get("tilt") if camera.attributes else None
    if isinstance(raw, int | float) and not isinstance(raw, bool) and math.isfinite(raw):
        return float(np.clip(raw, -89.0, 89.0))
    down = math.degrees(math.atan2(camera.mount_height, 0.25 * max(camera.range, 1.0)))
    return -min(45.0, max(6.0, down))


@dataclass(frozen=True, slots=True)
class CameraPose:
    x: float
    y: float
    h: float
    """Mount height above the ground, metres."""
    heading: float
    """Optical axis azimuth, radians counter-clockwise from east."""
    tilt: float
    """Radians, negative = looking down."""
    hfov: float
    """Horizontal field of view, radians (as rendered)."""
    lens: str
    width: int
    height: int
    _basis: tuple[np.ndarray, np.ndarray, np.ndarray] = field(init=False, repr=False,
                                                             compare=False)
    _flat: tuple[float, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        ch, sh = math.cos(self.heading), math.sin(self.heading)
        ct, st = math.cos(self.tilt), math.sin(self.tilt)
        forward = np.array([ct * ch, ct * sh, st])
        right = np.array([sh, -ch, 0.0])
        up = np.array([-st * ch, -st * sh, ct])
        object.__setattr__(self, "_basis", (right, up, forward))
        object.__setattr__(self, "_flat", (*right.tolist(), *up.tolist(), *forward.tolist(),
                                           self.focal))

    @classmethod
    def of(cls, camera: Camera, width: int, height: int) -> CameraPose:
        fov = camera.fov
        if camera.lens == "rectilinear":
            fov = min(fov, MAX_RECTILINEAR_FOV)
        return cls(camera.position.x, camera.position.y, max(0.05, camera.mount_height),
                   camera.heading_rad, math.radians(default_tilt(camera)), math.radians(fov),
                   camera.lens, int(width), int(height))

    @property
    def focal(self) -> float:
        """Pixels per unit tangent (rectilinear) or per radian (fisheye)."""
        if self.lens == "rectilinear":
            return (self.width / 2.0) / math.tan(self.hfov / 2.0)
        return self.width / self.hfov

    def axes(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(right, up, forward) unit vectors of the camera in world (x east, y north, z up)."""
        return self._basis

    def rays(self) -> np.ndarray:
        """(H, W, 3) unit world directions of the rays through every pixel centre."""
        w, h = self.width, self.height
        px = (np.arange(w) + 0.5 - w / 2.0)[None, :]
        py = (np.arange(h) + 0.5 - h / 2.0)[:, None]
        px, py = np.broadcast_to(px, (h, w)), np.broadcast_to(py, (h, w))
        f = self.focal
        if self.lens == "rectilinear":
            cx, cy, cz = px / f, -py / f, np.ones((h, w))
        else:
            rho = np.hypot(px, py)
            theta = rho / f
            scale = np.where(rho > 0, np.sin(theta) / np.maximum(rho, 1e-12), 0.0)
            cx, cy, cz = px * scale, -py * scale, np.cos(theta)
        right, up, forward = self.axes()
        d = (cx[..., None] * right + cy[..., None] * up + cz[..., None] * forward)
        return d / np.linalg.norm(d, axis=-1, keepdims=True)

    def project_point(self, x: float, y: float, z: float) -> tuple[float, float] | None:
        """Pixel (u, v) of one world point, or None when it is not in front of the lens.

        The scalar twin of :meth:`project` for the per-person hot path: a few dozen float
        operations instead of a dozen small numpy calls."""
        rx, ry, _, ux, uy, uz, fx, fy, fz, f = self._flat
        dx, dy, dz = x - self.x, y - self.y, z - self.h
        xc = dx * rx + dy * ry
        yc = dx * ux + dy * uy + dz * uz
        zc = dx * fx + dy * fy + dz * fz
        if self.lens == "rectilinear":
            if zc <= 1e-6:
                return None
            return (self.width / 2.0 + f * xc / zc, self.height / 2.0 - f * yc / zc)
        r = math.hypot(xc, yc)
        theta = math.atan2(r, zc)
        if theta >= math.pi - 1e-6:
            return None
        k = f * theta / r if r > 0 else 0.0
        return (self.width / 2.0 + xc * k, self.height / 2.0 - yc * k)

    def project(self, pts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Pixel coordinates (u, v) of world points (n, 3) and whether each is in front.

        A point behind a rectilinear camera, or beyond 180 deg of a fisheye, is not in front
        (its u, v are meaningless).
        """
        right, up, forward = self.axes()
        rel = np.asarray(pts, dtype=float) - np.array([self.x, self.y, self.h])
        xc, yc, zc = rel @ right, rel @ up, rel @ forward
        f = self.focal
        if self.lens == "rectilinear":
            front = zc > 1e-6
            zs = np.where(front, zc, 1.0)
            u, v = xc / zs * f, -yc / zs * f
        else:
            r = np.hypot(xc, yc)
            theta = np.arctan2(r, zc)
            front = theta < math.pi - 1e-6
            k = np.where(r > 0, f * theta / np.maximum(r, 1e-12), 0.0)
            u, v = xc * k, -yc * k
        return u + self.width / 2.0, v + self.height / 2.0, front
