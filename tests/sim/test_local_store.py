"""The simulated camera's local store: motion-triggered recordings re-rendered from the scene,
decoded back with PyAV and checked against ground truth; the HTTP endpoint and its errors."""

from __future__ import annotations

import io
from datetime import datetime
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from aiohttp import web

from rtcc.errors import ConfigError, InvalidInput, NotFound
from rtcc.media.h264 import NAL_IDR, NAL_PPS, NAL_SPS, nal_type, split_annexb
from rtcc.media.sei import GroundTruth, find_ground_truth
from simulators.camera import SimCamera
from simulators.clip_http import ClipEndpoint
from simulators.clock import SimClock
from simulators.local_store import LocalStore, StorePolicy
from simulators.rates import SceneRates
from simulators.scene import Scene
from simulators.trips import Track
from tests.sim.worlds import street_world

WALL0 = 1_780_000_000  # wall-clock unix seconds when the simulated day reaches noon
NOW = WALL0 + 3600
SIZE = (320, 180)
DAY = 86400.0
# Foot traffic 10-15x the defaults: a 15-minute window sees several events on every camera.
BUSY = SceneRates(visitors_per_hour=0.3, deliveries_per_hour=0.2, passers_by_per_hour=0.3)


def _stint(pid: str, xy: tuple[float, float], t0: float, t1: float) -> Track:
    """Someone standing at ``xy`` from scene time ``t0`` (inclusive) to ``t1`` (exclusive)."""
    return Track(pid, "resident", "hh-n3", np.array([t0, t1]), np.array([xy, xy], dtype=float))


NOON = 12 * 3600.0
IN_VIEW = (-6.8, 11.0)  # in front of the doorbell of hh-n3 (door at (-7.5, 15), facing south)


@pytest.fixture(scope="module")
def world() -> Any:
    return street_world(8)


@pytest.fixture(scope="module")
def clock() -> SimClock:
    return SimClock(1.0, datetime(2026, 6, 1, 12, 0, 0), wall_origin=WALL0)


@pytest.fixture(scope="module")
def posed(world: Any, clock: SimClock) -> LocalStore:
    """cam-n3 sees one person in three stints (scene seconds after noon): 100-130, 300-310 and
    602-620; someone else stands far out of view from 400 to 500."""
    scene = Scene.from_tracks([
        _stint("hh-n3-r0", IN_VIEW, NOON + 100, NOON + 130),
        _stint("hh-n3-r0", IN_VIEW, NOON + 300, NOON + 310),
        _stint("hh-n3-r0", IN_VIEW, NOON + 602, NOON + 620),
        _stint("far-away", (200.0, 200.0), NOON + 400, NOON + 500),
    ])
    return LocalStore(world, scene, clock, ["cam-n3"], width=SIZE[0], height=SIZE[1])


def frames_of(data: bytes) -> list[tuple[bytes, GroundTruth, np.ndarray]]:
    """(access unit, ground truth, decoded luma) per frame, demuxed and decoded by FFmpeg."""
    out = []
    with av.open(io.BytesIO(data), mode="r", format="h264") as container:
        for packet in container.demux(video=0):
            if packet.size == 0:
                continue
            au = bytes(packet)
            truth = find_ground_truth(split_annexb(au))
            assert truth is not None, "every access unit carries the ground-truth SEI"
            for frame in packet.decode():
                # Raw Y plane (the "gray" conversion would rescale to full range).
                out.append((au, truth, frame.to_ndarray(format="yuv420p")[:frame.height]))
    return out


