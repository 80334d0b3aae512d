"""The visibility ray caster, vectorised across many cameras at once.

Every step works on flat numpy arrays holding the edges, rays and polygon vertices of all the
cameras of a batch, tagged with their camera's position in the batch, so the Python overhead is
per batch rather than per camera. The algorithm (see :mod:`rtcc.world.visibility`):

1. keep the candidate edges that pass within range of their camera;
2. critical bearings: each corner inside the range (one ray through it, or, for a silhouette
   corner whose neighbours lie on the same side of that ray, one ray either side of it), each
   point where an edge crosses the range circle, the sector's two sides and, for cameras among
   overlapping buildings, the crossings of their edges;
3. each ray against the edges whose bearing interval (seen from its camera) contains it: the
   nearest hit per ray, capped at the range (in slices of at most ``PAIR_BUDGET`` ray/edge pairs
   to bound memory);
4. between consecutive rays that both reach the range, points along the arc, unless a ray down
   the middle of the gap shows that both ended on one edge crossing the range circle;
5. one ``shapely.from_ragged_array`` call builds every polygon.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import shapely
from numpy.typing import NDArray
from shapely.geometry import Polygon
from shapely.geometry.base import BaseGeometry

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]

CORNER_EPS = 1e-6
"""Radians either side of a silhouette corner's bearing at which its two rays are cast."""
PAIR_BUDGET = 1_000_000
"""Ray/edge pairs evaluated per slice (about 8 MB per float array)."""
_TWO_PI = 2.0 * math.pi


@dataclass(frozen=True, slots=True)
class Batch:
    """Cameras (C of them) and their candidate edges (E), in world coordinates.

    ``ecam`` must be sorted: edges are grouped by camera. Each edge runs p -> q; n is the vertex
    after q on its ring (equal to p when the ring order is unknown: every corner then counts as a
    silhouette). ``crossings`` flags cameras whose candidate buildings overlap.
    """

    x: FloatArray
    y: FloatArray
    start: FloatArray
    """Math angle (radians, counter-clockwise from east) of the sector's first side."""
    span: FloatArray
    """Sector width in radians (2 pi for a full circle)."""
    rng: FloatArray
    full: NDArray[np.bool_]
    ecam: IntArray
    px: FloatArray
    py: FloatArray
    qx: FloatArray
    qy: FloatArray
    nx: FloatArray
    ny: FloatArray
    crossings: NDArray[np.bool_]


def _group_starts(keys: IntArray, n: int) -> IntArray:
    """Offsets of each group 0..n-1 in a sorted key array (length n + 1)."""
    return np.searchsorted(keys, np.arange(n + 1)).astype(np.int64)


def _ranks(keys: IntArray, starts: IntArray) -> IntArray:
    """Position of each element within its group (keys sorted)."""
    return np.arange(len(keys), dtype=np.int64) - starts[keys]


def _circle_crossings(cam: IntArray, px: FloatArray, py: FloatArray, ex: FloatArray,
                      ey: FloatArray, rng: FloatArray) -> tuple[IntArray, FloatArray]:
    qa = ex * ex + ey * ey
    qb = 2.0 * (px * ex + py * ey)
    qc = px * px + py * py - rng * rng
    disc = qb * qb - 4.0 * qa * qc
    ok = (disc > 0.0) & (qa > 0.0)
    cams, angles = [], []
    if ok.any():
        root = np.sqrt(disc[ok])
        for sign in (-1.0, 1.0):
            s = (-qb[ok] + sign * root) / (2.0 * qa[ok])
            # Tolerant ends: an edge that ends on the circle must still give its bearing.
            hit = (s >= -1e-9) & (s <= 1.0 + 1e-9)
            s = np.clip(s, 0.0, 1.0)
            sel = np.nonzero(ok)[0][hit]
            angles.append(np.arctan2(py[sel] + s[hit] * ey[sel], px[sel] + s[hit] * ex[sel]))
            cams.append(cam[sel])
    if not angles:
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    return np.concatenate(cams), np.concatenate(angles)


