"""Static exposure on hand-made worlds: every expected value is worked out by hand here."""

from __future__ import annotations

import math

import pytest
from shapely.geometry import Point

from rtcc.exposure.consent import from_world
from rtcc.exposure.static import analyze
from rtcc.world.model import Camera
from rtcc.world.visibility import households_in_view
from tests.exposure.worlds import four_lots

QUARTER = math.pi / 4  # a 90 degree sector is a quarter of a disk


def test_four_lots_camera_figures() -> None:
    r = analyze(four_lots())
    cam = r.camera("cam")
    assert cam.live and cam.consent == "live" and cam.household == "A"
    assert cam.visible_area_m2 == pytest.approx(400.0, abs=1e-6)
    # 1920 px over 90 degrees, rectilinear: 960 / d px/m, so identify (250) reaches 3.84 m,
    # recognise 7.68, observe 15.36, detect 38.4, monitor 76.8 (range 100).
    assert cam.band_distance_m == pytest.approx(
        {"identify": 3.84, "recognise": 7.68, "observe": 15.36, "detect": 38.4,
         "monitor": 76.8})
    # The triangle's nearest far edge is 20 m away: rings up to 15.36 m are whole quarter rings.
    expected = {
        "identify": QUARTER * 3.84**2,
        "recognise": QUARTER * (7.68**2 - 3.84**2),
        "observe": QUARTER * (15.36**2 - 7.68**2),
        "detect": 400.0 - QUARTER * 15.36**2,
        "monitor": 0.0,
    }
    for band, area in expected.items():
        assert cam.area_by_band_m2[band] == pytest.approx(area, rel=2e-4, abs=1e-6), band
    assert cam.spillover_m2 == pytest.approx(300.0, abs=1e-6)
    assert cam.spillover_share == pytest.approx(0.75)
    assert cam.households_in_view == ("A", "B", "C", "D")
    assert cam.non_consenting_in_view == ("B", "C", "D")
    seen = {iv.household: iv for iv in cam.in_view}
    assert {h: seen[h].parcel_m2 for h in "ABCD"} == pytest.approx(
        {"A": 100.0, "B": 200.0, "C": 50.0, "D": 50.0})
    # A's door is where the camera hangs (identify); C's (25, 21) is sqrt(15² + 11²) = 18.6 m
    # away: past observe (15.36), inside detect (38.4). B's and D's doors are behind the wall.
    assert {h: seen[h].entrance_band for h in "ABCD"} == {
        "A": "identify", "B": None, "C": "detect", "D": None}


def test_four_lots_households_and_summary() -> None:
    r = analyze(four_lots())
    shares = {h.id: h.parcel_exposed_share for h in r.households}
    assert shares == pytest.approx({"A": 100 / 400, "B": 200 / 400, "C": 50 / 400,
                                    "D": 50 / 400})
    for h in r.households:
        assert h.exposed_by == ("cam",)
        assert h.streams == 1
    assert [h.consenting for h in r.households] == [True, False, False, False]
    s = r.summary
    assert (s.households, s.non_consenting, s.exposed_non_consenting) == (4, 3, 3)
    assert s.consent_leakage == 1.0
    assert s.non_consenting_entrance_by_band == {
        "identify": 0, "recognise": 0, "observe": 0, "detect": 1, "monitor": 0}
    assert s.mean_non_consenting_per_live_camera == 3.0
    assert (s.live_cameras, s.live_private_cameras, s.live_city_cameras) == (1, 1, 0)


def test_sidewalk_coverage_and_trackability() -> None:
    r = analyze(four_lots())
    (side,) = r.coverage
    assert side.kind == "sidewalk" and side.length_m == pytest.approx(60.0)
    # y = -5 inside the triangle: x from 25 to the wall at 30, 21.2-26.9 m from the camera.
    assert side.covered_m == pytest.approx(
        {"identify": 0.0, "recognise": 0.0, "observe": 0.0, "detect": 5.0, "monitor": 5.0},
        abs=1e-6)
    t = r.trackability
    assert t.tracked_m == pytest.approx(5.0)
    assert t.share == pytest.approx(5.0 / 60.0)
    assert (t.runs, t.longest_run_m) == (1, pytest.approx(5.0))


