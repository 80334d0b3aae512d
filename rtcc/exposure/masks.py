"""Privacy masks on the map: which ground a camera's masks hide, and Ring-style mask policies.

A mask is a rectangle in normalised frame coordinates (``rtcc.world.model.Mask``). To take it off
the visibility polygon, its outline is sampled in pixels, each sample's viewing ray is followed
down to the ground, and the ground points form the masked region: where a person's feet are
hidden. For full-height masks (the form Ring Privacy Zones take in this analysis) that is exactly
where the whole person is hidden. Rays above the horizon run out to ``range`` along their bearing.

The optics are the ones the simulated cameras render with (simulators/projection.py, which rtcc
may not import): mount height, a default downward tilt that puts the middle of the useful range
near the picture centre, equidistant fisheye or pinhole lens, square pixels.

:func:`ring_masks` is a counterfactual policy modelled on Ring Privacy Zones (at most two
rectangles, each at least ~15 % of the frame): for each camera, the frame's columns whose visible
ground is mostly non-consenting neighbours' parcels are masked, as up to two full-height strips.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

import numpy as np
import shapely
from numpy.typing import NDArray
from shapely.geometry import Polygon
from shapely.geometry.base import BaseGeometry

from rtcc.exposure.static import HouseholdIndex
from rtcc.world.model import Camera, Mask, World

MAX_MASKS = 2
MIN_MASK_WIDTH = 0.15
"""Ring Privacy Zones: at most 2 rectangles, each at least ~15 % of the frame (DOMAIN.md)."""
_SAMPLES_PER_SIDE = 24
_COLUMNS = 40


def _tilt(camera: Camera) -> float:
    raw = camera.attributes.get("tilt") if camera.attributes else None
    if isinstance(raw, int | float) and not isinstance(raw, bool) and math.isfinite(raw):
        return math.radians(float(np.clip(raw, -89.0, 89.0)))
    down = math.degrees(math.atan2(camera.mount_height, 0.25 * max(camera.range, 1.0)))
    return -math.radians(min(45.0, max(6.0, down)))


def pixel_rays(camera: Camera, u: NDArray[np.float64], v: NDArray[np.float64]
               ) -> NDArray[np.float64]:
    """World directions (n, 3) of the rays through normalised frame points (u, v in 0..1)."""
    w, h = float(camera.width), float(camera.height)
    fov = math.radians(min(camera.fov, 170.0) if camera.lens == "rectilinear" else camera.fov)
    px, py = (u - 0.5) * w, (v - 0.5) * h
    if camera.lens == "rectilinear":
        f = (w / 2.0) / math.tan(fov / 2.0)
        cx, cy, cz = px / f, -py / f, np.ones_like(px)
    else:
        f = w / fov
        rho = np.hypot(px, py)
        theta = rho / f
        scale = np.where(rho > 0, np.sin(theta) / np.maximum(rho, 1e-12), 0.0)
        cx, cy, cz = px * scale, -py * scale, np.cos(theta)
    heading, tilt = camera.heading_rad, _tilt(camera)
    ch, sh, ct, st = math.cos(heading), math.sin(heading), math.cos(tilt), math.sin(tilt)
    forward = np.array([ct * ch, ct * sh, st])
    right = np.array([sh, -ch, 0.0])
    up = np.array([-st * ch, -st * sh, ct])
    d = cx[:, None] * right + cy[:, None] * up + cz[:, None] * forward
    out: NDArray[np.float64] = d / np.linalg.norm(d, axis=1, keepdims=True)
    return out


def ground_points(camera: Camera, u: NDArray[np.float64], v: NDArray[np.float64]
                  ) -> NDArray[np.float64]:
    """Where the rays through frame points meet the ground, capped at the camera's range."""
    d = pixel_rays(camera, u, v)
    horiz = np.hypot(d[:, 0], d[:, 1])
    far = camera.range * 1.05
    # Ground hit at parameter s = h / -dz when looking down; else run out to the range.
    with np.errstate(divide="ignore", invalid="ignore"):
        dist = np.where(d[:, 2] < -1e-9, camera.mount_height / -d[:, 2] * horiz, far)
    dist = np.minimum(dist, far)
    bx = np.where(horiz > 1e-12, d[:, 0] / np.maximum(horiz, 1e-12), 0.0)
    by = np.where(horiz > 1e-12, d[:, 1] / np.maximum(horiz, 1e-12), 0.0)
    x0, y0 = camera.xy
    return np.column_stack([x0 + bx * dist, y0 + by * dist])


def mask_region(camera: Camera, mask: Mask) -> BaseGeometry:
    """The ground hidden by one mask (a polygon; empty when degenerate)."""
    n = _SAMPLES_PER_SIDE
    x0, y0 = max(0.0, mask.x), max(0.0, mask.y)
    x1, y1 = min(1.0, mask.x + mask.w), min(1.0, mask.y + mask.h)
    if x1 <= x0 or y1 <= y0:
        return Polygon()
    t = np.linspace(0.0, 1.0, n, endpoint=False)
    u = np.concatenate([x0 + (x1 - x0) * t, np.full(n, x1), x1 - (x1 - x0) * t, np.full(n, x0)])
    v = np.concatenate([np.full(n, y0), y0 + (y1 - y0) * t, np.full(n, y1), y1 - (y1 - y0) * t])
    pts = ground_points(camera, u, v)
    # make_valid untangles the few outlines that fold over near the horizon.
    parts = [shapely.make_valid(Polygon(pts))]
    if y1 >= 0.999:
        # The ground between the camera's foot and the bottom row is outside the frame but
        # inside the visibility polygon's apex: a mask down to the bottom edge hides it too.
        bottom = pts[2 * n:3 * n + 1]  # the bottom edge, x1 -> x0, and its last corner
        parts.append(shapely.make_valid(Polygon([camera.xy, *map(tuple, bottom)])))
    return shapely.union_all(parts)