def test_records_exactly_the_motion_with_pre_and_post_roll(posed: LocalStore, world: Any,
                                                           clock: SimClock) -> None:
    clip = posed.record("cam-n3", WALL0, WALL0 + 600, now=NOW)
    # Hand-worked at 2 fps with 4 s of pre- and post-roll (8 moments each):
    #   stint 100-130 s: motion at 100.0 .. 129.5 -> recorded 96.0 .. 133.5   (76 frames)
    #   stint 300-310 s: motion at 300.0 .. 309.5 -> recorded 296.0 .. 313.5  (36 frames)
    #   stint 602-620 s starts after the window, its pre-roll reaches in: 598.0 .. 600.0 (5)
    expected = ([WALL0 + 96 + i / 2 for i in range(76)] + [WALL0 + 296 + i / 2 for i in range(36)]
                + [WALL0 + 598 + i / 2 for i in range(5)])
    assert (clip.frames, clip.events, clip.truncated) == (117, 3, False)
    assert (clip.first_us, clip.last_us) == (int(expected[0] * 1e6), int(expected[-1] * 1e6))
    frames = frames_of(clip.data)
    assert [t.t for _, t, _ in frames] == [int(t * 1e6) for t in expected]
    assert [t.seq for _, t, _ in frames] == list(range(117))
    assert {t.cam for _, t, _ in frames} == {"cam-n3"}
    # The subject is in the truth exactly while standing there; roll frames show nobody.
    for _, truth, _ in frames:
        t = truth.t / 1e6 - WALL0
        there = 100 <= t < 130 or 300 <= t < 310
        assert [s.id for s in truth.subjects] == (["hh-n3-r0"] if there else [])
    # Every event starts with an IDR, SPS and PPS before it.
    starts = [0, 76, 112]
    for i in starts:
        types = [nal_type(n) for n in split_annexb(frames[i][0])]
        assert NAL_IDR in types
        assert types.index(NAL_SPS) < types.index(NAL_PPS) < types.index(NAL_IDR)
    # The decoded picture is the scene at that moment: compare with an independent render.
    cam = SimCamera(world, world.cameras["cam-n3"], posed.scene, clock=clock, width=SIZE[0],
                    height=SIZE[1])
    try:
        for i in (0, 10, 76, 116):
            shot = cam.render(frames[i][1].t)
            assert shot.subjects == frames[i][1].subjects
            luma = shot.frame[:SIZE[1]].astype(np.int16)
            assert np.abs(frames[i][2].astype(np.int16) - luma).mean() < 1.5
    finally:
        cam.close()


def test_window_is_cut_at_now_and_at_the_retention(posed: LocalStore) -> None:
    # At now = noon + 120 s the person is still there: no post-roll yet, nothing later.
    clip = posed.record("cam-n3", WALL0, WALL0 + 900, now=WALL0 + 120)
    assert clip.end == WALL0 + 120
    assert (clip.frames, clip.first_us, clip.last_us) == (49, (WALL0 + 96) * 10**6,
                                                          (WALL0 + 120) * 10**6)
    # A one-hour retention at now = noon + 1 h + 110 s: the first stint's start is deleted.
    short = LocalStore(posed.world, posed.scene, posed.clock, ["cam-n3"], width=SIZE[0],
                       height=SIZE[1], policy=StorePolicy(retention=3600.0))
    clip = short.record("cam-n3", WALL0, WALL0 + 600, now=WALL0 + 3710)
    assert clip.start == WALL0 + 110
    assert clip.first_us == (WALL0 + 110) * 10**6
    assert clip.frames == 48 + 36 + 5  # 110.0 .. 133.5, then the other two as before
    with pytest.raises(InvalidInput, match="retention of 0.0416667 days") as err:
        short.record("cam-n3", WALL0, WALL0 + 600, now=WALL0 + 4200)
    assert err.value.field == "end"


def test_default_retention_is_thirty_days(posed: LocalStore) -> None:
    assert posed.policy.retention == 30 * DAY
    old = NOW - 30 * DAY
    with pytest.raises(InvalidInput, match="30 days"):
        posed.check("cam-n3", old - 900, old - 1, NOW)
    assert posed.check("cam-n3", old - 900, old + 900, NOW) == (old, old + 900)


@pytest.mark.parametrize(("start", "end", "field", "message"), [
    (NOW - 600, NOW - 600, "end", "must be after start"),
    (NOW - 600, NOW - 900, "end", "must be after start"),
    (NOW - 13 * 3600, NOW - 600, "window", "longer than the 12 h"),
    (NOW + 10, NOW + 900, "start", "future"),
    (float("nan"), NOW, "start", "unix seconds"),
    (-5.0, NOW, "start", "unix seconds"),
])
def test_bad_windows_name_their_field(posed: LocalStore, start: float, end: float, field: str,
                                      message: str) -> None:
    with pytest.raises(InvalidInput, match=message) as err:
        posed.record("cam-n3", start, end, now=NOW)
    assert err.value.field == field


def test_unknown_camera_and_bad_policy(posed: LocalStore, world: Any) -> None:
    with pytest.raises(NotFound, match="cam-s1"):
        posed.record("cam-s1", WALL0, WALL0 + 600, now=NOW)  # in the world, not served
    with pytest.raises(ConfigError, match="no camera 'nope'"):
        LocalStore(world, posed.scene, posed.clock, ["nope"])
    with pytest.raises(ConfigError, match="fps"):
        StorePolicy(fps=0)


