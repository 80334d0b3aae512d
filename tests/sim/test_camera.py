"""SimCamera: real H.264 from libx264 with the ground-truth SEI, decoded back with PyAV."""

from __future__ import annotations

import io
import threading
from datetime import datetime
from pathlib import Path

import av
import numpy as np
import pytest

from rtcc.errors import MediaError
from rtcc.media.h264 import NAL_IDR, NAL_PPS, NAL_SEI, NAL_SPS, nal_type, split_annexb
from rtcc.media.sei import find_ground_truth
from simulators.camera import EncodedFrame, SimCamera
from simulators.clock import SimClock
from simulators.colours import i420_to_rgb
from simulators.font import text_layers
from simulators.scene import Scene
from simulators.trips import Track
from tests.sim.worlds import street_world

RESULTS = Path(__file__).resolve().parents[2] / "results"
WALL0 = 1_780_000_000  # wall-clock seconds at the start of the test "day"
T0_US = WALL0 * 1_000_000


def _still(pid: str, role: str, hh: str | None, xy: tuple[float, float]) -> Track:
    return Track(pid, role, hh, np.array([0.0, 1e6]), np.array([xy, xy], dtype=float))


@pytest.fixture(scope="module")
def world():
    return street_world(8)


NOON = 12 * 3600.0


@pytest.fixture(scope="module")
def clock():
    # Wall WALL0 is simulated 2026-06-01 12:00, scene time 43,200 s, in real time.
    return SimClock(1.0, datetime(2026, 6, 1, 12, 0, 0), wall_origin=WALL0)


@pytest.fixture(scope="module")
def posed_scene():
    """People standing still where the doorbell of hh-n3 (door at (-7.5, 15)) sees them."""
    return Scene.from_tracks([
        _still("hh-n3-r0", "resident", "hh-n3", (-6.8, 11.0)),
        _still("d0-1", "delivery", "hh-n4", (7.5, 12.0)),
        _still("hh-s2-w", "dog_walker", "hh-s2", (-20.0, -5.5)),
        _still("p0-7", "passer_by", None, (5.0, 5.5)),
        _still("v0-3", "visitor", "hh-s5", (15.0, -5.5)),
    ])


@pytest.fixture(scope="module")
def frames(world, posed_scene, clock):
    cam = SimCamera(world, world.cameras["cam-n3"], posed_scene, clock=clock)
    out = [cam.capture(T0_US + i * 100_000) for i in range(25)]
    cam.close()
    return out


def test_access_units_carry_parameter_sets_sei_and_gop(frames):
    assert [f.seq for f in frames] == list(range(25))
    assert [f.keyframe for f in frames] == [i % 10 == 0 for i in range(25)]  # GOP 1 s at 10 fps
    for f in frames:
        types = [nal_type(n) for n in f.au.nals]
        assert NAL_SEI in types
        first_slice = next(i for i, t in enumerate(types) if t in (1, NAL_IDR))
        assert types.index(NAL_SEI) < first_slice, "SEI goes before the slices"
        if f.keyframe:
            assert types.index(NAL_SPS) < types.index(NAL_PPS) < types.index(NAL_IDR)
            assert f.au.size < 100_000, "keyframes well under 100 KB"
        assert find_ground_truth(f.au.nals) == f.truth
        assert f.truth.cam == "cam-n3" and f.truth.seq == f.seq
        assert f.truth.t == f.capture_us
        assert f.au.pts == f.capture_us * 90_000 // 1_000_000


def test_ground_truth_matches_the_posed_scene(frames):
    subjects = {s.id: s for s in frames[0].truth.subjects}
    # Everybody posed is inside the doorbell's view; the visitor across the street, 30 m away,
    # is listed with no band (a 640 px, 160 deg fisheye reaches "monitor" only to 18.3 m).
    assert set(subjects) == {"hh-n3-r0", "d0-1", "hh-s2-w", "p0-7", "v0-3"}
    r = subjects["hh-n3-r0"]
    assert (r.household, r.role) == ("hh-n3", "resident")
    assert r.d == round(float(np.hypot(0.7, 4.0)), 1)
    assert subjects["p0-7"].household is None
    assert subjects["v0-3"].band is None and subjects["p0-7"].band == "monitor"
    assert subjects["d0-1"].role == "delivery" and subjects["d0-1"].household == "hh-n4"
    assert all(s.bbox == frames[0].truth.subjects[i].bbox
               for i, s in enumerate(frames[5].truth.subjects))  # nobody moved


