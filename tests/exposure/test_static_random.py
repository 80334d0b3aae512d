"""Static exposure against brute-force line-of-sight sampling on random worlds (hypothesis).

The brute force shares no code with the analyzer: a dense grid of ground points, each visible
when it lies in the camera's field-of-view sector and the straight line from the camera to it
crosses no building (rectangles here, tested with the slab method) except the one the camera
hangs on. Parcel overlaps are point counts times the cell area. Decisions are compared only where
the grid can decide them: a parcel overlap further from ``min_area`` than the grid's own error
(the overlap's perimeter times the cell size), an entrance further than 5 cm from the view's edge.
"""

from __future__ import annotations

import math
from types import MappingProxyType

import numpy as np
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapely.geometry import Point, box

from rtcc.exposure.static import analyze, visibility
from rtcc.vocabulary import TIERS
from rtcc.world.dori import band_at
from rtcc.world.model import Building, Camera, Household, World
from tests.exposure.worlds import ORIGIN

CELL = 0.2  # metres between brute-force sample points


@st.composite
def worlds(draw: st.DrawFn) -> tuple[World, int]:
    """A 3 x 3 grid of lots with a house on each; one camera on one house's wall."""
    xs = [0.0, *sorted(draw(st.lists(st.floats(12, 48), min_size=2, max_size=2, unique=True))),
          60.0]
    ys = [0.0, *sorted(draw(st.lists(st.floats(12, 48), min_size=2, max_size=2, unique=True))),
          60.0]
    households, buildings, houses = {}, [], []
    for i in range(3):
        for j in range(3):
            x0, x1, y0, y1 = xs[i], xs[i + 1], ys[j], ys[j + 1]
            if x1 - x0 < 6 or y1 - y0 < 6:
                continue
            fx = draw(st.floats(0.15, 0.35))
            fy = draw(st.floats(0.15, 0.35))
            hx0, hx1 = x0 + fx * (x1 - x0), x1 - fx * (x1 - x0)
            hy0, hy1 = y0 + fy * (y1 - y0), y1 - fy * (y1 - y0)
            hid = f"h{i}{j}"
            side = draw(st.sampled_from(["s", "n", "e", "w"]))
            door = {"s": ((hx0 + hx1) / 2, hy0 - 0.01), "n": ((hx0 + hx1) / 2, hy1 + 0.01),
                    "e": (hx1 + 0.01, (hy0 + hy1) / 2), "w": (hx0 - 0.01, (hy0 + hy1) / 2)}[side]
            tier = draw(st.sampled_from(TIERS))
            households[hid] = Household(hid, box(x0, y0, x1, y1), Point(door), 2, tier,
                                        MappingProxyType({"tract": f"t{i}"}))
            buildings.append(Building(f"b{i}{j}", box(hx0, hy0, hx1, hy1), hid))
            houses.append((hid, (hx0, hy0, hx1, hy1)))
    k = draw(st.integers(0, len(houses) - 1))
    hid, (hx0, hy0, hx1, hy1) = houses[k]
    side = draw(st.sampled_from(["s", "n", "e", "w"]))
    t = draw(st.floats(0.2, 0.8))
    pos, facing = {
        "s": ((hx0 + t * (hx1 - hx0), hy0 - 0.05), 180.0),
        "n": ((hx0 + t * (hx1 - hx0), hy1 + 0.05), 0.0),
        "e": ((hx1 + 0.05, hy0 + t * (hy1 - hy0)), 90.0),
        "w": ((hx0 - 0.05, hy0 + t * (hy1 - hy0)), 270.0),
    }[side]
    cam = Camera("cam", Point(pos), (facing + draw(st.floats(-40, 40))) % 360.0,
                 draw(st.floats(40.0, 170.0)), draw(st.floats(12.0, 45.0)), hid,
                 width=draw(st.sampled_from([640, 1920])),
                 lens=draw(st.sampled_from(["fisheye", "rectilinear"])))
    return World(ORIGIN, households, tuple(buildings), {"cam": cam}, ()), k


