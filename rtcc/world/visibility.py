"""What each camera can see on the map: its visibility polygon.

A camera sees the part of its field-of-view sector (apex at the camera, ``fov`` wide around
``direction``, out to ``range``) that no building hides. Every building occludes except the one the
camera is mounted on (``World.mount_building``). The answer is a polygon that is star-shaped from
the camera, computed by exact ray casting:

1. The candidate buildings come from one bulk STRtree query of every camera's range box; the
   candidate edges are those passing within ``range`` of the camera.
2. The only bearings where the visible boundary can change its course are the *critical angles*:
   every building corner inside the range (one ray through it, or, at a silhouette corner, one
   ray 1e-6 rad to either side so that one stops at the corner and the other slips past it),
   every point where an edge crosses the range circle, the two sides of the sector and, only
   where buildings overlap, the crossings of their edges.
3. A numpy ray/segment intersection of all those rays against all candidate edges at once gives
   the nearest hit per ray, capped at the range.
4. Between two consecutive critical rays the boundary is either a piece of one edge (both rays hit
   it: a straight segment, exact) or the range arc (both reach the range: filled in with points
   every ``arc_step_deg`` degrees, the same arc resolution :func:`sector` uses). When both rays
   stop exactly on the range circle, a ray down the middle tells an edge crossing the whole gap
   from free space.

So the polygon is exact up to the arc's chords and the 1e-6 rad slivers at silhouette corners.
The arrays span all the cameras of a call (:mod:`rtcc.world.raycast`), so batch calls cost a few
hundred microseconds per camera or less; see ``load_tests/bench_visibility.py``.
:func:`naive_visibility` is the textbook alternative (one shapely difference per building: the
sector minus each building's shadow), kept as the benchmark's baseline and as an independent
cross-check in the tests.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
import shapely
from numpy.typing import NDArray
from shapely.geometry import Polygon
from shapely.geometry.base import BaseGeometry

from rtcc.world.index import WorldIndex
from rtcc.world.model import ENTRANCE_TOLERANCE, Camera, World
from rtcc.world.raycast import Batch, cast_batch

ARC_STEP_DEG = 0.5
"""Default spacing of points along the range arc; the chord error is about 1e-5 of the range."""
_TWO_PI = 2.0 * math.pi

FloatArray = NDArray[np.float64]


def sector(camera: Camera, arc_step_deg: float = ARC_STEP_DEG) -> Polygon:
    """The field-of-view sector out to the camera's range (a disk for a 360-degree camera)."""
    cx, cy = camera.xy
    full = camera.fov >= 360.0
    span = _TWO_PI if full else math.radians(camera.fov)
    start = camera.heading_rad - span / 2.0
    n = max(2, math.ceil(math.degrees(span) / arc_step_deg) + 1)
    ang = start + np.linspace(0.0, span, n)
    arc = np.column_stack([cx + camera.range * np.cos(ang), cy + camera.range * np.sin(ang)])
    if full:
        return Polygon(arc[:-1])
    return Polygon(np.vstack([[cx, cy], arc]))


def _batch(world: World, cams: list[Camera]) -> Batch:
    """The cameras and their candidate edges: one tree query and one mount query for all."""
    index = world.index
    xy = np.array([c.xy for c in cams], dtype=float).reshape(-1, 2)
    rng = np.array([c.range for c in cams], dtype=float)
    full = np.array([c.fov >= 360.0 for c in cams], dtype=bool)
    span = np.where(full, _TWO_PI, np.radians([c.fov for c in cams]))
    start = np.array([c.heading_rad for c in cams], dtype=float) - span / 2.0
    boxes = shapely.box(xy[:, 0] - rng, xy[:, 1] - rng, xy[:, 0] + rng, xy[:, 1] + rng)
    cam_i, bld_i = index.building_tree.query(boxes)
    order = np.lexsort((bld_i, cam_i))
    cam_i, bld_i = cam_i[order].astype(np.int64), bld_i[order].astype(np.int64)
    # The building a camera is mounted on does not occlude its view.
    own = index.mount_indices(cams)
    occludes = bld_i != own[cam_i]
    cam_i, bld_i = cam_i[occludes], bld_i[occludes]
    crossings = np.bincount(cam_i, weights=index.overlapping[bld_i],
                            minlength=len(cams)) > 0
    idx = index.edge_indices(bld_i)
    ecam = np.repeat(cam_i, index.edge_count[bld_i])
    nxt = index.edge_next[idx]
    return Batch(xy[:, 0].copy(), xy[:, 1].copy(), start, span, rng, full, ecam,
                 index.px[idx], index.py[idx], index.qx[idx], index.qy[idx], index.qx[nxt],
                 index.qy[nxt], crossings)


def visibility_polygon(world: World, camera: Camera | str, *,
                       arc_step_deg: float = ARC_STEP_DEG) -> Polygon:
    """The visibility polygon of one camera (see the module docstring)."""
    cam = world.cameras[camera] if isinstance(camera, str) else camera
    return cast_batch(_batch(world, [cam]), arc_step_deg)[0]


def visibility_polygons(world: World, cameras: Iterable[Camera | str] | None = None, *,
                        arc_step_deg: float = ARC_STEP_DEG) -> dict[str, Polygon]:
    """Visibility polygons of many cameras (all of the world's by default), keyed by camera id.

    All cameras go through the ray caster together (:mod:`rtcc.world.raycast`): one STRtree
    query, one mount query and array operations over every camera's rays and edges at once.
    """
    cams = [world.cameras[c] if isinstance(c, str) else c
            for c in (world.cameras.values() if cameras is None else cameras)]
    if not cams:
        return {}
    polys = cast_batch(_batch(world, cams), arc_step_deg)
    return {cam.id: poly for cam, poly in zip(cams, polys, strict=True)}


