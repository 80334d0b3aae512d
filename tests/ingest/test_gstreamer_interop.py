"""Ingest from a reference RTSP server nobody here wrote: GStreamer's gst-rtsp-server
(tests/peers/gst_rtsp_server.py, run with the system Python that has python3-gi).

Its stream has no ground-truth SEI, so capture times come from its RTCP sender reports.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aredis

from rtcc import channels, keys
from rtcc.ingest.sources import Source
from rtcc.media.encoder import decode_annexb
from rtcc.media.h264 import NAL_IDR, NAL_PPS, NAL_SPS, nal_type, split_annexb
from rtcc.registry.store import Registry
from tests.ingest.conftest import HubFactory, register, wait_for

PEER = Path(__file__).resolve().parents[1] / "peers" / "gst_rtsp_server.py"
SYSTEM_PYTHON = "/usr/bin/python3"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def gst_server() -> Iterator[tuple[str, subprocess.Popen[str]]]:
    port = _free_port()
    proc = subprocess.Popen([SYSTEM_PYTHON, str(PEER), str(port)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert "gst-rtsp-server on" in line, line
        yield f"rtsp://127.0.0.1:{port}/cam", proc
    finally:
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(5)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


@pytest.mark.slow
async def test_ingest_from_gstreamer_over_tcp_and_udp(
    gst_server: tuple[str, subprocess.Popen[str]], redis: aredis.Redis, registry: Registry,
    make_hub: HubFactory,
) -> None:
    url, proc = gst_server
    await register(registry, ["gst-tcp", "gst-udp"])
    hub = await make_hub()
    hub.add_source(Source("gst-tcp", url=url, transport="tcp"))
    tcp = hub.workers["gst-tcp"]
    # Generous: on a fresh machine GStreamer's first pipeline (x264enc) takes seconds to preroll
    # and the hub's first attempt may time out and back off before the server answers.
    await wait_for(lambda: tcp.status.state == "live", timeout=45, what="TCP client playing")
    # Clients joining gst-rtsp-server's shared mount at the same instant have crashed it:
    # the second one starts after the first plays.
    await asyncio.sleep(0.2)
    hub.add_source(Source("gst-udp", url=url, transport="udp"))
    udp = hub.workers["gst-udp"]
    for worker in (tcp, udp):
        try:
            await wait_for(lambda w=worker: w.sink._sr is not None or proc.poll() is not None,  # type: ignore[misc]
                           timeout=20, what=f"{worker.cam}: an RTCP sender report")
        except AssertionError as err:  # say whether RTP flowed at all (a flaky case, once)
            raise AssertionError(f"{err}; worker {worker.status}, {worker.sink.received} "
                                 f"access units received") from None
        assert proc.poll() is None, "gst-rtsp-server died (its known shared-mount assertion)"
        after_report = worker.sink.delivered
        await wait_for(lambda w=worker, n=after_report: w.sink.delivered >= n + 25,  # type: ignore[misc]
                       timeout=10,
                       what=f"{worker.cam}: frames after the sender report")
    await hub.writer.flush()
    for cam in ("gst-tcp", "gst-udp"):
        rows: Any = await redis.xrevrange(keys.video(cam), count=20)
        seqs = [int(f[b"seq"]) for _id, f in rows]
        assert seqs == list(range(seqs[0], seqs[0] - 20, -1))  # the hub's own counter
        for _id, fields in rows:
            assert fields[b"meta"] == b""  # GStreamer sends no ground truth
            t, ta = int(fields[b"t"]), int(fields[b"ta"])
            # Capture time from the RTCP sender report: same wall clock, slightly earlier.
            assert t != ta and -50_000 < ta - t < 500_000
        gop = await channels.read_gop(redis, cam)
        assert gop and gop[0].frame.key
        kinds = [nal_type(n) for n in split_annexb(gop[0].frame.au)]
        assert NAL_SPS in kinds and NAL_PPS in kinds and NAL_IDR in kinds
        pictures = decode_annexb(b"".join(e.frame.au for e in gop))
        assert len(pictures) == len(gop) and pictures[0].shape == (480, 640, 3)
    # Joining a live mount mid-GOP, and gst-rtsp-server's hiccup on the TCP stream when the
    # second client joins the shared mount: frames a decoder could not use (before the first
    # keyframe, or after a discontinuity up to the next keyframe) are the only ones held back,
    # at most a GOP (30 frames) each time.
    dropped = hub.metrics.dropped_total()
    usable = hub.metrics.dropped_total(reason="awaiting_keyframe") + \
        hub.metrics.dropped_total(reason="incomplete")
    assert dropped == usable and dropped <= 90
