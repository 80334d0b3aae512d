"""The demo's two residents' homes (rtcc.cli.demo_homes): a live home among the simulated
cameras, a request home within reach of k request-tier cameras, made where a synthetic world has
none; the clip store URL from the simulators' metrics URL; the banner."""

from __future__ import annotations

import dataclasses

from rtcc.cli.demo_homes import (
    REACH,
    choose_homes,
    clip_store_url,
    gather_requests,
    home_banner,
)
from rtcc.world.synth import synthesize


def test_homes_of_the_default_demo_world() -> None:
    world = synthesize(80, 7, live_rate=0.3, camera_rate=0.5)
    live = sorted(c for c in world.cameras if world.camera_consent(c) == "live")
    homes = choose_homes(world, live, 3)
    assert homes.live == world.cameras[live[0]].household
    assert homes.request is not None and homes.request != homes.live
    cams = homes.request_cameras
    assert cams and all(world.cameras[c].household == homes.request for c in cams)
    assert all(world.camera_consent(c) == "request" for c in cams)
    centre = world.cameras[cams[0]].position
    reach = [c for c in world.cameras if world.camera_consent(c) == "request"
             and world.cameras[c].position.distance(centre) <= REACH]
    assert len(reach) >= 3


def test_a_world_without_a_request_corner_gets_one() -> None:
    world = synthesize(40, 3, camera_rate=0.8)
    none = dataclasses.replace(world, cameras={
        c: dataclasses.replace(cam, consent="live" if i % 4 == 0 else "registry")
        for i, (c, cam) in enumerate(sorted(world.cameras.items()))})
    live = sorted(c for c in none.cameras if none.camera_consent(c) == "live")
    assert choose_homes(none, live, 3).request is None
    gathered = gather_requests(none, 3, set(live))
    homes = choose_homes(gathered, live, 3)
    assert homes.request is not None
    assert all(gathered.camera_consent(c) == "live" for c in live)  # the wall keeps its cameras


def test_clip_store_url_and_banner() -> None:
    assert clip_store_url("http://127.0.0.1:4321/metrics") == \
        "http://127.0.0.1:4321/cams/{camera}/clip"
    lines = home_banner("http://127.0.0.1:8080", [("a home that shares its camera live",
                                                   "lee", "pw")])
    assert lines == ["rtcc demo: the residents' app is at http://127.0.0.1:8080/home/",
                     "  login: lee   password: pw   (a home that shares its camera live)"]