def _visible_mask(cam: Camera, pts: np.ndarray, blockers: list[tuple[float, ...]]
                  ) -> np.ndarray:
    cx, cy = cam.xy
    d = pts - np.array([cx, cy])
    dist = np.hypot(d[:, 0], d[:, 1])
    bearing = np.degrees(np.arctan2(d[:, 0], d[:, 1]))  # clockwise from north
    off = (bearing - cam.direction + 180.0) % 360.0 - 180.0
    ok = (dist <= cam.range) & (np.abs(off) <= cam.fov / 2)
    for x0, y0, x1, y1 in blockers:
        # Slab test of the segment camera -> point against the rectangle's interior.
        t0 = np.zeros(len(pts))
        t1 = np.ones(len(pts))
        for lo, hi, p, dd in ((x0, x1, cx, d[:, 0]), (y0, y1, cy, d[:, 1])):
            with np.errstate(divide="ignore", invalid="ignore"):
                a = (lo - p) / dd
                b = (hi - p) / dd
            near, far = np.minimum(a, b), np.maximum(a, b)
            inside = (p > lo) & (p < hi)
            near = np.where(dd == 0, np.where(inside, -np.inf, np.inf), near)
            far = np.where(dd == 0, np.where(inside, np.inf, -np.inf), far)
            t0, t1 = np.maximum(t0, near), np.minimum(t1, far)
        ok &= ~(t0 < t1 - 1e-9)
    return ok


@settings(max_examples=30, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(worlds(), st.sampled_from([1.0, 5.0, 20.0]))
def test_matches_brute_force(case: tuple[World, int], min_area: float) -> None:
    world, _ = case
    cam = world.cameras["cam"]
    own = cam.household
    blockers = [b.footprint.bounds for b in world.buildings if b.household != own]
    cx, cy = cam.xy
    r = cam.range
    gx = np.arange(cx - r + CELL / 2, cx + r, CELL)
    gy = np.arange(cy - r + CELL / 2, cy + r, CELL)
    pts = np.stack(np.meshgrid(gx, gy), axis=-1).reshape(-1, 2)
    vis = pts[_visible_mask(cam, pts, blockers)]

    result = analyze(world, min_area=min_area)
    got = result.camera("cam")
    view = visibility(world)["cam"]
    tol_view = view.length * CELL + 1.0
    assert abs(len(vis) * CELL**2 - got.visible_area_m2) <= tol_view

    seen = {iv.household: iv for iv in got.in_view}
    decided = 0
    for hid, hh in world.households.items():
        x0, y0, x1, y1 = hh.parcel.bounds
        inside = (vis[:, 0] >= x0) & (vis[:, 0] < x1) & (vis[:, 1] >= y0) & (vis[:, 1] < y1)
        brute_area = float(inside.sum()) * CELL**2
        overlap = shapely.intersection(view, hh.parcel)
        tol = overlap.length * CELL + 0.5
        if hid in seen:
            assert seen[hid].parcel_m2 == overlap.area or abs(
                seen[hid].parcel_m2 - overlap.area) < 1e-6
        assert abs(brute_area - overlap.area) <= tol, (hid, brute_area, overlap.area)
        assert hh.entrance is not None
        ent = np.array([hh.entrance.coords[0]])
        ent_visible = bool(_visible_mask(cam, ent, blockers)[0])
        ent_clear = view.exterior.distance(hh.entrance) > 0.05
        if ent_clear and hid in seen:
            assert (seen[hid].entrance_band is not None) == ent_visible, hid
            if ent_visible:
                d = math.dist(cam.xy, hh.entrance.coords[0])
                assert seen[hid].entrance_band == band_at(cam, d)
        area_clear = abs(brute_area - min_area) > tol
        if area_clear and (ent_clear or not ent_visible):
            expect = brute_area >= min_area or ent_visible or hid == own
            assert (hid in got.households_in_view) == expect, (hid, brute_area, ent_visible)
            decided += 1
    assert decided >= len(world.households) // 2
