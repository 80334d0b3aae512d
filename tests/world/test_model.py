"""World lookups: households in view (the ARCHITECTURE rule), mount buildings, indexes."""

from __future__ import annotations

import pytest
import shapely
from shapely.geometry import Point, box

from rtcc.world.model import World
from rtcc.world.visibility import households_in_view, visibility_polygon
from tests.world.worlds import PROJ, building, camera, household


def _world() -> World:
    """A doorbell at the origin facing north (90-degree view, 30 m), on its house's front wall.

    - own:    parcel (-10,-15)-(10,2); in view: the triangle y >= |x| up to y = 2: 4 m².
    - across: parcel (-10,20)-(10,40), house (-5,25)-(5,35), entrance (0,25) on its front wall.
    - corner: parcel (-12,9)-(-8,13); the view's left edge y = -x cuts it: 7.5 + 4 = 11.5 m².
    - far:    parcel (40,0)-(60,20): outside the view.
    """
    homes = [
        household("own", box(-10, -15, 10, 2), (2, -0.05)),
        household("across", box(-10, 20, 10, 40), (0, 25)),
        household("corner", box(-12, 9, -8, 13)),
        household("far", box(40, 0, 60, 20), (50, 10)),
    ]
    buildings = [building("own-house", -5, -10, 5, -0.05, "own"),
                 building("across-house", -5, 25, 5, 35, "across")]
    cam = camera("cam", 0, 0, 0, 90, 30, household="own")
    return World(PROJ, {h.id: h for h in homes}, tuple(buildings), {"cam": cam})


def test_hand_worked_areas() -> None:
    world = _world()
    view = visibility_polygon(world, "cam")
    parcels = {h.id: h.parcel for h in world.households.values()}
    assert shapely.intersection(parcels["own"], view).area == pytest.approx(4.0, rel=1e-9)
    assert shapely.intersection(parcels["corner"], view).area == pytest.approx(11.5, rel=1e-9)
    assert shapely.intersection(parcels["far"], view).area == 0.0


def test_households_in_view_rule() -> None:
    world = _world()
    assert households_in_view(world, "cam") == ("own", "across", "corner")
    # The corner parcel has 11.5 m² in view and no entrance: the threshold decides.
    assert households_in_view(world, "cam", min_area=11.0) == ("across", "corner")
    assert households_in_view(world, "cam", min_area=12.0) == ("across",)
    # The entrance across the street sits on the facade that bounds the view: it counts,
    # however large min_area is.
    assert households_in_view(world, "cam", min_area=1e9) == ("across",)


def test_households_in_view_with_given_polygon() -> None:
    world = _world()
    # A polygon that only grazes "far"'s entrance.
    poly = box(49.995, 9.0, 49.999, 11.0)
    assert households_in_view(world, "cam", poly) == ("far",)
    assert households_in_view(world, "cam", box(100, 100, 101, 101)) == ()
    assert households_in_view(world, world.cameras["cam"], box(-1, 21, 1, 22)) == ("across",)


def test_mount_and_lookups() -> None:
    world = _world()
    assert world.mount_building("cam") == world.buildings[0]
    assert world.household_of("cam") == world.households["own"]
    assert world.building("across-house").household == "across"
    hits = world.building_tree.query(Point(0, 30), predicate="intersects")
    assert [world.buildings[i].id for i in hits] == ["across-house"]
    assert world.index is world.index  # built once, then cached


def test_index_edges() -> None:
    world = _world()
    idx = world.index
    assert idx.edge_p.shape == (8, 2) and idx.edge_q.shape == (8, 2)
    p, q, owner = idx.edges_of(world.index.building_tree.query(box(-1, 20, 1, 40)))
    assert owner.tolist() == [1, 1, 1, 1]
    lengths = sorted(float(v) for v in ((q - p) ** 2).sum(axis=1) ** 0.5)
    assert lengths == pytest.approx([10, 10, 10, 10])
    assert not idx.overlapping.any()


def test_bounds_and_equality() -> None:
    world = _world()
    assert world.bounds() == (-12.0, -15.0, 60.0, 40.0)
    _ = world.index
    assert world == _world()  # the cached index does not take part in equality
    assert "_index" not in repr(world)


def test_worlds_pickle_without_their_index() -> None:
    """Worlds go to worker processes (opt-in-rate sweeps): data pickles, the cache does not."""
    import pickle

    from rtcc.world.geojson import dump_world, loads_world
    from tests.world.worlds import base_doc, encode

    world = loads_world(encode(base_doc()))
    _ = world.index
    clone = pickle.loads(pickle.dumps(world))
    assert clone == world and clone._index is None
    assert dump_world(clone) == dump_world(world)
    assert households_in_view(clone, "c1") == households_in_view(world, "c1")
