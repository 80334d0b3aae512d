"""Ingest from a reference RTSP server nobody here wrote: GStreamer's gst-rtsp-server
(tests/peers/gst_rtsp_server.py, run with the system Python that has python3-gi).

Its stream has no ground-truth SEI, so capture times come from its RTCP sender reports. Both hub
clients share the server's live /cam mount, the second joining while the first plays: the case
where the hub's PLAY used to make the server seek the shared pipeline (see the peer's docstring).
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
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


@dataclass
class GstServer:
    url: str
    proc: subprocess.Popen[str]
    output: list[str] = field(default_factory=list)
    """Every line the server printed (its reports and GStreamer's warnings), read all along so
    that a full pipe never blocks it."""

    def died(self) -> str:
        return (f"gst-rtsp-server died ({self.proc.returncode}): "
                + "".join(self.output[-5:]).strip())


@pytest.fixture(scope="module")
def gst_server() -> Iterator[GstServer]:
    port = _free_port()
    proc = subprocess.Popen([SYSTEM_PYTHON, str(PEER), str(port)], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    server = GstServer(f"rtsp://127.0.0.1:{port}/cam", proc)
    reader = threading.Thread(target=lambda: server.output.extend(proc.stdout or ()),
                              name="gst-rtsp-server output", daemon=True)
    try:
        line = proc.stdout.readline()
        assert "gst-rtsp-server on" in line, line
        reader.start()
        yield server
    finally:
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(5)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if reader.is_alive():
            reader.join(5)
        proc.stdout.close()


@pytest.mark.slow
async def test_ingest_from_gstreamer_over_tcp_and_udp(
    gst_server: GstServer, redis: aredis.Redis, registry: Registry, make_hub: HubFactory,
) -> None:
    url, proc = gst_server.url, gst_server.proc
    await register(registry, ["gst-tcp", "gst-udp"])
    hub = await make_hub()
    hub.add_source(Source("gst-tcp", url=url, transport="tcp"))
    tcp = hub.workers["gst-tcp"]
    # Generous: on a fresh machine GStreamer's first pipeline (x264enc) takes seconds to preroll
    # and the hub's first attempt may time out and back off before the server answers.
    await wait_for(lambda: tcp.status.state == "live", timeout=45, what="TCP client playing")
    hub.add_source(Source("gst-udp", url=url, transport="udp"))
    udp = hub.workers["gst-udp"]
    for worker in (tcp, udp):
        try:
            await wait_for(lambda w=worker: w.sink._sr is not None or proc.poll() is not None,  # type: ignore[misc]
                           timeout=20, what=f"{worker.cam}: an RTCP sender report")
        except AssertionError as err:  # say whether RTP flowed at all
            raise AssertionError(f"{err}; worker {worker.status}, {worker.sink.received} "
                                 f"access units received") from None
        assert proc.poll() is None, gst_server.died()
        after_report = worker.sink.delivered
        await wait_for(lambda w=worker, n=after_report: w.sink.delivered >= n + 25,  # type: ignore[misc]
                       timeout=10,
                       what=f"{worker.cam}: frames after the sender report")
    await hub.writer.flush()
    for cam in ("gst-tcp", "gst-udp"):
        rows: Any = await redis.xrevrange(keys.video(cam), count=20)
        seqs = [int(f[b"seq"]) for _id, f in rows]
        assert seqs == list(range(seqs[0], seqs[0] - 20, -1))  # the hub's own counter
        assert all(fields[b"meta"] == b"" for _id, fields in rows)  # no ground truth here
        # Capture times come from the RTP timestamps through the RTCP sender report: frame to
        # frame they step by whole periods of the 30 fps source, whatever the arrival jitter
        # (within 1 ms: a new report re-anchors the mapping by the sender's rounding and clock
        # slew). They are on the same wall clock as the arrival times and earlier; how much
        # earlier is the peer's encoding and both sides' scheduling, which a loaded machine
        # stretches (1.5 s seen), so that bound is only a sanity check.
        times = [int(fields[b"t"]) for _id, fields in rows]
        for newer, older in zip(times, times[1:], strict=False):
            periods = round((newer - older) * 30 / 1e6)
            assert periods >= 1 and abs((newer - older) - periods * 1e6 / 30) < 1000, times
        for _id, fields in rows:
            t, ta = int(fields[b"t"]), int(fields[b"ta"])
            assert t != ta and -50_000 < ta - t < 10_000_000
        gop = await channels.read_gop(redis, cam)
        assert gop and gop[0].frame.key
        kinds = [nal_type(n) for n in split_annexb(gop[0].frame.au)]
        assert NAL_SPS in kinds and NAL_PPS in kinds and NAL_IDR in kinds
        pictures = decode_annexb(b"".join(e.frame.au for e in gop))
        assert len(pictures) == len(gop) and pictures[0].shape == (480, 640, 3)
    # The hub asked the live mount for "now" (its SDP says npt=now-): the server never seeks,
    # so the second client's PLAY does not flush the stream under the first.
    assert not [line for line in gst_server.output if line.startswith("flushed")], \
        "a PLAY made gst-rtsp-server seek its shared live pipeline"
    # Frames a decoder could not use are the only ones held back, at most a GOP (30 frames) each
    # time: before a client's first keyframe (the UDP client joins the running mount mid-GOP;
    # the TCP client too if its first attempt timed out), and after a gap up to the next
    # keyframe (gst-rtsp-server drops a TCP client's backlog when a loaded machine stalls it).
    dropped = hub.metrics.dropped_total()
    usable = hub.metrics.dropped_total(reason="awaiting_keyframe") + \
        hub.metrics.dropped_total(reason="incomplete")
    assert dropped == usable and dropped <= 90
