"""Batch visibility under the placements real places have: cameras on poles and facades beside
other buildings, 360-degree cameras, sheds next to them.

The synthetic worlds never put anything beside a camera (cameras face away from their own house),
so a batch bug that lets one camera's walls cut another camera's view never showed there. Here
every camera of a random world is computed in one batch, in both orders, and compared with the
same camera computed alone and with brute-force line of sight.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import shapely
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from shapely import affinity
from shapely.geometry import Point, Polygon, box

from rtcc.world.model import Building, Camera, World
from rtcc.world.visibility import visibility_polygon, visibility_polygons
from tests.world.brute import sample_grid, visible_mask
from tests.world.worlds import PROJ, camera

ARC = 1e-4  # the range arc's chords: see test_visibility.py


def _two_camera_world() -> World:
    """The minimal case of issue #19: camera a stands 1.5 m before a house it is not mounted on
    (facing it), camera b is 80 m away with nothing near it."""
    a = camera("a", 10.0, -1.5, 0.0, 160.0, 50.0)
    b = camera("b", 100.0, 0.0, 0.0, 90.0, 50.0)
    return World(PROJ, {}, (Building("house", box(0, 0, 20, 10)),), {"a": a, "b": b})


def test_a_camera_before_a_wall_does_not_cut_the_next_cameras_view() -> None:
    """By hand: b sees its whole quarter disk, pi 50² / 4 = 1963.5 m². a is not mounted (1.5 m
    from the wall): the wall's near face spans +-81.5 degrees of a's view, wider than its +-80,
    so a sees only the triangle up to the wall, 1.5 * 1.5 tan(80°) = 12.76 m²."""
    world = _two_camera_world()
    assert world.mount_building("a") is None
    quarter = math.pi * 50.0 ** 2 / 4.0
    triangle = 1.5 * 1.5 * math.tan(math.radians(80.0))
    for order in (["a", "b"], ["b", "a"]):
        views = visibility_polygons(world, order)
        assert views["b"].area == pytest.approx(quarter, rel=ARC), order
        assert views["a"].area == pytest.approx(triangle, rel=1e-9), order
    assert visibility_polygon(world, "b").area == pytest.approx(quarter, rel=ARC)


def test_many_cameras_beside_walls_in_one_batch() -> None:
    """Forty 360-degree cameras in a row; every other one stands 1.3 m before a wall (not mounted
    on it), the others in the open. A walled camera sees the half disk away from the wall plus
    the strip before it, an open one its whole disk, in any batch order. Facing 255 degrees puts
    the sector's start 12.5 degrees past the wall's first bearing, so the wall's bearing interval
    wraps past a full turn: the case that spilled into the next camera's rays."""
    cams, blds = [], []
    for i in range(40):
        x = 200.0 * i
        if i % 2 == 0:
            blds.append(Building(f"b{i}", box(x - 30, 0, x + 30, 8)))
        cams.append(camera(f"c{i}", x, -1.3, 255.0, 360.0, 20.0))
    world = World(PROJ, {}, tuple(blds), {c.id: c for c in cams})
    strip = shapely.intersection(box(-20, -1.3, 20, 0), Point(0, -1.3).buffer(20, 256)).area
    walled, open_disk = math.pi * 400 / 2 + strip, math.pi * 400
    for order in (cams, cams[::-1]):
        views = visibility_polygons(world, order)
        for i, c in enumerate(cams):
            expected = walled if i % 2 == 0 else open_disk
            assert views[c.id].area == pytest.approx(expected, rel=1e-3), c.id


# -- random placements ---------------------------------------------------------------------


def _outward_point(poly: Polygon, fraction: float, distance: float) -> tuple[float, float]:
    """The point ``distance`` metres out from the outline at ``fraction`` of its length."""
    ring = poly.exterior
    p = ring.interpolate(fraction, normalized=True)
    q = ring.interpolate(min(fraction + 1e-3, 1.0), normalized=True)
    tx, ty = q.x - p.x, q.y - p.y
    norm = math.hypot(tx, ty) or 1.0
    nx, ny = ty / norm, -tx / norm
    # Whichever normal leads away from the interior.
    if poly.contains(Point(p.x + 0.01 * nx, p.y + 0.01 * ny)):
        nx, ny = -nx, -ny
    return p.x + distance * nx, p.y + distance * ny


