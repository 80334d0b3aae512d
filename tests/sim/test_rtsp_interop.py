"""Real third-party clients pull the simulated cameras: FFmpeg (ffprobe, ffmpeg), PyAV and
GStreamer's rtspsrc, over TCP and UDP, with and without digest authentication.

Each check decodes what it got, finds the ground-truth SEI in every access unit, and compares it
with the picture: PatternCamera draws the frame number as a bar code, so "the SEI came back
intact and belongs to this frame" is one equality. Pulls are short (1.5-3 s) and run side by side.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from rtcc.media.encoder import decode_annexb
from rtcc.media.h264 import split_annexb
from rtcc.media.sei import GroundTruth, parse_sei_nal
from simulators.auth import Credentials
from tests.sim.conftest import SMALL, Pulled, pyav_pull, read_barcode, run_tool

FRAMES = 15
GST_PULL = Path(__file__).resolve().parents[1] / "peers" / "gst_rtsp_pull.py"
SYSTEM_PYTHON = "/usr/bin/python3"
"""GStreamer's Python bindings (python3-gi) belong to the system's Python, not the venv's."""


def _truths(data: bytes) -> list[GroundTruth]:
    out = []
    for nal in split_annexb(data):
        if nal[0] & 0x1F == 6:
            truth = parse_sei_nal(nal)
            if truth is not None:
                out.append(truth)
    return out


def _check_stream(data: bytes, camera: str, frames: int) -> None:
    """An Annex-B capture: every frame decodes and carries its own, consecutive ground truth."""
    truths = _truths(data)
    assert len(truths) >= frames
    assert all(t.cam == camera for t in truths)
    seqs = [t.seq for t in truths]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
    times = [t.t for t in truths]
    assert all(b > a for a, b in zip(times, times[1:], strict=False))
    pictures = decode_annexb(data, format="gray")
    assert len(pictures) == len(truths)
    assert [read_barcode(p) for p in pictures] == seqs
    assert pictures[0].shape == (SMALL[1], SMALL[0])


def _check_pulled(frames: list[Pulled], camera: str) -> None:
    assert len(frames) >= FRAMES
    assert all(f.truth is not None and f.truth.cam == camera for f in frames)
    seqs = [f.truth.seq for f in frames if f.truth]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
    assert [f.barcode for f in frames] == seqs
    assert frames[0].keyframe
    times = [f.truth.t for f in frames if f.truth]
    assert all(b > a for a, b in zip(times, times[1:], strict=False))
    pts = [f.pts for f in frames if f.pts is not None]
    assert len(pts) >= len(frames) - 1 and all(b > a for a, b in zip(pts, pts[1:], strict=False))
    assert (frames[0].width, frames[0].height) == SMALL


async def _ffmpeg_capture(url: str, transport: str, out: Path) -> None:
    code, _, err = await run_tool("ffmpeg", "-v", "error", "-rtsp_transport", transport,
                                  "-i", url, "-frames:v", str(FRAMES), "-c", "copy", "-f", "h264",
                                  "-y", str(out))
    assert code == 0, err


async def _gst_capture(url: str, transport: str, out: Path, *login: str) -> None:
    """rtspsrc captures FRAMES + 1 access units, then PAUSEs and TEARDOWNs, each answered (why
    not gst-launch-1.0: see the peer's docstring)."""
    code, stdout, err = await run_tool(SYSTEM_PYTHON, str(GST_PULL), url, transport, str(out),
                                       str(FRAMES), *login)
    assert code == 0, stdout + err


async def test_ffprobe_and_ffmpeg_over_tcp_and_udp(make_fleet, tmp_path: Path) -> None:
    fleet = await make_fleet(2)
    urls = {cam: fleet.rtsp_url(cam) for cam in ("cam-0", "cam-1")}

    async def probe(transport: str) -> dict:
        code, out, err = await run_tool(
            "ffprobe", "-v", "error", "-rtsp_transport", transport, "-show_entries",
            "stream=codec_name,profile,width,height", "-of", "json", urls["cam-0"])
        assert code == 0, err
        return json.loads(out)["streams"][0]

    tcp, udp, *_ = await asyncio.gather(
        probe("tcp"), probe("udp"),
        _ffmpeg_capture(urls["cam-0"], "tcp", tmp_path / "tcp.h264"),
        _ffmpeg_capture(urls["cam-1"], "udp", tmp_path / "udp.h264"))
    for stream in (tcp, udp):
        assert stream == {"codec_name": "h264", "profile": "Constrained Baseline",
                          "width": SMALL[0], "height": SMALL[1]}
    _check_stream((tmp_path / "tcp.h264").read_bytes(), "cam-0", FRAMES)
    _check_stream((tmp_path / "udp.h264").read_bytes(), "cam-1", FRAMES)