def test_caps_cut_the_clip_and_say_so(posed: LocalStore) -> None:
    capped = LocalStore(posed.world, posed.scene, posed.clock, ["cam-n3"], width=SIZE[0],
                        height=SIZE[1], policy=StorePolicy(max_frames=10))
    clip = capped.record("cam-n3", WALL0, WALL0 + 600, now=NOW)
    assert (clip.frames, clip.events, clip.truncated) == (10, 1, True)
    assert len(frames_of(clip.data)) == 10
    small = LocalStore(posed.world, posed.scene, posed.clock, ["cam-n3"], width=SIZE[0],
                       height=SIZE[1], policy=StorePolicy(max_bytes=20_000))
    clip = small.record("cam-n3", WALL0, WALL0 + 600, now=NOW)
    assert clip.truncated and 0 < len(clip.data) <= 20_000
    assert len(frames_of(clip.data)) == clip.frames < 117


def _busy_store(world: Any, clock: SimClock) -> LocalStore:
    return LocalStore(world, Scene(world, BUSY, seed=3), clock, ["cam-n0", "cam-s2"],
                      width=SIZE[0], height=SIZE[1])


def test_generated_scene_same_window_same_bytes(world: Any, clock: SimClock) -> None:
    """The past is recomputed: twice on one store, and on a store rebuilt from the seed."""
    store = _busy_store(world, clock)
    first = store.record("cam-n0", WALL0 - 900, WALL0, now=NOW)
    again = store.record("cam-n0", WALL0 - 900, WALL0, now=NOW)
    rebuilt = _busy_store(world, SimClock(1.0, datetime(2026, 6, 1, 12, 0, 0),
                                          wall_origin=WALL0))
    other = rebuilt.record("cam-n0", WALL0 - 900, WALL0, now=NOW)
    assert first.frames > 20 and first.events >= 2
    assert first.data == again.data == other.data
    # Overlapping windows record the same moments (a fixed grid) with the same truth.
    later = store.record("cam-n0", WALL0 - 600, WALL0, now=NOW)
    a = {t.t: t.subjects for _, t, _ in frames_of(first.data) if t.t >= (WALL0 - 600) * 1e6}
    b = {t.t: t.subjects for _, t, _ in frames_of(later.data)}
    assert a == b and a


def test_generated_scene_frames_match_ground_truth(world: Any, clock: SimClock) -> None:
    store = _busy_store(world, clock)
    clip = store.record("cam-s2", WALL0 - 900, WALL0, now=NOW)
    frames = frames_of(clip.data)
    assert len(frames) == clip.frames > 20
    cam = SimCamera(world, world.cameras["cam-s2"], Scene(world, BUSY, seed=3), clock=clock,
                    width=SIZE[0], height=SIZE[1])
    try:
        truths = [cam.render(t.t).subjects for _, t, _ in frames]
        # Every moment with someone in the picture was recorded (motion-triggered) ...
        recorded = {t.t for _, t, _ in frames}
        grid = range((WALL0 - 900) * 10**6, WALL0 * 10**6 + 1, 500_000)
        seen = [t for t in grid if cam.render(t).subjects]
        assert seen and set(seen) <= recorded
    finally:
        cam.close()
    assert [t.subjects for _, t, _ in frames] == truths
    assert all((WALL0 - 900) * 1e6 <= t.t <= WALL0 * 1e6 for _, t, _ in frames)
    assert sum(1 for s in truths if s) >= len(frames) // 2


# --- HTTP -----------------------------------------------------------------------------------

TOKEN = "clip-secret-1"


@pytest.fixture
async def http(aiohttp_client: Any, posed: LocalStore) -> Any:
    endpoint = ClipEndpoint(posed, token=TOKEN, clock=lambda: NOW)
    app = web.Application()
    app.router.add_routes(endpoint.routes())
    return await aiohttp_client(app)


async def _get(http: Any, path: str, token: str | None = TOKEN) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return await http.get(path, headers=headers)


async def test_http_serves_the_clip_with_its_headers(http: Any, posed: LocalStore) -> None:
    resp = await _get(http, f"/cams/cam-n3/clip?start={WALL0}&end={WALL0 + 600}")
    assert resp.status == 200 and resp.content_type == "video/h264"
    body = await resp.read()
    assert body == posed.record("cam-n3", WALL0, WALL0 + 600, now=NOW).data
    h = resp.headers
    assert (h["X-Clip-Frames"], h["X-Clip-Events"], h["X-Clip-Fps"]) == ("117", "3", "2")
    assert h["X-Clip-Cap"] == "frames=3600; bytes=134217728"
    assert h["X-Clip-Truncated"] == "0"
    assert (h["X-Clip-First-Us"], h["X-Clip-Last-Us"]) == (str((WALL0 + 96) * 10**6),
                                                           str((WALL0 + 600) * 10**6))
    # Nobody in view from 140 s to 290 s: nothing recorded.
    resp = await _get(http, f"/cams/cam-n3/clip?start={WALL0 + 140}&end={WALL0 + 290}.5")
    assert resp.status == 204 and resp.headers["X-Clip-Frames"] == "0"
    assert await resp.read() == b""