def test_stream_decodes_with_pyav_and_sei_round_trips(frames, tmp_path):
    path = tmp_path / "cam.h264"
    path.write_bytes(b"".join(f.au.annexb() for f in frames))
    with av.open(str(path), mode="r", format="h264") as container:
        packets = [p for p in container.demux(video=0) if p.size]
        assert len(packets) == len(frames)
        for packet, f in zip(packets, frames, strict=True):
            assert find_ground_truth(split_annexb(bytes(packet))) == f.truth
    with av.open(str(path), mode="r", format="h264") as container:
        decoded = [fr.to_ndarray(format="rgb24") for fr in container.decode(video=0)]
    assert len(decoded) == len(frames)
    assert decoded[0].shape == (360, 640, 3)


def test_people_and_camera_id_are_visible_after_encoding(frames, tmp_path, world, clock):
    data = b"".join(f.au.annexb() for f in frames[:10])
    with av.open(io.BytesIO(data), mode="r", format="h264") as container:
        picture = next(container.decode(video=0))
    rgb = picture.to_ndarray(format="rgb24")
    luma = picture.to_ndarray(format="gray").astype(int)
    glyphs, rim = text_layers("cam-n3", 2)
    area = luma[5:5 + glyphs.shape[0], 5:5 + glyphs.shape[1]]
    assert area[glyphs].mean() > 190 and area[rim & ~glyphs].mean() < 70
    # Every listed person changes the picture inside their box (the empty street is the
    # reference, encoded the same way).
    empty = SimCamera(world, world.cameras["cam-n3"], Scene.from_tracks([]), clock=clock)
    ref = empty.capture(T0_US)
    empty.close()
    with av.open(io.BytesIO(ref.au.annexb()), mode="r", format="h264") as container:
        ref_luma = next(container.decode(video=0)).to_ndarray(format="gray").astype(int)
    for s in frames[0].truth.subjects:
        x, y, w, h = s.bbox
        diff = np.abs(luma[y:y + h, x:x + w] - ref_luma[y:y + h, x:x + w])
        assert (diff > 20).mean() > 0.15, s.id
    RESULTS.mkdir(exist_ok=True)
    from PIL import Image

    Image.fromarray(rgb).save(RESULTS / "sim_camera_doorbell.png")


def test_parameter_sets_are_known_before_the_first_frame(world, posed_scene, clock):
    cam = SimCamera(world, world.cameras["cam-s4"], posed_scene, clock=clock, width=320,
                    height=180, fps=5.0, gop_seconds=2.0)
    try:
        assert nal_type(cam.sps) == NAL_SPS and nal_type(cam.pps) == NAL_PPS
        first = cam.capture(T0_US)
        assert first.keyframe and first.seq == 0
        assert first.au.nals[first.au.nals.index(cam.sps) + 1] == cam.pps
        second = cam.capture(T0_US + 200_000)
        assert not second.keyframe
        cam.force_keyframe()
        third = cam.capture(T0_US + 400_000)
        assert third.keyframe and third.seq == 2
        assert isinstance(third, EncodedFrame) and third.camera_id == "cam-s4"
    finally:
        cam.close()
    cam.close()  # idempotent
    with pytest.raises(MediaError, match="after close"):
        cam.capture(T0_US + 600_000)


def test_cameras_share_a_scene_across_threads(world, clock):
    # Walkers on both sidewalks, moving during the captures (scene time noon .. + 1.1 s).
    scene = Scene.from_tracks([
        Track(f"p{i}", "passer_by", None, NOON + np.array([-40.0 + 7 * i, 40.0 + 7 * i]),
              np.array([[-60.0, y], [60.0, y]])) for i, y in enumerate((5.5, -5.5, 5.5, -5.5))
    ])
    ids = ["cam-n2", "cam-s1"]
    times = [T0_US + i * 100_000 for i in range(8)]

    def run(cam_id: str, out: dict[str, list]) -> None:
        cam = SimCamera(world, world.cameras[cam_id], scene, clock=clock)
        try:
            out[cam_id] = [cam.capture(t).truth for t in times]
        finally:
            cam.close()

    threaded: dict[str, list] = {}
    workers = [threading.Thread(target=run, args=(c, threaded)) for c in ids]
    for t in workers:
        t.start()
    for t in workers:
        t.join(60)
    sequential: dict[str, list] = {}
    for c in ids:
        run(c, sequential)
    assert threaded == sequential
    for truths in threaded.values():
        assert all(t.subjects for t in truths)
        # They walk: the boxes move from frame to frame.
        assert truths[0].subjects[0].bbox != truths[-1].subjects[0].bbox