def masked_view(camera: Camera, view: BaseGeometry, masks: tuple[Mask, ...] | None = None
                ) -> BaseGeometry:
    """``view`` minus the ground hidden by ``masks`` (default: the camera's own masks)."""
    chosen = camera.masks if masks is None else masks
    if not chosen or view.is_empty:
        return view
    hidden = shapely.union_all([mask_region(camera, m) for m in chosen])
    return shapely.difference(view, hidden)


def column_bearings(camera: Camera, columns: int = _COLUMNS) -> NDArray[np.float64]:
    """Bearing edges (math radians) of ``columns`` equal frame columns, on the horizon row."""
    u = np.linspace(0.0, 1.0, columns + 1)
    d = pixel_rays(camera, u, np.full(columns + 1, 0.5))
    return np.arctan2(d[:, 1], d[:, 0])


def _wedge(camera: Camera, a0: float, a1: float) -> Polygon:
    cx, cy = camera.xy
    r = camera.range * 1.1
    da = (a1 - a0 + math.pi) % (2 * math.pi) - math.pi
    ang = a0 + np.linspace(0.0, da, 6)
    pts = [(cx, cy), *zip(cx + r * np.cos(ang), cy + r * np.sin(ang), strict=True)]
    return Polygon(pts)


def ring_masks(world: World, camera: Camera, view: BaseGeometry,
               non_consenting: Callable[[str], bool],
               index: HouseholdIndex | None = None) -> tuple[Mask, ...]:
    """Up to two full-height strips (each >= 15 % wide) over the neighbours' parcels."""
    if view.is_empty:
        return ()
    idx = index or HouseholdIndex.of(world)
    edges = column_bearings(camera)
    wedges = np.asarray([_wedge(camera, float(edges[i]), float(edges[i + 1]))
                         for i in range(len(edges) - 1)], dtype=object)
    seen = shapely.intersection(wedges, view)
    seen_area = shapely.area(seen)
    near = [h for h in idx.parcel_tree.query(view, predicate="intersects").tolist()
            if idx.ids[h] != camera.household and non_consenting(idx.ids[h])]
    if not near:
        return ()
    parcels = idx.parcels[np.asarray(near, dtype=np.int64)]
    k = len(near)
    neighbour = shapely.area(shapely.intersection(np.repeat(seen, k), np.tile(parcels, len(seen)))
                             ).reshape(len(seen), k).sum(axis=1)
    # Mask a column when most of what it shows is neighbours' ground (not the owner's own
    # parcel, not public space).
    weights = np.where(neighbour > 0.5 * seen_area, neighbour, 0.0)
    return _strips(weights)


def _strips(weights: NDArray[np.float64]) -> tuple[Mask, ...]:
    n = len(weights)
    min_cols = math.ceil(MIN_MASK_WIDTH * n)
    runs: list[tuple[float, int, int]] = []
    i = 0
    while i < n:
        if weights[i] > 0:
            j = i
            while j < n and weights[j] > 0:
                j += 1
            runs.append((float(weights[i:j].sum()), i, j))
            i = j
        else:
            i += 1
    runs.sort(reverse=True)
    chosen: list[tuple[int, int]] = []
    for _, a, b in runs[:MAX_MASKS]:
        if b - a < min_cols:  # widen to the minimum size, staying inside the frame
            grow = min_cols - (b - a)
            a = max(0, a - grow // 2)
            b = min(n, a + min_cols)
            a = b - min_cols
        chosen.append((a, b))
    chosen.sort()
    merged: list[tuple[int, int]] = []
    for a, b in chosen:
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(b, merged[-1][1]))
        else:
            merged.append((a, b))
    return tuple(Mask(a / n, 0.0, (b - a) / n, 1.0) for a, b in merged)


def apply_policy(world: World, cameras: Mapping[str, Camera], views: Mapping[str, BaseGeometry],
                 policy: str, non_consenting: Callable[[str], bool],
                 only: set[str] | None = None) -> tuple[dict[str, BaseGeometry], dict[str, int]]:
    """Masked views of every camera under ``policy`` (``world`` or ``ring``), and mask counts.

    ``only`` limits the policy to some cameras (the live private ones); others keep their view.
    """
    out: dict[str, BaseGeometry] = {}
    counts: dict[str, int] = {}
    idx = HouseholdIndex.of(world) if policy == "ring" else None
    for cid, view in views.items():
        cam = cameras[cid]
        if only is not None and cid not in only:
            out[cid] = view
            continue
        if policy == "world":
            masks = cam.masks
        elif policy == "ring":
            masks = ring_masks(world, cam, view, non_consenting, idx)
        else:
            raise ValueError(f"unknown mask policy {policy!r}")
        counts[cid] = len(masks)
        out[cid] = masked_view(cam, view, masks)
    return out, counts