@st.composite
def crowded_worlds(draw: st.DrawFn) -> World:
    n_houses = draw(st.integers(1, 4))
    houses = []
    for i in range(n_houses):
        w, h = draw(st.floats(4, 20)), draw(st.floats(4, 14))
        angle = draw(st.sampled_from([0.0, 90.0]) | st.floats(0, 180))
        cx, cy = draw(st.floats(-25, 25)), draw(st.floats(-25, 25))
        shape = box(-w / 2, -h / 2, w / 2, h / 2)
        if draw(st.booleans()):
            shape = shape.union(box(-w / 2, -h / 2, -w / 6, h / 2 + draw(st.floats(2, 6))))
        houses.append(Building(f"h{i}", affinity.translate(
            affinity.rotate(shape, angle, origin=(0, 0)), cx, cy), household=f"hh{i}"))
    cameras = []
    for j in range(draw(st.integers(2, 6))):
        host = draw(st.integers(0, n_houses - 1))
        x, y = _outward_point(houses[host].footprint, draw(st.floats(0, 1)),
                              draw(st.floats(0.2, 1.5)))
        # Mounted on its own house (household set, within 1 m) or standing free beside it.
        owner = f"hh{host}" if draw(st.booleans()) else None
        fov = draw(st.sampled_from([360.0, 360.0, 90.0, 160.0]) | st.floats(20, 350))
        cameras.append(Camera(f"c{j}", Point(x, y), draw(st.floats(0, 359.9)), fov,
                              draw(st.sampled_from([5.0, 12.0, 50.0]) | st.floats(4, 40)),
                              owner))
    sheds = []
    for k in range(draw(st.integers(0, 3))):
        near = cameras[draw(st.integers(0, len(cameras) - 1))]
        size = draw(st.floats(1, 3))
        gap = draw(st.floats(0.2, 1.5))
        bearing = draw(st.floats(0, 2 * math.pi))
        d = gap + size / 2
        cx, cy = near.position.x + d * math.cos(bearing), near.position.y + d * math.sin(bearing)
        sheds.append(Building(f"s{k}", affinity.rotate(
            box(cx - size / 2, cy - size / 2, cx + size / 2, cy + size / 2),
            draw(st.floats(0, 90)))))
    buildings = houses + sheds
    # No camera inside or on a building it might not be mounted on: 0.2 m clearance at least.
    keep = [c for c in cameras if all(b.footprint.distance(c.position) >= 0.19
                                      for b in buildings)]
    assume(len(keep) >= 2)
    return World(PROJ, {}, tuple(buildings), {c.id: c for c in keep})


@settings(max_examples=150, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(crowded_worlds())
def test_batch_equals_alone_equals_line_of_sight(world: World) -> None:
    cams = list(world.cameras.values())
    forward = visibility_polygons(world, cams)
    backward = visibility_polygons(world, cams[::-1])
    for cam in cams:
        alone = visibility_polygon(world, cam)
        assert alone.is_valid
        for batch in (forward, backward):
            diff = shapely.symmetric_difference(batch[cam.id], alone).area
            assert diff <= 1e-9 * max(alone.area, 1.0), (cam.id, diff, alone.area)
        own = world.mount_building(cam)
        occluders = [b.footprint for b in world.buildings if b is not own]
        pts, cell = sample_grid(cam, 8_000)
        truth = visible_mask(cam, pts, occluders)
        shapely.prepare(alone)
        ours = shapely.contains_xy(alone, pts[:, 0], pts[:, 1])
        mismatch = np.count_nonzero(truth != ours) * cell
        visible = max(np.count_nonzero(truth) * cell, alone.area, 100 * cell)
        assert mismatch <= 0.01 * visible, (cam.id, mismatch, visible)
