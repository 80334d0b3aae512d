"""The simulated scene: determinism, who comes and goes where, and position queries."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from rtcc.vocabulary import PERSON_ROLES
from simulators.clock import DAY
from simulators.rates import SceneRates
from simulators.scene import MAX_SEGMENT, Scene, SegmentTable
from simulators.trips import Track
from tests.sim.worlds import street_world


@pytest.fixture(scope="module")
def world():
    return street_world(8)


@pytest.fixture(scope="module")
def scene(world):
    return Scene(world, seed=11)


def _door(world, hid):
    e = world.households[hid].entrance
    return np.array([e.x, e.y])


def _waits(track: Track) -> list[tuple[np.ndarray, float]]:
    """(position, seconds) of every stop in a track (consecutive equal positions)."""
    same = np.all(track.xy[1:] == track.xy[:-1], axis=1)
    return [(track.xy[i], float(track.t[i + 1] - track.t[i])) for i in np.flatnonzero(same)]


# -- determinism ----------------------------------------------------------------------------------

def test_same_seed_same_trajectories_and_states(world, scene):
    again = Scene(world, seed=11)
    a, b = scene.tracks(0), again.tracks(0)
    assert len(a) == len(b) > 50
    for x, y in zip(a, b, strict=True):
        assert (x.id, x.role, x.household) == (y.id, y.role, y.household)
        np.testing.assert_array_equal(x.t, y.t)
        np.testing.assert_array_equal(x.xy, y.xy)
    # Days are independent of the order they are asked in.
    again.tracks(3)
    assert [t.id for t in again.tracks(1)] == [t.id for t in Scene(world, seed=11).tracks(1)]
    for t in np.linspace(6 * 3600, 22 * 3600, 40):
        sa, sb = scene.state_at(t), again.state_at(t)
        assert list(sa.ids) == list(sb.ids)
        np.testing.assert_array_equal(sa.xy, sb.xy)


def test_different_seed_differs(world, scene):
    other = Scene(world, seed=12).tracks(0)
    assert [(t.id, t.start) for t in other] != [(t.id, t.start) for t in scene.tracks(0)]


# -- who comes and goes ---------------------------------------------------------------------------

def test_every_role_appears_over_a_day(scene):
    roles = Counter(t.role for t in scene.tracks(0))
    assert set(roles) == set(PERSON_ROLES), roles
    # People are outdoors during the day too, as numpy arrays.
    seen = set()
    for t in np.arange(0, DAY, 60.0):
        seen |= set(scene.state_at(t).roles)
    assert seen == set(PERSON_ROLES)


def test_residents_leave_from_and_return_to_their_entrance(world, scene):
    by_person: dict[str, list[Track]] = {}
    for t in scene.tracks(0):
        if t.role == "resident":
            by_person.setdefault(t.id, []).append(t)
    assert len(by_person) >= 10
    for pid, trips in by_person.items():
        hid = trips[0].household
        assert pid.startswith(f"{hid}-r")
        door = _door(world, hid)
        assert len(trips) % 2 == 0, pid  # every outing has a way out and a way back
        for going, coming in zip(trips[::2], trips[1::2], strict=True):
            np.testing.assert_allclose(going.xy[0], door)
            np.testing.assert_allclose(coming.xy[-1], door)
            # Out by an exit of the map, back by the same one, hours or minutes later.
            np.testing.assert_allclose(going.xy[-1], coming.xy[0])
            assert coming.start >= going.end + 600
            assert coming.end <= DAY  # home before midnight
        starts = [t.start for t in trips]
        assert starts == sorted(starts)


def test_deliveries_stop_at_the_recipients_entrance(world, scene):
    rates = scene.rates
    deliveries = [t for t in scene.tracks(0) if t.role == "delivery"]
    assert deliveries
    for t in deliveries:
        door = _door(world, t.household)
        stops = _waits(t)
        assert len(stops) == 1
        where, seconds = stops[0]
        np.testing.assert_allclose(where, door)
        assert rates.delivery_door_wait[0] <= seconds <= rates.delivery_door_wait[1]
        # From the curb in front (the street centreline is y = 0) and back to it.
        np.testing.assert_allclose(t.xy[0], [door[0], 0.0], atol=1e-9)
        np.testing.assert_allclose(t.xy[-1], t.xy[0])
        hour = (t.start % DAY) / 3600
        assert 7 <= hour < 22, "no deliveries at night (their shape is zero)"


def test_visitors_wait_at_their_hosts_door(world, scene):
    rates = scene.rates
    visitors = [t for t in scene.tracks(0) if t.role == "visitor"]
    assert visitors
    for t in visitors:
        door = _door(world, t.household)
        at_door = [s for s in _waits(t) if np.allclose(s[0], door)]
        arrives = np.allclose(t.xy[-1], door)  # goes in; a later track walks out
        leaves = np.allclose(t.xy[0], door)
        assert at_door or arrives or leaves, t.id
        for _, seconds in at_door:
            assert rates.visitor_door_wait[0] <= seconds <= rates.visitor_door_wait[1]


def test_passers_by_belong_to_no_household_and_walk_sidewalks(scene):
    exits = {tuple(p) for p in scene.walkways.nodes[scene.walkways.exits]}
    walkers = [t for t in scene.tracks(0) if t.role == "passer_by"]
    assert walkers
    for t in walkers:
        assert t.household is None and t.id.startswith("p0-")
        assert tuple(t.xy[0]) in exits and tuple(t.xy[-1]) in exits
        on_sidewalk = np.isclose(np.abs(t.xy[:, 1]), 5.5)
        assert on_sidewalk.all(), "only sidewalk vertices (and crosswalks between their ends)"


def test_dog_walkers_loop_from_home(world, scene):
    walks = [t for t in scene.tracks(0) if t.role == "dog_walker"]
    assert walks
    lo, hi = scene.rates.dog_walk_metres
    for t in walks:
        door = _door(world, t.household)
        np.testing.assert_allclose(t.xy[0], door)
        np.testing.assert_allclose(t.xy[-1], door)
        length = np.hypot(*np.diff(t.xy, axis=0).T).sum()
        # Out and back along the sidewalk: about the drawn length (the front path adds a bit;
        # a walk cut short by the map's dead ends is shorter).
        assert length <= hi + 100.0


def test_rates_change_the_mix(world):
    quiet = SceneRates(deliveries_per_hour=0.0, visitors_per_hour=0.0, dog_share=0.0,
                       passers_by_per_hour=0.0)
    roles = Counter(t.role for t in Scene(world, quiet, seed=1).tracks(0))
    assert set(roles) == {"resident"}
    busy = SceneRates(deliveries_per_hour=0.2)
    n = Counter(t.role for t in Scene(world, busy, seed=1).tracks(0))["delivery"]
    expected = 0.2 * 24 * len(world.households)  # Poisson mean 76.8
    assert abs(n - expected) < 4 * expected ** 0.5


# -- queries ---------------------------------------------------------------------------------------

def _hand_scene() -> Scene:
    walk = Track("a", "passer_by", None, np.array([0.0, 10.0, 20.0, 120.0]),
                 np.array([[0.0, 0.0], [10.0, 0.0], [10.0, 0.0], [10.0, 100.0]]))
    later = Track("b", "visitor", "hh-1", np.array([50.0, 60.0]),
                  np.array([[-5.0, -5.0], [-5.0, 5.0]]))
    return Scene.from_tracks([walk, later])


def test_positions_are_interpolated_exactly():
    scene = _hand_scene()
    cases = {
        -1.0: {}, 0.0: {"a": (0, 0)}, 5.0: {"a": (5, 0)}, 15.0: {"a": (10, 0)},
        # A 100 s leg (cut into 30 s pieces inside) is still one straight line at 1 m/s.
        20.0: {"a": (10, 0)}, 55.0: {"a": (10, 35), "b": (-5, 0)}, 119.0: {"a": (10, 99)},
        120.0: {}, 200.0: {},
    }
    for t, expected in cases.items():
        st = scene.state_at(t)
        got = {i: tuple(p) for i, p in zip(st.ids, st.xy, strict=True)}
        assert set(got) == set(expected), t
        for pid, xy in expected.items():
            np.testing.assert_allclose(got[pid], xy, atol=1e-9)
    st = scene.state_at(55.0)
    assert dict(zip(st.ids, st.roles, strict=True)) == {"a": "passer_by", "b": "visitor"}
    assert dict(zip(st.ids, st.households, strict=True)) == {"a": None, "b": "hh-1"}


def test_segments_are_short_and_sorted():
    table = SegmentTable([
        Track("x", "resident", "h", np.array([0.0, 95.0]), np.array([[0.0, 0.0], [95.0, 0.0]]))])
    assert len(table) == 4  # 95 s -> four pieces of 23.75 s
    assert np.all(table.t1 - table.t0 <= MAX_SEGMENT + 1e-9)
    assert np.all(np.diff(table.t0) >= 0)
    np.testing.assert_allclose(table.p1[-1], [95.0, 0.0])


def test_camera_view_agrees_with_the_whole_scene(world, scene):
    box = (-30.0, -20.0, 10.0, 20.0)
    view = scene.near(box)
    checked = 0
    for t in np.arange(6 * 3600, 21 * 3600, 37.0):
        full = scene.state_at(t)
        part = view.state_at(t)
        inside = ((full.xy[:, 0] >= box[0]) & (full.xy[:, 0] <= box[2])
                  & (full.xy[:, 1] >= box[1]) & (full.xy[:, 1] <= box[3]))
        want = {(i, tuple(p)) for i, p in zip(full.ids[inside], full.xy[inside], strict=True)}
        got = {(i, tuple(p)) for i, p in zip(part.ids, part.xy, strict=True)
               if box[0] <= p[0] <= box[2] and box[1] <= p[1] <= box[3]}
        assert got == want, t
        checked += len(want)
    assert checked > 20


def test_trips_running_past_midnight_are_still_there_next_day(world):
    # Everyone crosses the map in the last hour of the day: some are still walking at 00:00.
    shape = tuple([0.0] * 23 + [1.0])
    rates = SceneRates(passers_by_per_hour=2.0,
                       shapes={**SceneRates().shapes, "passer_by": shape})
    scene = Scene(world, rates, seed=5)
    late = [t for t in scene.tracks(0) if t.role == "passer_by" and t.end > DAY]
    assert late, "expected a passer-by still walking at midnight"
    track = late[0]
    t = (DAY + track.end) / 2
    st = scene.state_at(t)
    assert track.id in set(st.ids)
    i = list(st.ids).index(track.id)
    x = np.interp(t, track.t, track.xy[:, 0])
    assert st.xy[i, 0] == pytest.approx(x)


def test_synthetic_world_is_walkable():
    from rtcc.world.synth import synthesize

    world = synthesize(60, 3)
    scene = Scene(world, seed=2)
    ways = scene.walkways
    assert ways is not None and len(ways.exits) >= 2
    # One connected network: every exit reaches every node.
    dist, _ = ways.tree(ways.exits[0])
    assert np.isfinite(dist).all()
    # Sidewalk rings of neighbouring blocks are joined by crosswalks no longer than a street.
    lengths = [w for adj in ways.adj for _, w in adj]
    assert max(lengths) < 200
    homes = scene._planner.homes  # type: ignore[union-attr]
    assert len(homes) == len(world.households)
    roles = Counter(t.role for t in scene.tracks(0))
    assert set(roles) == set(PERSON_ROLES)
