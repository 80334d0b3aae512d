"""Camera views: ground truth agrees with geometry, masks, occlusion, burned-in text."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping

import numpy as np
import pytest
import shapely
from shapely.geometry import Point, box

from rtcc.world.dori import band_at
from rtcc.world.model import Building, Camera, Mask
from rtcc.world.visibility import visibility_polygon
from simulators.colours import i420_planes, i420_to_rgb, rgb_to_i420
from simulators.figures import figure_for
from simulators.font import text_bitmap, text_layers
from simulators.render import CameraRenderer
from simulators.scene import SceneState
from tests.sim.worlds import empty_lot_world, street_world

W, H = 640, 360


def _state(people: Mapping[str, tuple[float, float]], role: str = "passer_by") -> SceneState:
    ids = np.array(list(people), dtype=object)
    return SceneState(ids, np.array([role] * len(ids), dtype=object),
                      np.array([None] * len(ids), dtype=object),
                      np.array(list(people.values()), dtype=float).reshape(-1, 2))


def _pinhole(**changes) -> Camera:
    """A level rectilinear camera at the origin looking north: 90 deg, 50 m; the world file
    says 1920 px wide, the RTCC receives 640."""
    cam = Camera("cam-hand", Point(0, 0), 0.0, 90.0, 50.0, width=1920, height=1080,
                 lens="rectilinear", type="city", mount_height=1.2, attributes={"tilt": 0.0})
    return dataclasses.replace(cam, **changes)


@pytest.fixture(scope="module")
def hand():
    cam = _pinhole()
    return CameraRenderer(empty_lot_world(cam), cam, W, H)


def test_distances_and_bands_hand_checked(hand):
    # 640 px across 90 deg: 320 / d pixels per metre on the axis. Bands: identify >= 250
    # (d <= 1.28 m), recognise >= 125 (2.56), observe >= 62.5 (5.12), detect >= 25 (12.8),
    # monitor >= 12.5 (25.6); beyond that, still in range (50 m) but no band.
    people = {"p1": (0, 1), "p2": (0, 2), "p5": (3, 4), "p10": (0, 10), "p20": (12, 16),
              "p30": (0, 30), "far": (0, 60), "behind": (-10, -10), "aside": (30, 5)}
    subjects = {s.id: s for s in hand.render(_state(people)).subjects}
    assert set(subjects) == {"p1", "p2", "p5", "p10", "p20", "p30"}
    want = {"p1": (1.0, "identify"), "p2": (2.0, "recognise"), "p5": (5.0, "observe"),
            "p10": (10.0, "detect"), "p20": (20.0, "monitor"), "p30": (30.0, None)}
    for pid, (d, band) in want.items():
        assert subjects[pid].d == pytest.approx(d)
        assert subjects[pid].band == band, pid
        # The same answer as rtcc.world.dori for the delivered width (not the 1920 of the file).
        assert band == band_at(dataclasses.replace(hand.source_camera, width=W), d)
    assert band_at(hand.source_camera, 5.0) == "recognise"  # at 1920 px it would be finer
    assert [s.id for s in hand.render(_state(people)).subjects] == [
        "p1", "p2", "p5", "p10", "p20", "p30"]  # nearest first


def test_bbox_hand_checked(hand):
    # Level pinhole, f = 320 px: a person 10 m ahead, 0.5 m wide, feet 1.2 m below the lens.
    (s,) = hand.render(_state({"a": (0, 10)})).subjects
    tall = figure_for("a", "passer_by").height
    x, y, w, h = s.bbox
    assert abs(x - 312) <= 1 and abs(w - 16) <= 1  # 320 +- 320 * 0.25 / 10
    assert abs((y + h) - 219) <= 1  # feet at 180 + 320 * 1.2 / 10 = 218.4
    assert abs(y - (180 - 320 * (tall - 1.2) / 10)) <= 1
    assert s.masked is False and s.household is None and s.role == "passer_by"


def test_person_is_drawn_inside_its_box(hand):
    empty = hand.render(_state({})).frame
    out = hand.render(_state({"a": (0, 10)}))
    (s,) = out.subjects
    x, y, w, h = s.bbox
    changed = np.argwhere(i420_planes(out.frame)[0] != i420_planes(empty)[0])
    assert len(changed) > 0.3 * w * h
    assert changed[:, 0].min() >= y and changed[:, 0].max() < y + h
    assert changed[:, 1].min() >= x and changed[:, 1].max() < x + w


def test_buildings_hide_people_in_frame_and_truth():
    cam = _pinhole()
    wall = Building("b-wall", box(-2, 18, 2, 22), None, {"height": 4.0})
    world = empty_lot_world(cam, (wall,))
    r = CameraRenderer(world, cam, W, H)
    out = r.render(_state({"hidden": (0, 30), "clear": (6, 30)}))
    assert [s.id for s in out.subjects] == ["clear"]
    only_clear = r.render(_state({"clear": (6, 30)}))
    np.testing.assert_array_equal(out.frame, only_clear.frame)  # not a pixel of "hidden"
    # The building itself is drawn: the middle columns above the horizon are not sky.
    y_plane = i420_planes(r.render(_state({})).frame)[0]
    no_wall = CameraRenderer(empty_lot_world(cam), cam, W, H).render(_state({})).frame
    assert (y_plane[150:175, 300:340] != i420_planes(no_wall)[0][150:175, 300:340]).all()


def test_truth_lists_exactly_the_people_inside_the_visibility_polygon():
    world = street_world(8)
    cam = world.cameras["cam-n3"]
    r = CameraRenderer(world, cam, W, H)
    vis = visibility_polygon(world, cam)
    rng = np.random.default_rng(7)
    pts = rng.uniform([-70, -40], [70, 40], size=(3000, 2))
    # Stay clear of the polygon's edge and of the lens itself, where rounding may decide.
    edge = shapely.distance(vis.boundary, shapely.points(pts))
    pts = pts[(edge > 0.05) & (np.hypot(*(pts - cam.xy).T) > 1.0)]
    inside = shapely.contains_xy(vis, pts[:, 0], pts[:, 1])
    assert 200 < inside.sum() < len(pts) - 200  # a real mix
    people = {f"p{i}": tuple(p) for i, p in enumerate(pts)}
    listed = {s.id for s in r.render(_state(people)).subjects}
    expected = {f"p{i}" for i in np.flatnonzero(inside)}
    assert listed == expected
    # Occluded by the house across the street (b-s3 spans x -12.5..-2.5, y -25..-15).
    behind_house = {"b": (-7.5, -30.0)}
    assert not r.render(_state(behind_house)).subjects
    assert r.render(_state({"c": (-7.5, -10.0)})).subjects


def test_masks_black_out_pixels_and_flag_subjects():
    cam = _pinhole(masks=(Mask(0.0, 0.0, 0.5, 1.0),))
    r = CameraRenderer(empty_lot_world(cam), cam, W, H)
    out = r.render(_state({"left": (-3.6, 10), "right": (3.6, 10), "middle": (0, 10)}))
    flags = {s.id: s.masked for s in out.subjects}
    assert flags == {"left": True, "right": False, "middle": False}
    y_pl, u_pl, v_pl = i420_planes(out.frame)
    osd = 30  # the camera id and clock overlay stay on top of the mask, as on a real camera
    assert (y_pl[osd:, :320] == 16).all()
    assert (u_pl[osd // 2:, :160] == 128).all() and (v_pl[osd // 2:, :160] == 128).all()
    assert (y_pl[osd:, 320:] != 16).mean() > 0.9
    unmasked = CameraRenderer(empty_lot_world(_pinhole()), _pinhole(), W, H)
    y_free = i420_planes(unmasked.render(_state({})).frame)[0]
    assert (y_free[osd:, :320] != 16).mean() > 0.9


def test_small_mask_does_not_hide_a_person():
    # A mask over the head only leaves most of the body visible: not masked.
    (s,) = CameraRenderer(empty_lot_world(_pinhole()), _pinhole(), W, H).render(
        _state({"a": (0, 10)})).subjects
    x, y, w, h = s.bbox
    head = Mask(x / W, y / H, w / W, 0.2 * h / H)
    cam = _pinhole(masks=(head,))
    (s2,) = CameraRenderer(empty_lot_world(cam), cam, W, H).render(
        _state({"a": (0, 10)})).subjects
    assert s2.bbox == s.bbox and s2.masked is False


def test_camera_id_and_clock_are_burned_in(hand):
    frame = hand.render(_state({}), "2026-06-01 07:10:00").frame
    y_pl = i420_planes(frame)[0]
    glyphs, rim = text_layers("cam-hand", 2)
    area = y_pl[5:5 + glyphs.shape[0], 5:5 + glyphs.shape[1]]  # text at (6, 6), layers at -1
    assert (area[glyphs] == 235).all()
    assert (area[rim & ~glyphs] == 16).all()
    # Another id gives another picture in the same place.
    other_glyphs, _ = text_layers("cam-xyzw", 2)
    assert (area[other_glyphs & ~glyphs] != 235).any()
    clock_glyphs, _ = text_layers("2026-06-01 07:10:00", 2)
    x0, y0 = hand.clock_xy
    clock_area = y_pl[y0 - 1:y0 - 1 + clock_glyphs.shape[0], x0 - 1:x0 - 1 + clock_glyphs.shape[1]]
    assert (clock_area[clock_glyphs] == 235).all()


def test_text_layers_match_the_font():
    glyphs, rim = text_layers("Ab1:", 1)
    bitmap = text_bitmap("Ab1:")
    assert glyphs.shape == (9, 24) and rim.shape == (9, 24)
    np.testing.assert_array_equal(glyphs[1:8, 1:24], bitmap)
    assert (rim >= glyphs).all() and rim.sum() > glyphs.sum()
    one = text_bitmap("1")
    # The classic 5x7 "1": a vertical bar in the middle column with a foot and a flag.
    assert one[:, 2].all() and one[6].sum() == 3 and one[1, 1]


def test_colour_conversion_round_trip():
    rng = np.random.default_rng(1)
    rgb = np.repeat(np.repeat(rng.uniform(0.05, 0.95, (18, 32, 3)), 2, 0), 2, 1)
    back = i420_to_rgb(rgb_to_i420(rgb.astype(np.float32))).astype(float)
    assert np.abs(back - rgb * 255).max() <= 3.0


def test_odd_size_is_refused():
    cam = _pinhole()
    with pytest.raises(ValueError, match="even"):
        CameraRenderer(empty_lot_world(cam), cam, 641, 360)


def test_fisheye_doorbell_sees_across_the_street():
    world = street_world(8)
    r = CameraRenderer(world, world.cameras["cam-n3"], W, H)
    rgb = i420_to_rgb(r.render(_state({})).frame).astype(int)
    # Sky on top (blue dominant), houses and the street in the middle band, lawn below.
    top, bottom = rgb[40:60, 200:440], rgb[300:340, 20:120]
    assert (top[..., 2] > top[..., 0] + 20).mean() > 0.95
    assert (bottom[..., 1] > bottom[..., 0] + 20).mean() > 0.95
    assert math.isinf(r.occluder[300, 20]) and np.isfinite(r.occluder).any()


def test_daylight_over_the_day():
    from simulators.lighting import daylight

    h = 3600.0
    assert daylight(12 * h) == 1.0 and daylight(2 * h) == 0.0 and daylight(23 * h) == 0.0
    # Sunrise 06:30 and sunset 19:30 are the middle of 45-minute twilights.
    assert daylight(6.5 * h) == 0.5 and daylight(19.5 * h) == 0.5
    assert daylight(6.5 * h - 0.375 * h) == 0.0 and daylight(6.5 * h + 0.375 * h) == 1.0
    assert daylight(86400 + 12 * h) == 1.0  # every day alike


def test_dusk_dims_and_night_greys_the_background(hand):
    day = hand.render(_state({}), None, 1.0).frame
    dusk = hand.render(_state({}), None, 0.5).frame
    night = hand.render(_state({}), None, 0.0).frame
    y_day, u_day, _ = i420_planes(day)
    y_dusk, u_dusk, _ = i420_planes(dusk)
    y_night, u_night, v_night = i420_planes(night)
    below = slice(40, 360)  # under the OSD
    assert y_dusk[below].mean() < y_day[below].mean()
    assert np.abs(u_dusk.astype(int) - 128).mean() < np.abs(u_day.astype(int) - 128).mean()
    assert (u_night == 128).all() and (v_night == 128).all()
    # Infrared: the ground near the lens (bottom rows) is brighter than the ground far away.
    assert y_night[340:].mean() > y_night[190:200].mean() + 20


@pytest.mark.parametrize("masks", [(), (Mask(0.0, 0.4, 0.3, 0.6),)])
def test_incremental_rendering_equals_full_rendering(masks):
    world = street_world(8)
    cam = dataclasses.replace(world.cameras["cam-n3"], masks=masks)
    r = CameraRenderer(world, cam, W, H)
    frame = np.zeros_like(r.background.frame)
    planes = i420_planes(frame)
    rng = np.random.default_rng(3)
    for k in range(25):
        # People come and go between frames; the clock ticks; dusk falls at the end.
        people = {f"p{j}": tuple(rng.uniform([-40, -12], [25, 12]))
                  for j in range(int(rng.integers(0, 6)))}
        state = _state(people, "dog_walker" if k % 2 else "delivery")
        light = 1.0 if k < 20 else 0.5
        clock = f"2026-06-01 07:00:{k:02d}"
        got = r.render_into(planes, state, clock, light, reuse=True)
        want = r.render(state, clock, light)
        assert got == want.subjects
        np.testing.assert_array_equal(frame, want.frame)
