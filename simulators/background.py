"""A camera's static picture: sky, ground and houses, ray-cast once per camera.

Everything that does not move is rendered once, when a camera starts, into an I420 frame plus a
per-pixel *occluder depth* (ground distance to the building surface a pixel shows, inf for sky and
ground) that the per-frame renderer uses to hide people behind houses.

The world is 2.5-D: a flat ground plane (street, sidewalks, lawns, front paths), and buildings as
extruded footprints (walls with windows and the household's front door) topped by a stepped hip
roof (the footprint inset three times, each step 0.6 m higher). Ray casting is vectorised in two
stages: the 2-D rays of a few thousand azimuth bins across the view are intersected with every
nearby building edge at once (B x E arrays), keeping the ``K`` nearest prisms per bin; then every
pixel resolves its own elevation against those K prisms and the ground plane. No per-pixel Python.
The camera's own building (the one it is mounted on) does not occlude, as in the world's
visibility; a wall-mounted camera instead sees its own wall wherever it looks back past the wall
plane (the corners of a wide fisheye), painted as a dim wall close to the lens.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry import LineString, Polygon, box
from shapely.geometry.base import BaseGeometry
from shapely.ops import nearest_points

from rtcc.world.model import Building, Camera, World
from simulators import colours as col
from simulators.projection import CameraPose

DRAW_DISTANCE = 160.0
"""Metres: buildings and ground detail beyond this are left to the haze."""
K_NEAREST = 6
OWN_WALL_DEPTH = 0.3
ROOF_STEPS = 3
ROOF_INSET = 1.2
ROOF_RISE = 0.6
_SUN = np.array([math.cos(-math.pi / 4), math.sin(-math.pi / 4)])  # from the south-east
_FOG = 350.0
MAX_CAST_SIDE = 960
"""Larger pictures are ray-cast at a fraction of their size (see render_background)."""
_BIN = math.radians(0.1)  # a pixel of a 160 deg, 640 px fisheye is 0.25 deg


@dataclass(frozen=True, slots=True)
class Background:
    frame: np.ndarray
    """(H * 3 / 2, W) uint8 I420, read-only."""
    occluder: np.ndarray
    """(H, W) float16 ground distance (m) to the building a pixel shows; inf elsewhere (half
    precision: centimetres near the lens, decimetres at 100 m, and half the memory per camera)."""
    depth: np.ndarray
    """(H, W) float16 ground distance (m) to whatever a pixel shows; inf for the sky (the night
    view's infrared falloff uses it)."""


@dataclass(slots=True)
class _Prisms:
    a: np.ndarray  # (E, 2) edge start
    b: np.ndarray  # (E, 2) edge end
    normal: np.ndarray  # (E, 2) outward unit normal
    starts: np.ndarray  # (P + 1,) edge offsets per prism
    top: np.ndarray  # (P,) height of the prism's top, m
    wall: np.ndarray  # (P,) bool: the building's walls (not a roof step)
    colour: np.ndarray  # (P, 3) rgb
    door: np.ndarray  # (P, 2) entrance xy on this building's walls (nan if none)
    door_colour: np.ndarray  # (P, 3)
    storeys: np.ndarray  # (P,) int


def _height(b: Building) -> tuple[float, int]:
    attrs = b.attributes or {}
    raw = attrs.get("height")
    if isinstance(raw, int | float) and not isinstance(raw, bool) and 2.0 <= raw <= 300.0:
        return float(raw), max(1, round(raw / 3.0))
    storeys = 1 + zlib.crc32(b.id.encode()) % 2
    return (3.2 if storeys == 1 else 5.8), storeys


def _rings(poly: Polygon) -> np.ndarray:
    ring = np.asarray(shapely.orient_polygons(poly).exterior.coords)[:, :2]
    return ring


def _prisms(world: World, camera: Camera, exclude: str | None,
            view: tuple[float, float, float]) -> _Prisms:
    """The prisms (walls and roof steps) of buildings that can show in the view: within the
    draw distance and, unless very close, with a corner inside the azimuth span ``view`` =
    (heading, lowest, highest relative azimuth) that the picture covers."""
    cx, cy = camera.xy
    near = world.building_tree.query(box(cx - DRAW_DISTANCE, cy - DRAW_DISTANCE,
                                         cx + DRAW_DISTANCE, cy + DRAW_DISTANCE))
    heading, lo, hi = view
    a_l, b_l, n_l, starts = [], [], [], [0]
    top, wall, colour, door, door_col, storeys = [], [], [], [], [], []
    for i in sorted(int(k) for k in near):
        bld = world.buildings[i]
        if bld.id == exclude or not isinstance(bld.footprint, Polygon) or bld.footprint.is_empty:
            continue
        corners = np.asarray(bld.footprint.exterior.coords)[:, :2] - (cx, cy)
        dist = np.hypot(corners[:, 0], corners[:, 1])
        if dist.min() > DRAW_DISTANCE:
            continue
        rel = (np.arctan2(corners[:, 1], corners[:, 0]) - heading + math.pi) % (2 * math.pi) \
            - math.pi
        if dist.min() > 20.0 and not ((rel >= lo) & (rel <= hi)).any():
            continue
        height, floors = _height(bld)
        hh = world.households.get(bld.household) if bld.household else None
        entrance = (np.array([hh.entrance.x, hh.entrance.y])
                    if hh is not None and hh.entrance is not None else np.array([np.nan, np.nan]))
        wall_rgb = col.pick(col.HOUSE_WALLS, bld.id)
        roof_rgb = col.pick(col.ROOFS, bld.id, 1)
        shapes: list[tuple[Polygon, float, bool]] = [(bld.footprint, height, True)]
        for step in range(1, ROOF_STEPS + 1):
            inset = bld.footprint.buffer(-ROOF_INSET * step, join_style="mitre")
            if isinstance(inset, Polygon) and not inset.is_empty and inset.area > 1.0:
                shapes.append((inset, height + ROOF_RISE * step, False))
        for poly, z, is_wall in shapes:
            ring = _rings(poly)
            a, b = ring[:-1], ring[1:]
            d = b - a
            length = np.maximum(np.hypot(d[:, 0], d[:, 1]), 1e-12)
            a_l.append(a)
            b_l.append(b)
            n_l.append(np.column_stack([d[:, 1], -d[:, 0]]) / length[:, None])
            starts.append(starts[-1] + len(a))
            top.append(z)
            wall.append(is_wall)
            colour.append(wall_rgb if is_wall else tuple(min(1.0, c * (1.0 + 0.08 * (z - height)))
                                                         for c in roof_rgb))
            door.append(entrance)
            door_col.append(col.pick(col.DOORS, bld.id, 2))
            storeys.append(floors)
    if not a_l:
        e2 = np.zeros((0, 2))
        return _Prisms(e2, e2, e2, np.zeros(1, dtype=np.int64), np.zeros(0), np.zeros(0, bool),
                       np.zeros((0, 3)), e2, np.zeros((0, 3)), np.zeros(0, dtype=np.int64))
    return _Prisms(np.vstack(a_l), np.vstack(b_l), np.vstack(n_l), np.array(starts),
                   np.array(top), np.array(wall), np.array(colour), np.array(door),
                   np.array(door_col), np.array(storeys))


def _cast(pr: _Prisms, origin: np.ndarray, az: np.ndarray) -> tuple[np.ndarray, ...]:
    """Per azimuth bin: entry, exit distance and entry edge of each prism, K nearest first."""
    n_bins, n_prisms = len(az), len(pr.top)
    k = min(K_NEAREST, n_prisms)
    if k == 0:
        empty = np.zeros((n_bins, 0))
        return empty, empty, np.zeros((n_bins, 0), dtype=np.int64), np.zeros((n_bins, 0),
                                                                               dtype=np.int64)
    d = np.column_stack([np.cos(az), np.sin(az)])  # (B, 2)
    e = pr.b - pr.a
    w = pr.a - origin
    entry = np.full((n_bins, n_prisms), np.inf)
    exit_ = np.full((n_bins, n_prisms), -np.inf)
    edge = np.zeros((n_bins, n_prisms), dtype=np.int64)
    for p in range(n_prisms):
        s0, s1 = pr.starts[p], pr.starts[p + 1]
        ee, ww = e[s0:s1], w[s0:s1]
        denom = d[:, :1] * ee[:, 1] - d[:, 1:] * ee[:, 0]  # (B, n)
        with np.errstate(divide="ignore", invalid="ignore"):
            s = (ww[:, 0] * ee[:, 1] - ww[:, 1] * ee[:, 0]) / denom
            u = (ww[:, 0] * d[:, 1:] - ww[:, 1] * d[:, :1]) / denom
        ok = (np.abs(denom) > 1e-12) & (s > 1e-6) & (u >= -1e-9) & (u <= 1 + 1e-9)
        s_in = np.where(ok, s, np.inf)
        j = np.argmin(s_in, axis=1)
        entry[:, p] = s_in[np.arange(n_bins), j]
        exit_[:, p] = np.where(ok, s, -np.inf).max(axis=1)
        edge[:, p] = s0 + j
    order = np.argsort(entry, axis=1, kind="stable")[:, :k]
    rows = np.arange(n_bins)[:, None]
    return entry[rows, order], exit_[rows, order], order, edge[rows, order]


def _ground_layers(world: World, camera: Camera) -> list[tuple[BaseGeometry, col.RGB]]:
    """Ground areas to paint, in drawing order (later wins), near the camera."""
    cx, cy = camera.xy
    area = box(cx - DRAW_DISTANCE, cy - DRAW_DISTANCE, cx + DRAW_DISTANCE, cy + DRAW_DISTANCE)
    parcels = [h.parcel for h in world.households.values() if h.parcel.intersects(area)]
    streets, sidewalks, centre = [], [], []
    for st in world.streets:
        g = st.geometry
        if not g.intersects(area):
            continue
        width = (st.attributes or {}).get("width")
        if st.kind == "sidewalk":
            w = float(width) if isinstance(width, int | float) else 1.8
            sidewalks.append(g if isinstance(g, Polygon) else g.buffer(w / 2, cap_style="flat"))
        else:
            w = float(width) if isinstance(width, int | float) else 8.0
            streets.append(g if isinstance(g, Polygon) else g.buffer(w / 2, cap_style="flat"))
            if isinstance(g, LineString):
                centre.append(g.buffer(0.12, cap_style="flat"))
    walk = shapely.union_all(sidewalks) if sidewalks else None
    paths = []
    if walk is not None and not walk.is_empty:
        for h in world.households.values():
            if h.entrance is None or not area.contains(h.entrance):
                continue
            _, q = nearest_points(h.entrance, walk)
            if h.entrance.distance(q) < 25.0:
                paths.append(LineString([h.entrance, q]).buffer(0.65, cap_style="flat"))
    layers: list[tuple[BaseGeometry, col.RGB]] = []
    for geoms, rgb in ((parcels, col.LAWN), (paths, col.FRONT_PATH), (streets, col.ASPHALT),
                       (sidewalks, col.CONCRETE), (centre, col.CENTRE_LINE)):
        if geoms:
            merged = shapely.union_all(geoms)
            shapely.prepare(merged)
            layers.append((merged, rgb))
    return layers


def render_background(world: World, camera: Camera, width: int, height: int,
                      *, exclude: str | None = None, chunk_rows: int = 48,
                      max_side: int = MAX_CAST_SIDE) -> Background:
    """Ray-cast the static view of ``camera`` at ``width`` x ``height``; ``exclude`` is the id
    of the building the camera is mounted on.

    Pictures larger than ``max_side`` are cast at an integer fraction of their size and scaled
    up (pixel doubling): the cast costs ~2 us per pixel, 5-9 s for a 1536x1536 camera, and the
    static picture gains nothing a camera stream shows from it (presets add grain on top)."""
    factor = max(1, -(-max(width, height) // max_side))
    if factor > 1:
        # even, so that the small picture has whole chroma samples
        sw, sh = 2 * -(-width // (2 * factor)), 2 * -(-height // (2 * factor))
        small = render_background(world, camera, sw, sh, exclude=exclude,
                                  chunk_rows=chunk_rows, max_side=max_side)
        return _scaled(small, factor, width, height)
    pose = CameraPose.of(camera, width, height)
    rays = pose.rays()
    hn = np.hypot(rays[..., 0], rays[..., 1])
    slope = rays[..., 2] / np.maximum(hn, 1e-9)  # metres up per metre along the ground
    az = np.arctan2(rays[..., 1], rays[..., 0])
    rel = (az - pose.heading + math.pi) % (2 * math.pi) - math.pi
    # Past the wall plane a mounted camera sees only its own wall (painted below).
    span = np.clip(rel, -math.pi / 2, math.pi / 2) if exclude is not None else rel
    lo, hi = float(span.min()), float(span.max())
    n_bins = int(np.clip(math.ceil((hi - lo) / _BIN), 16, 8192))
    bin_of = np.clip(((span - lo) / max(hi - lo, 1e-9) * n_bins).astype(np.int64), 0, n_bins - 1)
    centres = pose.heading + lo + (np.arange(n_bins) + 0.5) * (hi - lo) / n_bins
    origin = np.array([pose.x, pose.y])
    pr = _prisms(world, camera, exclude, (pose.heading, lo, hi))
    entry, exit_, prism, edge = _cast(pr, origin, centres)
    layers = _ground_layers(world, camera)

    rgb = np.empty((height, width, 3), dtype=np.float32)
    occluder = np.full((height, width), np.inf, dtype=np.float16)
    depth = np.full((height, width), np.inf, dtype=np.float16)
    for r0 in range(0, height, chunk_rows):
        rs = slice(r0, min(height, r0 + chunk_rows))
        rgb[rs], occluder[rs], depth[rs] = _shade(
            pose, pr, layers, slope[rs], az[rs], rays[rs, :, 2], entry[bin_of[rs]],
            exit_[bin_of[rs]], prism[bin_of[rs]], edge[bin_of[rs]])
    if exclude is not None:
        # Looking back past the plane of the wall the camera hangs on: that wall fills the view.
        behind = np.abs(rel) > math.pi / 2
        wall_rgb = np.array(col.pick(col.HOUSE_WALLS, exclude), dtype=np.float32) * 0.55
        rgb[behind] = wall_rgb
        occluder[behind] = OWN_WALL_DEPTH
        depth[behind] = OWN_WALL_DEPTH
    frame = col.rgb_to_i420(rgb)
    frame.flags.writeable = False
    return Background(frame, occluder, depth)


def _scaled(bg: Background, factor: int, width: int, height: int) -> Background:
    """``bg`` scaled up ``factor`` times by pixel repetition and cropped to width x height."""

    def up(a: np.ndarray, w: int, h: int) -> np.ndarray:
        return np.repeat(np.repeat(a, factor, axis=0), factor, axis=1)[:h, :w]

    planes = col.i420_planes(bg.frame)
    frame = np.empty((height * 3 // 2, width), dtype=np.uint8)
    out = col.i420_planes(frame)
    out[0][:] = up(planes[0], width, height)
    out[1][:] = up(planes[1], width // 2, height // 2)
    out[2][:] = up(planes[2], width // 2, height // 2)
    frame.flags.writeable = False
    return Background(frame, up(bg.occluder, width, height), up(bg.depth, width, height))


def _exact_entry(pose: CameraPose, pr: _Prisms, az: np.ndarray, s_in: np.ndarray,
                 edge: np.ndarray) -> np.ndarray:
    """Entry distances recomputed along each pixel's own azimuth against the edge its bin hit.

    The bins are 0.1 deg wide; a wall seen at a grazing angle would otherwise get a wavy top.
    Where the pixel's ray misses that edge (at a corner) the bin's distance stays."""
    dx, dy = np.cos(az)[..., None], np.sin(az)[..., None]
    a, e = pr.a[edge], pr.b[edge] - pr.a[edge]
    wx, wy = a[..., 0] - pose.x, a[..., 1] - pose.y
    with np.errstate(invalid="ignore", divide="ignore"):
        denom = dx * e[..., 1] - dy * e[..., 0]
        s = (wx * e[..., 1] - wy * e[..., 0]) / denom
        u = (wx * dy - wy * dx) / denom
    ok = np.isfinite(s_in) & (np.abs(denom) > 1e-12) & (s > 0) & (u >= -0.02) & (u <= 1.02)
    return np.where(ok, s, s_in)


def _shade(pose: CameraPose, pr: _Prisms, layers: list[tuple[BaseGeometry, col.RGB]],
           m: np.ndarray, az: np.ndarray, dz: np.ndarray, s_in: np.ndarray, s_out: np.ndarray,
           prism: np.ndarray, edge: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Colour, occluder depth and depth of a block of pixel rows."""
    h = pose.h
    mk = m[..., None]
    if prism.size:
        s_in = _exact_entry(pose, pr, az, s_in, edge)
    with np.errstate(invalid="ignore", divide="ignore"):
        z_in = h + mk * s_in
        tops = pr.top[prism] if prism.size else np.zeros(prism.shape)
        hit_wall = np.isfinite(s_in) & (z_in >= 0) & (z_in <= tops)
        s_top = np.where(mk < 0, (h - tops) / -mk, np.inf)
        hit_top = (mk < 0) & (z_in > tops) & (s_top <= s_out) & (h > tops)
        cand = np.where(hit_wall, s_in, np.where(hit_top, s_top, np.inf))
        s_ground = np.where(m < 0, h / -m, np.inf)
    if cand.shape[-1]:
        k = np.argmin(cand, axis=-1)
        s_bld = np.take_along_axis(cand, k[..., None], axis=-1)[..., 0]
        p_hit = np.take_along_axis(prism, k[..., None], axis=-1)[..., 0]
        e_hit = np.take_along_axis(edge, k[..., None], axis=-1)[..., 0]
        on_top = np.take_along_axis(hit_top & ~hit_wall, k[..., None], axis=-1)[..., 0]
    else:
        s_bld = np.full(m.shape, np.inf)
        p_hit = e_hit = np.zeros(m.shape, dtype=np.int64)
        on_top = np.zeros(m.shape, dtype=bool)
    building = np.isfinite(s_bld) & (s_bld < s_ground)
    ground = ~building & np.isfinite(s_ground)
    sky = ~building & ~ground

    out = np.empty(m.shape + (3,), dtype=np.float32)
    # Sky: from pale at the horizon to blue overhead.
    t_sky = np.clip(dz, 0.0, 1.0)[..., None] ** 0.6
    out[sky] = ((1 - t_sky) * np.array(col.SKY_HORIZON) + t_sky * np.array(col.SKY_ZENITH))[sky]

    # Ground: grass everywhere, then the painted layers; lawn stripes fade with distance.
    s_safe = np.where(np.isfinite(s_ground), s_ground, 0.0)
    gx = pose.x + s_safe * np.cos(az)
    gy = pose.y + s_safe * np.sin(az)
    near = ground & (s_ground < DRAW_DISTANCE)
    g_rgb = np.broadcast_to(np.array(col.GRASS, dtype=np.float32), out.shape).copy()
    for geom, rgb in layers:
        inside = np.zeros(m.shape, dtype=bool)
        inside[near] = shapely.contains_xy(geom, gx[near], gy[near])
        g_rgb[inside] = rgb
    # Mowing stripes on lawns, fading out before they would alias into noise (costly to encode).
    green = near & (g_rgb[..., 1] > g_rgb[..., 0] + 0.1)
    stripes = 1.0 + 0.05 * np.sin(gx[green] * 0.8) * np.exp(-s_ground[green] / 12.0)
    g_rgb[green] *= stripes[:, None]
    out[ground] = g_rgb[ground]

    # Buildings: shaded walls with windows and the front door; stepped roofs.
    if building.any():
        pb, eb = p_hit[building], e_hit[building]
        sb = s_bld[building]
        hx = pose.x + sb * np.cos(az[building])
        hy = pose.y + sb * np.sin(az[building])
        z = h + m[building] * sb
        normal = pr.normal[eb]
        shade = 0.62 + 0.38 * np.clip(normal @ _SUN, 0.0, 1.0)
        rgb_b = pr.colour[pb] * shade[:, None]
        top_hit = on_top[building]
        rgb_b[top_hit] = pr.colour[pb[top_hit]] * 0.9
        is_wall = pr.wall[pb] & ~top_hit
        along = ((hx - pr.a[eb, 0]) * (pr.b[eb, 0] - pr.a[eb, 0])
                 + (hy - pr.a[eb, 1]) * (pr.b[eb, 1] - pr.a[eb, 1])) / np.maximum(
            np.hypot(*(pr.b[eb] - pr.a[eb]).T), 1e-9)
        door_d = np.hypot(hx - pr.door[pb, 0], hy - pr.door[pb, 1])
        is_door = is_wall & (np.nan_to_num(door_d, nan=1e9) < 0.55) & (z < 2.1)
        cell = np.mod(along, 3.6)
        floor_z = np.mod(z, 2.9)
        is_window = (is_wall & ~is_door & (cell > 1.0) & (cell < 2.4) & (floor_z > 0.9)
                     & (floor_z < 2.2) & (z < 2.9 * pr.storeys[pb])
                     & (np.nan_to_num(door_d, nan=1e9) > 1.2))
        rgb_b[is_window] = np.array(col.WINDOW) * shade[is_window][:, None]
        rgb_b[is_door] = pr.door_colour[pb[is_door]] * shade[is_door][:, None]
        out[building] = rgb_b

    dist = np.where(building, s_bld, np.where(ground, s_ground, np.inf))
    fog = (1.0 - np.exp(-np.nan_to_num(dist, posinf=1e6) / _FOG))[..., None]
    fog[sky] = 0.0
    shaded = (out * (1.0 - fog) + np.array(col.HAZE) * fog).astype(np.float32)
    occ = np.where(building & (s_bld < 6e4), s_bld, np.inf).astype(np.float16)
    return shaded, occ, np.where(dist < 6e4, dist, np.inf).astype(np.float16)