def _edge_crossings(px: FloatArray, py: FloatArray, ex: FloatArray, ey: FloatArray
                    ) -> FloatArray:
    """Bearings of the points where two of one camera's edges cross mid-edge."""
    denom = np.multiply.outer(ex, ey) - np.multiply.outer(ey, ex)
    dx = px[None, :] - px[:, None]
    dy = py[None, :] - py[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        s = (dx * ey[None, :] - dy * ex[None, :]) / denom
        t = (dx * ey[:, None] - dy * ex[:, None]) / denom
    hit = (s > 0.0) & (s < 1.0) & (t > 0.0) & (t < 1.0)
    i, _ = np.nonzero(hit)
    a = np.arctan2(py[i] + s[hit] * ey[i], px[i] + s[hit] * ex[i])
    return np.concatenate([a, a - CORNER_EPS, a + CORNER_EPS])


_ANGLE_TOL = 1e-9
_KEY = 8.0
"""A ray's sort key is camera * _KEY + its bearing relative to its camera's sector start, in
0..2 pi; an edge's key interval is clipped to -_ANGLE_TOL..2 pi + _ANGLE_TOL of its camera, so
the keys of one camera never reach into the next camera's (8 > 2 pi + 2 * _ANGLE_TOL)."""


def _edge_spans(ecam: IntArray, px: FloatArray, py: FloatArray, qx: FloatArray,
                qy: FloatArray, start: FloatArray) -> tuple[IntArray, FloatArray, FloatArray]:
    """The bearing interval each edge covers, as ray-key intervals (edge, lo, hi).

    A ray can only hit an edge whose bearings, seen from the camera, include the ray's: this
    culls the ray/edge pairs from all of a camera's rays times all its edges to the few edges
    along each ray. An interval wrapping past the sector start is split in two, and every
    interval is clipped to the rays' own bearings, 0..2 pi: an edge's interval reaches up to
    3 pi before the split (and its wrapped copy down to -pi), and unclipped it would overlap
    the keys of the neighbouring cameras of the batch, casting their rays against this
    camera's walls (issue #19: a camera 1.5 m before a wall cut the next camera's view).
    """
    ap, aq = np.arctan2(py, px), np.arctan2(qy, qx)
    sweep = (aq - ap + math.pi) % _TWO_PI - math.pi
    # Edges through the camera (sweep of pi) or from it can only meet rays at t = 0: drop them.
    ok = (np.abs(sweep) < math.pi - 1e-12) & ((px != 0.0) | (py != 0.0)) & \
        ((qx != 0.0) | (qy != 0.0))
    edge = np.nonzero(ok)[0]
    lo = np.where(sweep[ok] >= 0.0, ap[ok], aq[ok])
    lo = (lo - start[ecam[ok]]) % _TWO_PI - _ANGLE_TOL
    hi = lo + np.abs(sweep[ok]) + 2.0 * _ANGLE_TOL
    over, under = hi > _TWO_PI, lo < 0.0
    edge = np.concatenate([edge, edge[over], edge[under]])
    lo = np.concatenate([lo, lo[over] - _TWO_PI, lo[under] + _TWO_PI])
    hi = np.concatenate([hi, hi[over] - _TWO_PI, hi[under] + _TWO_PI])
    # Lossless: the part of an interval beyond 2 pi (or below 0) is its wrapped copy's.
    lo = np.maximum(lo, -_ANGLE_TOL)
    hi = np.minimum(hi, _TWO_PI + _ANGLE_TOL)
    keep = lo <= hi
    edge, lo, hi = edge[keep], lo[keep], hi[keep]
    base = ecam[edge] * _KEY
    return edge, base + lo, base + hi


def _nearest(ray_key: FloatArray, dx: FloatArray, dy: FloatArray,
             spans: tuple[IntArray, FloatArray, FloatArray], px: FloatArray, py: FloatArray,
             ex: FloatArray, ey: FloatArray) -> FloatArray:
    """Per ray (sorted by key): distance to the nearest edge it meets (inf when none).

    Ray t d meets edge p + u e where t = (p x e) / (d x e) and u = (p x d) / (d x e). Only the
    pairs whose bearing intervals match are evaluated, in slices of at most PAIR_BUDGET.
    """
    r = np.full(len(dx), np.inf)
    edge_of, lo_key, hi_key = spans
    first = np.searchsorted(ray_key, lo_key, side="left")
    counts = np.searchsorted(ray_key, hi_key, side="right") - first
    cum = np.cumsum(counts)
    lo = 0
    while lo < len(counts):
        # Spans lo..hi-1 stay within the pair budget (at least one span per slice).
        hi = max(lo + 1, int(np.searchsorted(cum, (cum[lo - 1] if lo else 0) + PAIR_BUDGET,
                                              side="right")))
        c = counts[lo:hi]
        total = int(c.sum())
        if total:
            offset = np.cumsum(c) - c
            edge = np.repeat(edge_of[lo:hi], c)
            ray = np.repeat(first[lo:hi] - offset, c) + np.arange(total, dtype=np.int64)
            rdx, rdy = dx[ray], dy[ray]
            epx, epy, eex, eey = px[edge], py[edge], ex[edge], ey[edge]
            with np.errstate(divide="ignore", invalid="ignore"):
                inv = 1.0 / (rdx * eey - rdy * eex)
                t = (epx * eey - epy * eex) * inv
                u = (epx * rdy - epy * rdx) * inv
            # A hair of slack on u so that a ray through a corner hits one of its two edges.
            t = np.where((u >= -1e-9) & (u <= 1.0 + 1e-9) & (t > 1e-9), t, np.inf)
            np.minimum.at(r, ray, t)
        lo = hi
    return r


def cast_batch(b: Batch, arc_step_deg: float) -> list[Polygon]:
    """Visibility polygons of every camera of the batch, in batch order."""
    n_cams = len(b.x)
    if n_cams == 0:
        return []
    ecam = b.ecam
    px, py = b.px - b.x[ecam], b.py - b.y[ecam]
    qx, qy = b.qx - b.x[ecam], b.qy - b.y[ecam]
    nx, ny = b.nx - b.x[ecam], b.ny - b.y[ecam]
    ex, ey = qx - px, qy - py
    r2 = (b.rng * b.rng)[ecam]
    # 1. Only edges that come within range matter.
    len2 = ex * ex + ey * ey
    with np.errstate(divide="ignore", invalid="ignore"):
        s = np.clip(-(px * ex + py * ey) / len2, 0.0, 1.0)
    s = np.where(len2 > 0.0, s, 0.0)
    wx, wy = px + s * ex, py + s * ey
    keep = wx * wx + wy * wy < r2
    ecam = ecam[keep]
    px, py, qx, qy, nx, ny, ex, ey, r2 = (
        a[keep] for a in (px, py, qx, qy, nx, ny, ex, ey, r2))
    estart = _group_starts(ecam, n_cams)

    # 2. Critical bearings, tagged with their camera.
    inside = qx * qx + qy * qy < r2
    vcam, vx, vy = ecam[inside], qx[inside], qy[inside]
    a = np.arctan2(vy, vx)
    # A corner is a silhouette when its two neighbours lie on the same side of its ray, or
    # either one (nearly) on it: the sines of their angles to the ray, multiplied, are >= -1e-12.
    # Erring towards "silhouette" only adds a ray; the opposite would lose the jump in the view.
    ppx, ppy, nnx, nny = px[inside] - vx, py[inside] - vy, nx[inside] - vx, ny[inside] - vy
    c1 = vx * ppy - vy * ppx
    c2 = vx * nny - vy * nnx
    norm = (vx * vx + vy * vy) * np.sqrt((ppx * ppx + ppy * ppy) * (nnx * nnx + nny * nny))
    sil = c1 * c2 >= -1e-12 * norm
    crossing_edges = ~(inside & (px * px + py * py < r2))
    ccam, ca = _circle_crossings(ecam[crossing_edges], px[crossing_edges], py[crossing_edges],
                                 ex[crossing_edges], ey[crossing_edges],
                                 b.rng[ecam[crossing_edges]])
    cams = [vcam[~sil], vcam[sil], vcam[sil], ccam]
    angles = [a[~sil], a[sil] - CORNER_EPS, a[sil] + CORNER_EPS, ca]
    for c in np.nonzero(b.crossings)[0].tolist():
        sl = slice(estart[c], estart[c + 1])
        extra = _edge_crossings(px[sl], py[sl], ex[sl], ey[sl])
        cams.append(np.full(len(extra), c, dtype=np.int64))
        angles.append(extra)
    rcam = np.concatenate(cams)
    rel = (np.concatenate(angles) - b.start[rcam]) % _TWO_PI
    inside_fov = rel <= b.span[rcam]
    every = np.arange(n_cams, dtype=np.int64)
    rcam = np.concatenate([rcam[inside_fov], every, every])
    rel = np.concatenate([rel[inside_fov], np.zeros(n_cams), b.span])
    order = np.lexsort((rel, rcam))
    rcam, rel = rcam[order], rel[order]
    fresh = np.ones(len(rel), dtype=bool)
    fresh[1:] = (rcam[1:] != rcam[:-1]) | (rel[1:] != rel[:-1])
    rcam, rel = rcam[fresh], rel[fresh]

    # 3. Cast.
    ang = b.start[rcam] + rel
    dx, dy = np.cos(ang), np.sin(ang)
    reach = b.rng[rcam] * (1.0 - 1e-12)
    spans = _edge_spans(ecam, px, py, qx, qy, b.start)
    hit = _nearest(rcam * _KEY + rel, dx, dy, spans, px, py, ex, ey)
    r = np.minimum(hit, b.rng[rcam])

    # 4. Between consecutive rays of one camera that both reach its range the boundary is the
    # range arc, unless both rays stopped on one edge exactly at the circle (where it crosses
    # the range): a ray down the middle of the gap tells the two apart.
    at_range = hit >= reach
    gaps = np.nonzero(at_range[:-1] & at_range[1:] & (rcam[:-1] == rcam[1:]))[0]
    if len(gaps):
        mid_rel = (rel[gaps] + rel[gaps + 1]) / 2.0
        mid = b.start[rcam[gaps]] + mid_rel
        free = _nearest(rcam[gaps] * _KEY + mid_rel, np.cos(mid), np.sin(mid), spans, px, py,
                        ex, ey)
        gaps = gaps[free >= reach[gaps]]
    if len(gaps):
        width = rel[gaps + 1] - rel[gaps]
        k = np.maximum(np.ceil(np.degrees(width) / arc_step_deg).astype(np.int64) - 1, 0)
        total = int(k.sum())
        if total:
            owner = np.repeat(gaps, k)
            j = np.arange(total) - np.repeat(np.cumsum(k) - k, k) + 1
            kk = np.repeat(k, k)
            fill = rel[owner] + j * ((rel[owner + 1] - rel[owner]) / (kk + 1))
            fcam = rcam[owner]
            fa = b.start[fcam] + fill
            order = np.lexsort((np.concatenate([rel, fill]), np.concatenate([rcam, fcam])))
            rcam = np.concatenate([rcam, fcam])[order]
            dx = np.concatenate([dx, np.cos(fa)])[order]
            dy = np.concatenate([dy, np.sin(fa)])[order]
            r = np.concatenate([r, b.rng[fcam]])[order]
    return _assemble(b, rcam, b.x[rcam] + r * dx, b.y[rcam] + r * dy, r)


def _assemble(b: Batch, pcam: IntArray, xs: FloatArray, ys: FloatArray, r: FloatArray
              ) -> list[Polygon]:
    """Rings (apex first for sectors; the duplicate last ray dropped for circles) -> polygons."""
    n_cams = len(b.x)
    pstart = _group_starts(pcam, n_cams)
    # A full circle's last ray (at 2 pi) repeats its first.
    last = pstart[1:] - 1
    drop = np.zeros(len(pcam), dtype=bool)
    drop[last[b.full]] = True
    pcam, xs, ys = pcam[~drop], xs[~drop], ys[~drop]
    pstart = _group_starts(pcam, n_cams)
    npts = np.diff(pstart)
    apex = (~b.full).astype(np.int64)
    size = npts + apex + 1  # + closing vertex
    ring_off = np.concatenate([[0], np.cumsum(size)]).astype(np.int64)
    coords = np.empty((int(ring_off[-1]), 2))
    pos = ring_off[pcam] + apex[pcam] + _ranks(pcam, pstart)
    coords[pos, 0], coords[pos, 1] = xs, ys
    sectors = np.nonzero(~b.full)[0]
    coords[ring_off[sectors], 0], coords[ring_off[sectors], 1] = b.x[sectors], b.y[sectors]
    coords[ring_off[1:] - 1] = coords[ring_off[:-1]]
    geoms = shapely.from_ragged_array(shapely.GeometryType.POLYGON, coords,
                                      (ring_off, np.arange(n_cams + 1, dtype=np.int64)))
    out: list[Polygon] = list(geoms)
    # A ray of length 0 (a camera on another building's corner) folds a ring onto itself.
    rstart = _group_starts(np.sort(pcam), n_cams)  # unchanged order: pcam is sorted
    shortest = np.minimum.reduceat(r[~drop], rstart[:-1]) if len(r) else np.zeros(0)
    for c in np.nonzero(shortest <= 1e-9 * np.maximum(b.rng, 1.0))[0].tolist():
        if not out[c].is_valid:
            out[c] = _polygonal(shapely.make_valid(out[c]))
    return out


def _polygonal(geom: BaseGeometry) -> Polygon:
    """The largest polygon in a geometry (after make_valid), or an empty polygon."""
    parts = [g for g in getattr(geom, "geoms", [geom]) if isinstance(g, Polygon) and g.area > 0]
    return max(parts, key=lambda g: g.area) if parts else Polygon()
