"""Camera presets on short real encodes (size, GOP, bitrate, frame sizes), the template cache, and
a user's own recording replayed end to end by ``rtcc sim --replay-file``."""

from __future__ import annotations

import asyncio
import shutil
import statistics
import subprocess
from datetime import datetime
from pathlib import Path

import av
import pytest

from rtcc.media.h264 import split_annexb
from rtcc.media.sei import find_ground_truth
from rtcc.world.synth import synthesize
from simulators.camera import SimCamera
from simulators.clock import SimClock
from simulators.presets import PRESETS, preset
from simulators.replay import Template, record_template
from simulators.scene import Scene
from simulators.template_cache import TemplateCache, decode, encode
from tests.sim.conftest import pyav_pull
from tests.sim.test_cli_sim import _run

WALL0 = 1_780_000_000.0


@pytest.fixture(scope="module")
def street():
    world = synthesize(12, 1, stream_width=1280, camera_rate=1.0)
    clock = SimClock(1.0, datetime(2026, 6, 1, 7, 30, 0), wall_origin=WALL0)
    return world, Scene(world, seed=1), clock


def _record(street, name: str) -> Template:
    """What ``rtcc sim --replay --preset NAME`` records: a warmed-up GOP of a world camera."""
    world, scene, clock = street
    p = preset(name)
    camera = sorted(world.cameras.values(), key=lambda c: c.id)[0]
    cam = SimCamera(world, camera, scene, width=p.width, height=p.height, fps=p.fps,
                    gop_seconds=p.gop_seconds, clock=clock, bitrate=p.bitrate,
                    maxrate=p.maxrate, bufsize=p.bufsize, ipratio=p.ipratio, grain=p.grain)
    try:
        return record_template(cam, camera.id, fps=p.fps, width=p.width, height=p.height,
                               seconds=p.gop_seconds, start_us=int(WALL0 * 1e6),
                               warmup_seconds=p.gop_seconds)
    finally:
        cam.close()


#: Median P-frame bytes a busy street has at each preset's bitrate (cameras at these rates send
#: P-frames of a few to a few tens of kB; the rendered street without grain sent ~0.2-0.5 kB).
P_FRAME_RANGE = {"720p15": (2_500, 10_000), "1080p15": (5_000, 20_000),
                 "1536p15": (8_000, 40_000)}


@pytest.mark.parametrize("name", ["720p15", "1080p15", "1536p15"])
def test_preset_streams_have_the_size_gop_bitrate_and_frame_sizes_of_real_cameras(
        street, name: str) -> None:
    p = PRESETS[name]
    template = _record(street, name)
    frames = template.frames
    assert (template.width, template.height, template.fps) == (p.width, p.height, 15.0)
    assert len(frames) == 30 and p.gop_frames == 30
    assert [i for i, f in enumerate(frames) if f.keyframe] == [0]  # one IDR per 2 s GOP
    pictures = _decode(template)
    assert len(pictures) == 30 and pictures[0].shape == (p.height, p.width)
    assert p.bitrate is not None
    assert 0.75 * p.bitrate <= template.bitrate <= 1.25 * p.bitrate, template.bitrate
    sizes = [f.size for f in frames]
    low, high = P_FRAME_RANGE[name]
    assert low <= statistics.median(sizes[1:]) <= high, sizes
    key_share = sizes[0] / sum(sizes)
    assert 0.1 <= key_share <= 0.5, key_share


def _decode(template: Template) -> list:
    import numpy as np

    ctx = av.CodecContext.create("h264", "r")
    out = []
    for f in template.frames:
        data = b"".join(b"\x00\x00\x00\x01" + n for n in (template.sps, template.pps, *f.head,
                                                          *f.body))
        for packet in ctx.parse(data):
            out += [np.asarray(fr.to_ndarray(format="gray")) for fr in ctx.decode(packet)]
    for packet in ctx.parse(None):
        out += [fr.to_ndarray(format="gray") for fr in ctx.decode(packet)]
    out += [fr.to_ndarray(format="gray") for fr in ctx.decode(None)]
    return out


def test_360p10_is_the_stream_from_before_presets() -> None:
    p = preset("360p10")
    assert (p.width, p.height, p.fps, p.gop_seconds, p.bitrate, p.grain) == \
        (640, 360, 10.0, 1.0, None, 0.0)


