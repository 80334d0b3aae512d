"""DORI image detail: hand-checked band distances and band polygons."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
import shapely

from rtcc.world.dori import (
    BAND_NAMES,
    band_areas,
    band_at,
    band_distance,
    band_distances,
    band_polygons,
    pixels_per_metre,
)
from rtcc.world.optics import (
    BUSINESS,
    CITY,
    FLOODLIGHT,
    RING_DOORBELL_4,
    RING_DOORBELL_PRO_2,
    delivered_size,
)
from rtcc.world.visibility import visibility_polygon
from tests.world.worlds import building, camera, street_world

DOORBELL = camera("d", 0, 0, 0, 160, 55, width=1920, lens="fisheye")


def test_fisheye_doorbell_by_hand() -> None:
    """1920 px over 160 degrees = 1920 / 2.79253 rad = 687.55 px/rad; px/m = 687.55 / d.
    Identify (250 px/m) to 2.750 m, recognise 5.501 m, observe 11.00 m, detect 27.50 m,
    monitor 55.00 m."""
    d = band_distances(DOORBELL)
    assert list(d) == list(BAND_NAMES)
    assert d["identify"] == pytest.approx(2.7502, abs=1e-4)
    assert d["recognise"] == pytest.approx(5.5004, abs=1e-4)
    assert d["observe"] == pytest.approx(11.0008, abs=1e-4)
    assert d["detect"] == pytest.approx(27.5020, abs=1e-4)
    assert d["monitor"] == pytest.approx(55.0039, abs=1e-4)


def test_capped_stream_is_a_third() -> None:
    capped = replace(DOORBELL, width=640, height=360)
    for band in BAND_NAMES:
        assert band_distance(capped, band) == pytest.approx(band_distance(DOORBELL, band) / 3)
    assert band_distance(capped, "identify") == pytest.approx(0.9167, abs=1e-4)


def test_rectilinear_by_hand() -> None:
    """1920 px over 90 degrees: px/m = 1920 / (2 d tan 45) = 960 / d; identify at 3.84 m."""
    cam = camera("r", 0, 0, 0, 90, 100, width=1920, lens="rectilinear")
    assert pixels_per_metre(cam, 10.0) == pytest.approx(96.0)
    assert band_distance(cam, "identify") == pytest.approx(3.84)
    assert band_distance(cam, "monitor") == pytest.approx(76.8)


def test_band_at() -> None:
    assert band_at(DOORBELL, 0.0) == "identify"
    edge = band_distance(DOORBELL, "identify")
    assert band_at(DOORBELL, edge) == "identify"        # the edge belongs to the band
    assert band_at(DOORBELL, 2.76) == "recognise"
    assert band_at(DOORBELL, 10.0) == "observe"
    assert band_at(DOORBELL, 20.0) == "detect"
    assert band_at(DOORBELL, 40.0) == "monitor"
    assert band_at(DOORBELL, 54.99) == "monitor"
    assert band_at(DOORBELL, 55.1) is None              # beyond range
    short = replace(DOORBELL, range=20.0)
    assert band_at(short, 25.0) is None
    far = replace(DOORBELL, range=100.0)
    assert band_at(far, 60.0) is None                   # beyond monitor: no useful detail


def test_band_polygons_partition_the_view() -> None:
    cam = camera("d", 0, 0, 0, 160, 55, width=1920, lens="fisheye")
    world = street_world([cam], [building("house", -3, 20, 3, 26)])
    view = visibility_polygon(world, cam)
    bands = band_polygons(cam, view)
    assert list(bands) == list(BAND_NAMES)
    total = sum(g.area for g in bands.values())
    assert total == pytest.approx(view.area, rel=1e-6)
    for a, b in zip(BAND_NAMES, BAND_NAMES[1:], strict=False):
        assert shapely.intersection(bands[a], bands[b]).area < 1e-6
    # Identify: the 160-degree sector of radius 2.75 (nothing occludes that close).
    r = band_distance(cam, "identify")
    assert bands["identify"].area == pytest.approx(math.pi * r**2 * 160 / 360, rel=1e-4)
    # Detect band minus the house's shadow: the annulus sector 11..27.5 m less what's hidden.
    annulus = math.pi * (27.5**2 - 11**2) * 160 / 360
    assert bands["detect"].area < annulus
    areas = band_areas(cam, view)
    assert areas["identify"] == pytest.approx(bands["identify"].area)


def test_range_shorter_than_bands() -> None:
    cam = camera("d", 0, 0, 0, 160, 8, width=1920, lens="fisheye")
    view = visibility_polygon(street_world([cam]), cam)
    bands = band_polygons(cam, view)
    assert bands["detect"].is_empty and bands["monitor"].is_empty
    assert bands["observe"].area == pytest.approx(
        math.pi * (8**2 - band_distance(cam, "recognise") ** 2) * 160 / 360, rel=1e-4)
    assert sum(g.area for g in bands.values()) == pytest.approx(view.area, rel=1e-6)


def test_camera_models_from_domain() -> None:
    assert (RING_DOORBELL_4.width, RING_DOORBELL_4.fov, RING_DOORBELL_4.vfov) == (1920, 160, 84)
    assert (RING_DOORBELL_PRO_2.width, RING_DOORBELL_PRO_2.height, RING_DOORBELL_PRO_2.fov) == \
        (1536, 1536, 150)
    assert RING_DOORBELL_4.mount_height == 1.2
    # Default ranges are the monitor distance of the native stream.
    assert RING_DOORBELL_4.range == 55.0
    assert RING_DOORBELL_PRO_2.range == round(1536 / math.radians(150) / 12.5)
    assert FLOODLIGHT.range == round(1920 / math.radians(140) / 12.5)
    assert BUSINESS.range == round(1920 / (2 * math.tan(math.radians(50))) / 12.5)
    assert CITY.range == round(1920 / (2 * math.tan(math.radians(30))) / 12.5)
    assert delivered_size(RING_DOORBELL_4, 640) == (640, 360)
    assert delivered_size(RING_DOORBELL_PRO_2, 640) == (640, 640)
    assert delivered_size(RING_DOORBELL_4, None) == (1920, 1080)