def test_burned_in_clock_shows_simulated_time(world, posed_scene):
    fast = SimClock(60.0, datetime(2026, 6, 1, 7, 0, 0), wall_origin=WALL0)
    cam = SimCamera(world, world.cameras["cam-n3"], posed_scene, clock=fast)
    try:
        rendered = cam.render(T0_US + 10_000_000)  # 10 wall s = 10 simulated minutes
        frame = cam.capture(T0_US + 10_000_000)
    finally:
        cam.close()
    luma = rendered.frame[:360]
    glyphs, _ = text_layers("2026-06-01 07:10:00", 2)
    x0, y0 = cam.renderer.clock_xy
    area = luma[y0 - 1:y0 - 1 + glyphs.shape[0], x0 - 1:x0 - 1 + glyphs.shape[1]]
    assert (area[glyphs] == 235).all()
    assert frame.truth.t == T0_US + 10_000_000  # the SEI keeps wall-clock capture time
    assert i420_to_rgb(rendered.frame).shape == (360, 640, 3)


def test_night_is_infrared(world, posed_scene):
    night = SimClock(1.0, datetime(2026, 6, 1, 2, 0, 0), wall_origin=WALL0)
    cam = SimCamera(world, world.cameras["cam-n3"], posed_scene, clock=night)
    try:
        dark = cam.render(T0_US)
        empty = cam.renderer.render(Scene.from_tracks([]).state_at(0.0), None, 0.0)
        frame = cam.capture(T0_US)
    finally:
        cam.close()
    y, u, v = (dark.frame[:360], dark.frame[360:450], dark.frame[450:])
    assert (u == 128).all() and (v == 128).all(), "infrared pictures are grey"
    assert y[40:60, 100:540].max() < 30, "the sky is black"
    # The resident 4 m away is lit by the camera's LEDs: brighter than the ground behind them.
    near = next(s for s in dark.subjects if s.id == "hh-n3-r0")
    x, y0, w, h = near.bbox
    person = dark.frame[y0:y0 + h, x:x + w].astype(int)
    behind = empty.frame[y0:y0 + h, x:x + w].astype(int)
    assert (person != behind).mean() > 0.3
    assert frame.truth.subjects == dark.subjects  # the ground truth does not depend on light
    RESULTS.mkdir(exist_ok=True)
    from PIL import Image

    Image.fromarray(i420_to_rgb(dark.frame)).save(RESULTS / "sim_camera_doorbell_night.png")


def test_every_encoded_frame_shows_its_own_picture(world, clock):
    # Walkers move every frame; each decoded frame must match its own rendering, not a stale
    # or half-updated picture (the camera reuses one input picture for the encoder).
    scene = Scene.from_tracks([
        Track(f"p{i}", "passer_by", None, NOON + np.array([-5.0, 5.0]),
              np.array([[-30.0 + 4 * i, y], [-10.0 + 4 * i, y]]))
        for i, y in enumerate((5.5, -5.5, 5.5))
    ])
    cam = SimCamera(world, world.cameras["cam-n3"], scene, clock=clock)
    times = [T0_US + i * 100_000 for i in range(-20, 20, 2)]
    try:
        frames = [cam.capture(t) for t in times]
        references = [cam.render(t).frame[:360].astype(float) for t in times]
    finally:
        cam.close()
    data = b"".join(f.au.annexb() for f in frames)
    with av.open(io.BytesIO(data), mode="r", format="h264") as container:
        decoded = [p.to_ndarray(format="gray").astype(float) for p in container.decode(video=0)]
    assert len(decoded) == len(frames)
    for i, (got, want) in enumerate(zip(decoded, references, strict=True)):
        psnr = 10 * np.log10(255.0 ** 2 / max(np.mean((got - want) ** 2), 1e-9))
        assert psnr > 30.0, (i, psnr)
        # ...and it is closer to its own picture than to the next one.
        if i + 1 < len(references):
            assert np.mean((got - want) ** 2) < np.mean((got - references[i + 1]) ** 2)