async def test_pyav_over_tcp_and_udp(make_fleet) -> None:
    fleet = await make_fleet(2)
    tcp, udp = await asyncio.gather(
        asyncio.to_thread(pyav_pull, fleet.rtsp_url("cam-0"), "tcp", FRAMES),
        asyncio.to_thread(pyav_pull, fleet.rtsp_url("cam-1"), "udp", FRAMES))
    _check_pulled(tcp, "cam-0")
    _check_pulled(udp, "cam-1")


async def test_gstreamer_rtspsrc_over_tcp_and_udp(make_fleet, tmp_path: Path) -> None:
    fleet = await make_fleet(2)
    await asyncio.gather(
        _gst_capture(fleet.rtsp_url("cam-0"), "tcp", tmp_path / "tcp.h264"),
        _gst_capture(fleet.rtsp_url("cam-1"), "udp", tmp_path / "udp.h264"))
    _check_stream((tmp_path / "tcp.h264").read_bytes(), "cam-0", FRAMES)
    _check_stream((tmp_path / "udp.h264").read_bytes(), "cam-1", FRAMES)


async def test_digest_auth_with_ffmpeg_gstreamer_and_pyav(make_fleet, tmp_path: Path) -> None:
    creds = Credentials("viewer", "pa55-word")
    fleet = await make_fleet(1, credentials={"cam-0": creds})
    port = fleet.server.port
    good = f"rtsp://viewer:pa55-word@127.0.0.1:{port}/cams/cam-0"
    bad = f"rtsp://viewer:nope@127.0.0.1:{port}/cams/cam-0"
    plain = fleet.rtsp_url("cam-0")

    async def refused_ffprobe() -> str:
        code, _, err = await run_tool("ffprobe", "-v", "error", "-rtsp_transport", "tcp", bad)
        assert code != 0
        return err

    async def refused_gst() -> str:
        code, out, err = await run_tool(
            "gst-launch-1.0", "rtspsrc", f"location={plain}", "user-id=viewer",
            "user-pw=nope", "protocols=tcp", "!", "fakesink", within=20)
        assert code != 0
        return out + err

    # Every peer runs to its end even when one fails, so none leaves its pipes to the next test.
    results = await asyncio.gather(
        _ffmpeg_capture(good, "udp", tmp_path / "ffmpeg.h264"),
        _gst_capture(plain, "tcp", tmp_path / "gst.h264", "viewer", "pa55-word"),
        asyncio.to_thread(pyav_pull, good, "tcp", FRAMES),
        refused_ffprobe(), refused_gst(), return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    *_, pulled, ff_err, gst_err = results
    assert isinstance(pulled, list) and isinstance(ff_err, str) and isinstance(gst_err, str)
    _check_stream((tmp_path / "ffmpeg.h264").read_bytes(), "cam-0", FRAMES)
    _check_stream((tmp_path / "gst.h264").read_bytes(), "cam-0", FRAMES)
    _check_pulled(pulled, "cam-0")
    assert "401" in ff_err
    assert "Unauthorized" in gst_err or "401" in gst_err
    requests = fleet.server.requests
    assert requests[("DESCRIBE", 401)] >= 4
    # GStreamer paused while the camera was sending (a PAUSE outside PLAYING would be 455), and
    # every session that played ended with its own TEARDOWN. A peer's last request may still be
    # on its way to the server when the peer has exited.
    assert requests[("PAUSE", 200)] == 1
    for _ in range(250):  # 5 s
        if requests[("TEARDOWN", 200)] >= requests[("PLAY", 200)]:
            break
        await asyncio.sleep(0.02)
    assert requests[("PLAY", 200)] == requests[("TEARDOWN", 200)] == 3
    assert {status for _method, status in requests} == {200, 401}