def test_min_area_and_entrance_rule() -> None:
    # 60 m²: B (200) stays, D (50, door behind the wall) drops, C (50) stays by its door.
    r = analyze(four_lots(), min_area=60.0)
    assert r.camera("cam").households_in_view == ("A", "B", "C")
    assert r.summary.exposed_non_consenting == 2
    assert r.summary.consent_leakage == pytest.approx(2 / 3)
    # 250 m²: only C's door and the owner remain.
    r = analyze(four_lots(), min_area=250.0)
    assert r.camera("cam").households_in_view == ("A", "C")
    assert r.summary.consent_leakage == pytest.approx(1 / 3)


def test_breakdown_by_attribute_by_hand() -> None:
    r = analyze(four_lots(), min_area=60.0)
    tract = {g.value: g for g in r.breakdowns["tract"]}
    # t1: A (consenting) and B (exposed): 1 of 1. t2: C exposed, D not: 1 of 2.
    assert (tract["t1"].non_consenting, tract["t1"].exposed_non_consenting) == (1, 1)
    assert (tract["t2"].non_consenting, tract["t2"].exposed_non_consenting) == (2, 1)
    assert tract["t1"].consent_leakage == 1.0 and tract["t2"].consent_leakage == 0.5
    assert tract["t1"].leakage_ratio == pytest.approx(1.0 / (2 / 3))
    assert tract["t2"].leakage_ratio == pytest.approx(0.5 / (2 / 3))
    assert tract["t1"].mean_streams == 1.0 and tract["t2"].mean_streams == 0.5
    assert set(r.breakdowns) == {"tenure", "tract"}
    only = analyze(four_lots(), breakdown_by=("tenure",))
    assert set(only.breakdowns) == {"tenure"}


def test_camera_not_live_exposes_nobody_but_its_view_is_reported() -> None:
    r = analyze(four_lots(consent={"A": "registry"}))
    cam = r.camera("cam")
    assert not cam.live and cam.consent == "registry"
    assert cam.households_in_view == ("A", "B", "C", "D")
    assert all(h.exposed_by == () and h.in_view_of == ("cam",) for h in r.households)
    assert r.summary.non_consenting == 4 and r.summary.exposed_non_consenting == 0
    assert r.summary.consent_leakage == 0.0


def test_camera_consent_override_and_owner_non_consenting() -> None:
    # The camera streams although its household never opted in itself: A is non-consenting
    # for that stream too.
    r = analyze(four_lots(consent={"A": "none"}, camera={"consent": "live"}))
    cam = r.camera("cam")
    assert cam.live
    assert cam.non_consenting_in_view == ("A", "B", "C", "D")
    assert r.summary.consent_leakage == 1.0


def test_everyone_consenting_has_no_leakage_figure() -> None:
    r = analyze(four_lots(consent={"B": "live", "C": "live", "D": "live"}))
    assert r.summary.non_consenting == 0
    assert r.summary.consent_leakage is None


def test_city_camera_defaults_to_live() -> None:
    city = Camera("city1", Point(25, -15), 0.0, 60.0, 10.0, None, lens="rectilinear",
                  type="city")
    w = four_lots(consent={"A": "none"}, extra_cameras={"city1": city})
    r = analyze(w)
    c = r.camera("city1")
    assert c.consent == "live" and c.live and c.household is None
    assert c.spillover_m2 is None and c.spillover_share is None
    assert "D" in c.households_in_view
    assert r.summary.live_city_cameras == 1


def test_owner_is_listed_even_when_the_view_misses_its_lot() -> None:
    # On A's west wall, looking west over nobody's land: only the owner is listed.
    out = Camera("out", Point(0, 10), 270.0, 90.0, 10.0, "A", lens="rectilinear")
    w = four_lots(extra_cameras={"out": out})
    r = analyze(w)
    assert r.camera("out").households_in_view == ("A",)
    assert r.camera("out").in_view[0].parcel_m2 == pytest.approx(0.0, abs=1e-9)
    assert r.camera("out").non_consenting_in_view == ()
    assert r.household("A").exposed_by == ("cam", "out")


def test_agrees_with_the_worlds_own_in_view_rule() -> None:
    w = four_lots()
    for min_area in (1.0, 60.0, 250.0):
        r = analyze(w, min_area=min_area)
        assert set(r.camera("cam").households_in_view) == \
            set(households_in_view(w, "cam", min_area=min_area)) | {"A"}


def test_consent_source_is_recorded() -> None:
    w = four_lots()
    r = analyze(w, from_world(w))
    assert r.world["consent_source"] == "world"
    assert r.world["households"] == 4 and r.world["cameras"] == 1