@pytest.mark.parametrize(("query", "field", "message"), [
    ("end=1780000600", "start", "start: required"),
    (f"start={WALL0}", "end", "end: required"),
    (f"start=noon&end={WALL0}", "start", "expected unix seconds"),
    (f"start={WALL0}&end=inf", "end", "finite"),
    (f"start={WALL0}&end={WALL0}", "end", "must be after start"),
    (f"start={WALL0 - 13 * 3600}&end={WALL0}", "window", "longer than the 12 h"),
    (f"start={NOW - 31 * DAY - 900}&end={NOW - 31 * DAY}", "end",
     "outside the camera's retention of 30 days"),
    (f"start={NOW + 60}&end={NOW + 960}", "start", "future"),
])
async def test_http_bad_parameters_are_400_json(http: Any, query: str, field: str,
                                                message: str) -> None:
    resp = await _get(http, f"/cams/cam-n3/clip?{query}")
    assert resp.status == 400
    doc = await resp.json()
    assert doc["field"] == field and message in doc["error"]


async def test_http_unknown_camera_and_token(http: Any) -> None:
    resp = await _get(http, f"/cams/cam-n9/clip?start={WALL0}&end={WALL0 + 600}")
    assert resp.status == 404 and "cam-n9" in (await resp.json())["error"]
    for token in (None, "wrong", TOKEN + "x"):
        resp = await _get(http, f"/cams/cam-n3/clip?start={WALL0}&end={WALL0 + 600}", token)
        assert resp.status == 401 and resp.headers["WWW-Authenticate"].startswith("Bearer")
    resp = await http.get(f"/cams/cam-n3/clip?start={WALL0}&end={WALL0 + 600}",
                          headers={"Authorization": f"Basic {TOKEN}"})
    assert resp.status == 401



# --- rtcc sim serves the store ----------------------------------------------------------------


@pytest.mark.slow
async def test_rtcc_sim_serves_clips_behind_its_token(tmp_path: Path) -> None:
    import asyncio
    import os
    import sys
    import time

    import aiohttp

    from rtcc.world.geojson import save_world
    from rtcc.world.synth import synthesize

    world = tmp_path / "street.geojson"
    save_world(synthesize(12, 1, stream_width=640), world)
    # 60x: the window 10 to 5 minutes ago is simulated 08:00 to 13:00, busy with people.
    scenario = tmp_path / "day.toml"
    scenario.write_text('[scene]\nseed = 5\npassers_by_per_hour = 0.2\n\n'
                        '[clock]\ntime_scale = 60.0\nstart = 2026-06-01T18:00:00\n')
    env = {k: v for k, v in os.environ.items() if not k.startswith("RTCC_")}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "rtcc.cli", "sim", "--world", str(world), "--count", "1",
        "--size", "320x180", "--fps", "2", "--rtsp-port", "0", "--metrics-port", "0",
        "--scenario", str(scenario), "--clip-token", TOKEN, "--clip-retention", "1",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env)
    try:
        lines: dict[str, str] = {}
        assert proc.stdout is not None
        async with asyncio.timeout(30):
            while "clips" not in lines:
                line = (await proc.stdout.readline()).decode()
                assert line, "rtcc sim exited before it was ready"
                name, _, value = line.strip().partition(" ")
                lines[name] = value
        camera = next(n for n in lines if n.startswith("cam-"))
        template = lines["clips"]
        assert template.startswith("http://127.0.0.1:") and template.endswith(
            "/cams/{camera}/clip")
        url = template.replace("{camera}", camera)
        now = time.time()
        auth = {"Authorization": f"Bearer {TOKEN}"}
        async with aiohttp.ClientSession() as http:
            async with http.get(url, params={"start": now - 600, "end": now - 300}) as resp:
                assert resp.status == 401
            old = {"start": now - 1.5 * DAY, "end": now - 1.5 * DAY + 900}
            async with http.get(url, params=old, headers=auth) as resp:
                assert resp.status == 400
                assert "retention of 1 days" in (await resp.json())["error"]
            recent = {"start": now - 600, "end": now - 300}
            async with http.get(url, params=recent, headers=auth) as resp:
                assert resp.status == 200 and resp.headers["X-Clip-Fps"] == "2"
                frames = int(resp.headers["X-Clip-Frames"])
                body = await resp.read()
        truth = frames_of(body)
        assert len(truth) == frames > 0 and {t.cam for _, t, _ in truth} == {camera}
        assert all((now - 600) * 1e6 <= t.t <= (now - 300) * 1e6 for _, t, _ in truth)
    finally:
        proc.terminate()
        async with asyncio.timeout(15):
            _, err = await proc.communicate()
    assert proc.returncode == 0 and "Traceback" not in err.decode()
