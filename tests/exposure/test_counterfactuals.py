"""Counterfactuals on the four-lots world, worked out by hand (see tests/exposure/worlds.py)."""

from __future__ import annotations

import numpy as np
import pytest

from rtcc.exposure import counterfactuals as cf
from rtcc.exposure.consent import from_world
from rtcc.exposure.masks import MIN_MASK_WIDTH, _strips, mask_region, masked_view
from rtcc.exposure.static import analyze, visibility
from rtcc.world.model import Mask
from tests.exposure.worlds import four_lots


def test_left_half_mask_hides_the_north_half_of_the_view() -> None:
    # Facing east with no tilt, the left half of a rectilinear frame is the bearings from the
    # axis (y = 10) to 45 degrees north: what is left is the triangle (10,10), (30,10), (30,-10).
    w = four_lots(masks=(Mask(0.0, 0.0, 0.5, 1.0),))
    view = visibility(w)["cam"]
    left = masked_view(w.cameras["cam"], view)
    assert left.area == pytest.approx(200.0, abs=0.5)
    r = cf.with_masks(w, from_world(w), {"cam": view}, policy="world")
    cam = r.result.camera("cam")
    seen = {iv.household: iv.parcel_m2 for iv in cam.in_view}
    assert seen == pytest.approx({"A": 50.0, "B": 100.0, "D": 50.0}, abs=0.5)
    assert cam.households_in_view == ("A", "B", "D")  # C's door (25, 21) is masked
    assert r.result.summary.consent_leakage == pytest.approx(2 / 3)
    assert r.extra["cameras_masked"] == 1


def test_full_frame_mask_leaves_only_the_owner() -> None:
    w = four_lots()
    cam = w.cameras["cam"]
    hidden = mask_region(cam, Mask(0.0, 0.0, 1.0, 1.0))
    view = visibility(w)["cam"]
    assert masked_view(cam, view, (Mask(0.0, 0.0, 1.0, 1.0),)).area < 0.5
    assert hidden.contains(view.representative_point())


def test_resolution_cap_shrinks_bands_not_the_view() -> None:
    w = four_lots()
    views = visibility(w)
    base = analyze(w, views=views)
    capped = cf.with_resolution_cap(w, from_world(w), views, max_width=640).result
    cam = capped.camera("cam")
    # 640 px over 90 degrees: 320 / d px/m -> detect 12.8 m, monitor 25.6 m.
    assert cam.band_distance_m["detect"] == pytest.approx(12.8)
    assert cam.visible_area_m2 == pytest.approx(base.camera("cam").visible_area_m2)
    assert cam.households_in_view == base.camera("cam").households_in_view
    c_door = {iv.household: iv.entrance_band for iv in cam.in_view}["C"]
    assert c_door == "monitor"  # 18.6 m: beyond detect (12.8), within monitor (25.6)
    side = capped.coverage[0]
    assert side.covered_m["detect"] == pytest.approx(0.0, abs=1e-9)
    assert side.covered_m["monitor"] == pytest.approx(5.0, abs=1e-6)
    assert capped.trackability.share == 0.0
    mid = cf.with_resolution_cap(w, from_world(w), views, max_width=960).result
    assert {iv.household: iv.entrance_band for iv in mid.camera("cam").in_view}["C"] == \
        "detect"  # 480 / d: detect reaches 19.2 m


def test_request_only_by_hand() -> None:
    w = four_lots()
    views = visibility(w)
    r = cf.request_only(w, from_world(w), views, approval_rate=0.5)
    s = r.result.summary
    # Nobody is live any more: A's tier drops to request, so all four households are
    # non-consenting and none is on the wall.
    assert (s.live_cameras, s.non_consenting, s.exposed_non_consenting) == (0, 4, 0)
    assert s.consent_leakage == 0.0
    # The one request camera sees all four lots (its owner included): each is in a clip with
    # probability 0.5.
    assert r.extra["non_consenting_a_request_could_expose"] == 4
    assert r.extra["expected_exposed_per_area_wide_request"] == pytest.approx(2.0)
    assert r.extra["request_potential_leakage"] == 1.0


def test_standard_set_and_table_rows() -> None:
    w = four_lots(masks=(Mask(0.0, 0.0, 0.5, 1.0),))
    views = visibility(w)
    base = analyze(w, views=views)
    cfs = cf.standard(w, views=views)
    assert [c.name for c in cfs] == ["masks-ring", "masks-world", "cap-640", "request-only"]
    rows = cf.to_dicts(base, cfs)
    assert rows[0]["name"] == "baseline"
    assert rows[0]["summary"]["consent_leakage"] == 1.0
    assert rows[0]["summary"]["non_consenting_entrance_recognisable"] == 0
    # Ring-style masks: every column of this camera shows mostly neighbours, so it masks the
    # whole frame and only its owner stays in view.
    ring = next(c for c in cfs if c.name == "masks-ring")
    assert ring.result.camera("cam").households_in_view == ("A",)
    assert ring.result.summary.consent_leakage == 0.0


def test_ring_strips_follow_the_rules() -> None:
    n = 40
    min_cols = int(np.ceil(MIN_MASK_WIDTH * n))
    weights = np.zeros(n)
    weights[0:2] = 5.0     # a narrow run at the left edge: widened to 15 %
    weights[20:22] = 1.0   # the lightest run: dropped (at most two masks)
    weights[30:40] = 2.0   # a wide run at the right edge
    masks = _strips(weights)
    assert len(masks) == 2
    left, right = masks
    assert (left.x, left.w) == (0.0, pytest.approx(min_cols / n))
    assert (right.x, right.w) == (pytest.approx(30 / n), pytest.approx(10 / n))
    assert all(m.y == 0.0 and m.h == 1.0 for m in masks)
    assert _strips(np.zeros(n)) == ()