def households_in_view(world: World, camera: Camera | str,
                       polygon: BaseGeometry | None = None, min_area: float = 1.0
                       ) -> tuple[str, ...]:
    """Households in view of a camera, per the world-file rule, in world order.

    A household is in view when ``polygon`` (by default the camera's visibility polygon)
    covers at least ``min_area`` m² of its parcel or contains its entrance. An entrance within
    1 cm of the polygon counts as contained: entrances sit on facades, and a facade seen from
    across the street is exactly where the visibility polygon ends. The camera's own
    household is included when it qualifies.
    """
    cam = world.cameras[camera] if isinstance(camera, str) else camera
    if polygon is None:
        polygon = visibility_polygon(world, cam)
    if polygon.is_empty:
        return ()
    idx = world.index
    shapely.prepare(polygon)
    hit = np.union1d(idx.parcels_covered(polygon, min_area),
                     idx.entrances_within(polygon, ENTRANCE_TOLERANCE))
    return tuple(idx.household_ids[i] for i in hit.tolist())


def _occluding(index: WorldIndex, camera: Camera, buildings: NDArray[np.int64]
               ) -> NDArray[np.int64]:
    own = index.mount_index(camera)
    return buildings[buildings != own] if own >= 0 else buildings


# -- the naive baseline ------------------------------------------------------------------------


def shadow(camera: Camera, footprint: Polygon, reach: float) -> Polygon:
    """The footprint together with the region it hides from the camera, out to ``reach``.

    For a convex footprint this is the convex hull of its corners and of far points (beyond
    ``reach`` and the building, at most 60 degrees apart) across the bearings it spans;
    otherwise the union of the footprint with each edge's shadow quadrilateral.
    """
    cx, cy = camera.xy
    ring = np.asarray(footprint.exterior.coords)[:-1]
    rel = ring - (cx, cy)
    # Far points must lie beyond both the range and the building itself.
    far = 2.0 * (reach + float(np.sqrt((rel * rel).sum(axis=1)).max()))
    if footprint.contains(shapely.Point(cx, cy)):
        return shapely.Point(cx, cy).buffer(far, 64)  # type: ignore[no-any-return]
    hull = footprint.convex_hull
    if footprint.interiors or hull.area > footprint.area * (1.0 + 1e-9):
        quads = []
        coords = [np.asarray(footprint.exterior.coords)]
        coords += [np.asarray(r.coords) for r in footprint.interiors]
        for c in coords:
            for a, b in zip(c[:-1], c[1:], strict=True):
                quads.append(_edge_shadow(cx, cy, a, b, far))
        return shapely.union_all([footprint, *quads])  # type: ignore[no-any-return]
    ang = np.arctan2(rel[:, 1], rel[:, 0])
    # The footprint's bearings as seen from the camera, unwrapped around its centre bearing.
    mid = math.atan2(footprint.centroid.y - cy, footprint.centroid.x - cx)
    d = (ang - mid + math.pi) % _TWO_PI - math.pi
    lo, hi = d.min(), d.max()
    n = max(2, math.ceil((hi - lo) / math.radians(60.0)) + 1)
    fa = mid + np.linspace(lo, hi, n)
    fars = np.column_stack([cx + far * np.cos(fa), cy + far * np.sin(fa)])
    return shapely.MultiPoint(np.vstack([ring, fars])).convex_hull  # type: ignore[no-any-return]


def _edge_shadow(cx: float, cy: float, a: FloatArray, b: FloatArray, far: float) -> Polygon:
    """The region one edge hides: between the edge and its far images (bearings <= 60 deg apart)."""
    aa = math.atan2(a[1] - cy, a[0] - cx)
    ab = math.atan2(b[1] - cy, b[0] - cx)
    diff = (ab - aa + math.pi) % _TWO_PI - math.pi
    n = max(2, math.ceil(abs(diff) / math.radians(60.0)) + 1)
    fa = aa + np.linspace(0.0, diff, n)
    fars = np.column_stack([cx + far * np.cos(fa), cy + far * np.sin(fa)])
    return shapely.Polygon(np.vstack([[a], [b], fars[::-1]])).buffer(0)  # type: ignore[no-any-return]


def naive_visibility(world: World, camera: Camera | str, *, arc_step_deg: float = ARC_STEP_DEG,
                     use_index: bool = True) -> BaseGeometry:
    """The sector minus each occluding building's shadow: one shapely difference per building.

    With ``use_index`` only buildings whose box meets the range box are visited (the STRtree
    query is shared with the fast method); without it, every building of the world is.
    """
    cam = world.cameras[camera] if isinstance(camera, str) else camera
    index = world.index
    view: BaseGeometry = sector(cam, arc_step_deg)
    cx, cy = cam.xy
    if use_index:
        rng = cam.range
        cand = index.building_tree.query(shapely.box(cx - rng, cy - rng, cx + rng, cy + rng))
        cand = np.sort(cand).astype(np.int64)
    else:
        cand = np.arange(len(world.buildings), dtype=np.int64)
    for i in _occluding(index, cam, cand).tolist():
        view = view.difference(shadow(cam, world.buildings[i].footprint, cam.range))
    return view
