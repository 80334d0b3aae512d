"""Passers-by a camera would show (rtcc.exposure.footfall) against the simulators' own scene: the
estimate is the mean of what the scene walks through the camera's view, day after day."""

from __future__ import annotations

import numpy as np
import pytest
from shapely.geometry import LineString, Polygon

from rtcc.exposure.footfall import Footfall
from rtcc.exposure.static import visibility
from rtcc.world.synth import synthesize
from rtcc.world.walkways import PASSERS_BY_PER_HOUR
from simulators.rates import SceneRates
from simulators.scene import Scene

RATE = 0.5
"""Passers-by per household and hour: busy, so that a few simulated days give a firm mean."""


@pytest.fixture(scope="module")
def world():  # type: ignore[no-untyped-def]
    return synthesize(24, 3, camera_rate=0.7)


def test_the_simulators_use_the_same_ordinary_rate() -> None:
    assert SceneRates().passers_by_per_hour == PASSERS_BY_PER_HOUR


def test_estimate_matches_the_simulated_passers_by(world) -> None:  # type: ignore[no-untyped-def]
    views = visibility(world)
    footfall = Footfall(world, per_hour=RATE)
    assert footfall.per_day == pytest.approx(RATE * len(world.households) * 24)
    estimate = {cid: footfall.camera(v).per_day for cid, v in views.items()}
    scene = Scene(world, SceneRates(passers_by_per_hour=RATE), seed=5)
    days = 6
    seen = dict.fromkeys(views, 0)
    walked = 0
    for day in range(days):
        for track in scene.tracks(day):
            if track.role != "passer_by":
                continue
            walked += 1
            line = LineString(track.xy)
            for cid, view in views.items():
                if line.intersects(view):
                    seen[cid] += 1
    assert walked / days == pytest.approx(footfall.per_day, rel=0.1)
    cams = [c for c in views if estimate[c] >= 20]  # enough walkers for a firm mean
    assert len(cams) >= 5
    for cid in cams:
        simulated = seen[cid] / days
        # Poisson counts over six days: a few standard deviations of the mean, plus the share of
        # walks the scene drops at the day's end.
        tol = 4 * np.sqrt(estimate[cid] / days) + 0.05 * estimate[cid]
        assert abs(simulated - estimate[cid]) <= tol, (cid, simulated, estimate[cid])
    quiet = [c for c in views if estimate[c] == 0]
    assert all(seen[c] == 0 for c in quiet)


def test_a_view_away_from_every_route_shows_no_one(world) -> None:  # type: ignore[no-untyped-def]
    footfall = Footfall(world)
    far = Polygon([(5000, 5000), (5010, 5000), (5010, 5010)])
    assert footfall.camera(far).per_day == 0.0 and footfall.camera(Polygon()).share == 0.0