def test_template_cache_round_trip_keys_and_bad_files(street, tmp_path: Path) -> None:
    template = _record(street, "720p15")
    again = decode(encode(template))
    assert again == template
    cache = TemplateCache.of(tmp_path, world="abc", stream=preset("720p15").as_json(), hour=7)
    assert cache.load("cam-1") is None
    cache.store("cam-1", template)
    assert cache.load("cam-1") == template
    other = TemplateCache.of(tmp_path, world="abc", stream=preset("1080p15").as_json(), hour=7)
    assert other.key("cam-1") != cache.key("cam-1") and other.load("cam-1") is None
    assert cache.key("cam-2") != cache.key("cam-1")
    cache.path("cam-1").write_bytes(encode(template)[:-10])  # truncated: ignored, not trusted
    assert cache.load("cam-1") is None
    cache.path("cam-1").write_bytes(b'{"format":"pickle"}\n')
    assert cache.load("cam-1") is None


@pytest.fixture(scope="module")
def recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three seconds of real H.264 in MP4 (length-prefixed NAL units, avcC), made by ffmpeg."""
    assert shutil.which("ffmpeg"), "ffmpeg is not installed (./run setup installs it)"
    path = tmp_path_factory.mktemp("rec") / "doorbell.mp4"
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i",
                    "testsrc2=size=320x240:rate=15", "-t", "3", "-c:v", "libx264", "-preset",
                    "ultrafast", "-g", "15", "-pix_fmt", "yuv420p", str(path)],
                   check=True, timeout=60)
    return path


def _file_slices(path: Path) -> set[bytes]:
    out: set[bytes] = set()
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        bsf = av.bitstream.BitStreamFilterContext("h264_mp4toannexb", stream)
        for packet in container.demux(stream):
            for annexb in bsf.filter(packet):
                out.update(n for n in split_annexb(bytes(annexb)) if n[0] & 0x1F in (1, 5))
    return out


async def test_replay_file_serves_the_recording_with_ground_truth_per_frame(
        sim, world_file, recording: Path) -> None:
    proc = await sim("--world", str(world_file), "--count", "2", "--replay-file",
                     str(recording))
    url = proc.urls["cam-00002"]
    pulled = await asyncio.to_thread(_pull_packets, url, 40)
    slices = _file_slices(recording)
    seqs = []
    for nals in pulled:
        truth = find_ground_truth(nals)
        assert truth is not None and truth.cam == "cam-00002" and truth.subjects == ()
        seqs.append(truth.seq)
        # the picture is the file's, byte for byte: no re-encoding
        assert {n for n in nals if n[0] & 0x1F in (1, 5)} <= slices
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))  # one SEI per frame, in order
    assert len(pulled) >= 40  # 40 frames at 15 fps: the 45-frame file looped at least once
    frames = await asyncio.to_thread(pyav_pull, url, "tcp", 5)
    assert (frames[0].width, frames[0].height) == (320, 240) and frames[0].keyframe


def _pull_packets(url: str, count: int) -> list[list[bytes]]:
    out = []
    with av.open(url, options={"rtsp_transport": "tcp"}, timeout=10) as container:
        for packet in container.demux(container.streams.video[0]):
            if packet.size:
                out.append(split_annexb(bytes(packet)))
            if len(out) >= count:
                break
    return out


def test_replay_file_bad_input_is_one_line(capsys, world_file, tmp_path: Path,
                                          recording: Path) -> None:
    code, err = _run(capsys, "--world", str(world_file), "--replay-file", str(tmp_path / "x"))
    assert code == 2 and "--replay-file" in err and "no such file" in err
    mpeg4 = tmp_path / "old.mp4"
    subprocess.run(["ffmpeg", "-nostdin", "-loglevel", "error", "-f", "lavfi", "-i",
                    "testsrc2=size=160x120:rate=10", "-t", "1", "-c:v", "mpeg4", str(mpeg4)],
                   check=True, timeout=60)
    code, err = _run(capsys, "--world", str(world_file), "--replay-file", str(mpeg4))
    assert code == 2 and "the video is mpeg4, expected H.264" in err
    code, err = _run(capsys, "--world", str(world_file), "--replay-file", str(recording),
                     "--preset", "720p15")
    assert code == 2 and "the recording sets the size and frame rate" in err
    code, err = _run(capsys, "--world", str(world_file), "--preset", "4k60")
    assert code == 2 and "invalid choice: '4k60'" in err
