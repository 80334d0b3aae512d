"""The hub's per-frame Python path in one process, stage by stage (CPU time per access unit):

    python -m load_tests.bench_ingest_path [--cameras 200] [--seconds 2] [--runs 7]
    RTCC_NO_EXTENSIONS=1 python -m load_tests.bench_ingest_path     # the pure-Python reference

What ``load_tests.bench_hub`` measures end to end (with sockets, the event loop and Redis) is
split here into the parts rtcc's own Python code spends, so a change to one of them can be
measured without the noise of a whole stack:

* ``framing+rtp``: RTSP/TCP chunks (one per access unit, as the simulators write them: the
  RTP packets of one frame, RFC 6184 FU-A/STAP-A, with an RTCP sender report every 5 s) through
  the RTSP client's protocol (``_TcpProtocol.data_received``: interleaved framing, RTP header,
  loss tracking, access-unit assembly), with the access units thrown away;
* ``+ sink``: the same, on to the real :class:`FrameSink` (parameter sets, ground-truth SEI,
  the consent gate, the writer's bounded queues);
* ``+ batch``: and the writer's batch encoding every 20 ms of stream (``ChannelWriter.add_frame``
  and RESP packing, ``pack_parts``), as ``FrameWriter._write_batch`` does before its one
  gathered socket write.

The stream is real H.264 from libx264 (640x360, 10 fps, 1 s GOP) with the ground-truth SEI of 3
subjects, packetized by rtcc's packetizer (1,200-byte payloads); with ``--preset`` it is a
recorded GOP of a world camera at that preset (as ``rtcc sim --replay`` serves it, 1,388-byte
payloads). The consent lookup answers "live" from a dict (the registry's cache does the same).
Figures are medians over ``--runs``.

**Bytes copied per byte delivered**: the compiled twins count the bytes they copy out of the
reads (access-unit assembly: slices, FU-A fragments, a packet joined across two reads) and into
the Annex-B access unit; the batch encoding's join (of the small parts: access units of 2 kB and
more are written by reference) is counted here. The event loop's own copy of
each read (uvloop's ``data_received`` bytes) and the kernel's are not in these counts: one each
per byte, by construction.
"""

from __future__ import annotations

import argparse
import importlib
import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aredis

from load_tests.bench_media import make_stream
from load_tests.provenance import header, record
from rtcc.channels import ChannelWriter
from rtcc.ingest.compiled import describe
from rtcc.ingest.gate import ConsentGate
from rtcc.ingest.metrics import HubMetrics
from rtcc.ingest.resp import pack_parts
from rtcc.ingest.rtsp_client import _Stream, _TcpProtocol
from rtcc.ingest.sink import FrameSink
from rtcc.ingest.writer import FrameWriter
from rtcc.media.h264 import AccessUnit
from rtcc.media.interleaved import frame_interleaved
from rtcc.media.rtcp import build_sender_report
from rtcc.media.rtp import H264Packetizer
from rtcc.metrics import new_registry

FPS = 10
FRAMES = 30  # distinct access units (3 GOPs), looped


class _AllLive:
    def is_live(self, camera_id: str, now: float | None = None) -> bool:
        return True

    def subscribe(self, callback: Callable[[str, Any], Any]) -> Any:
        return lambda: None


class _Client:
    """What ``_TcpProtocol`` reads off an RtspClient once it plays."""

    rtp_channel = 0
    rtcp_channel = 1

    def __init__(self, stream: _Stream) -> None:
        self.stream = stream

    def on_message(self, payload: bytes) -> None:
        raise AssertionError("no RTSP message expected")

    def fail(self, err: BaseException) -> None:
        raise err


class _NullSink:
    """Takes the access units and throws them away (the ``framing+rtp`` stage)."""

    def on_access_unit(self, *args: object, **kwargs: object) -> bool:
        return True

    def on_sender_report(self, ntp_unix: float, rtp_timestamp: int) -> None:
        pass


def preset_stream(name: str) -> tuple[list[AccessUnit], float]:
    """A recorded GOP of a world camera at ``name`` with each frame's ground-truth SEI."""
    from datetime import datetime

    from rtcc.world.synth import synthesize
    from simulators.camera import SimCamera
    from simulators.clock import SimClock
    from simulators.presets import preset
    from simulators.replay import ReplayCamera, record_template
    from simulators.scene import Scene

    p = preset(name)
    world = synthesize(12, 1, stream_width=p.width, camera_rate=1.0)
    clock = SimClock(1.0, datetime(2026, 6, 1, 12, 0, 0), wall_origin=1.78e9)
    camera = sorted(world.cameras.values(), key=lambda c: c.id)[0]
    cam = SimCamera(world, camera, Scene(world, seed=1), width=p.width, height=p.height,
                    fps=p.fps, gop_seconds=p.gop_seconds, clock=clock, bitrate=p.bitrate,
                    maxrate=p.maxrate, bufsize=p.bufsize, ipratio=p.ipratio, grain=p.grain)
    try:
        template = record_template(cam, camera.id, fps=p.fps, width=p.width, height=p.height,
                                   seconds=max(2.0, p.gop_seconds), start_us=int(1.78e15),
                                   warmup_seconds=p.gop_seconds if p.bitrate else 0.0)
    finally:
        cam.close()
    replay = ReplayCamera("cam-0001", template)
    aus = [AccessUnit(f.nals, 0) for f in (replay.next_frame(int(1.78e15 + i * 1e6 / p.fps))
                                          for i in range(len(template.frames)))]
    return aus, p.fps


def chunks_for(cam_index: int, seconds: float, aus: list[AccessUnit], fps: float,
               mtu: int = 1212) -> list[bytes]:
    """One camera's TCP chunks: each frame's interleaved RTP packets, an SR every 5 s."""
    pk = H264Packetizer(0x1000 + cam_index, mtu=mtu, stap_a=True)
    out = []
    step = round(90_000 / fps)
    every = max(1, round(5 * fps))
    for i in range(round(seconds * fps)):
        au = aus[i % len(aus)]
        ts = i * step
        chunk = b"".join(frame_interleaved(0, p) for p in pk.packetize(au.nals, ts))
        if i % every == 0:
            chunk += frame_interleaved(1, build_sender_report(
                0x1000 + cam_index, 1e9 + i / fps, ts, i, i * 7000, cname="cam"))
        out.append(chunk)
    return out


@dataclass
class Copies:
    delivered: int = 0
    """Bytes of the access units the sink handed to the writer."""
    assembly: int = 0
    """Bytes the compiled reader and depacketizer copied out of the reads."""
    annexb: int = 0
    """Bytes the compiled sink copied into Annex-B access units."""
    batch: int = 0
    """Bytes joined into the RESP batches (large access units go by reference)."""


def _counters() -> tuple[int, int]:
    try:
        sink_c = importlib.import_module("rtcc.ingest._sink_c")
        rtp_c = importlib.import_module("rtcc.media._rtp_c")
    except ImportError:
        return 0, 0
    return int(rtp_c.bytes_copied()), int(sink_c.bytes_copied())


def run(cameras: int, streams: list[list[bytes]], stage: str, fps: float = FPS,
        copies: Copies | None = None) -> tuple[float, int]:
    """CPU seconds to push every camera's chunks through ``stage``; frames handled."""
    metrics = HubMetrics(new_registry())
    # Never connected: batches are only encoded here.
    redis = aredis.Redis(unix_socket_path="/nonexistent")
    writer = FrameWriter(redis, ChannelWriter(10.0), metrics)
    writer.config = writer.config.__class__(max_camera_frames=10_000, max_bytes=1 << 40)
    gate = ConsentGate(_AllLive(), metrics)
    protocols = []
    for c in range(cameras):
        cam = f"cam-{c:05d}"
        gate.track(cam)
        sink = _NullSink() if stage == "framing+rtp" else FrameSink(cam, gate, writer, metrics)
        protocols.append(_TcpProtocol(_Client(_Stream(sink, _raise))))  # type: ignore[arg-type]
    per_batch = max(1, round(0.02 * fps * cameras))  # frames in 20 ms of all cameras
    frames = 0
    delivered = batched = 0
    rtp0, sink0 = _counters()
    start = time.process_time()
    for i in range(len(streams[0])):
        for c, proto in enumerate(protocols):
            proto.data_received(streams[c % len(streams)][i])
            frames += 1
            if stage == "+ batch" and frames % per_batch == 0:
                batch = writer._take_frames()
                cmds: list[Any] = []
                now_ms = int(time.time() * 1000)
                for frame in batch:
                    writer.channels.add_frame(cmds, frame, now_ms)
                    delivered += len(frame.au)
                # What the writer sends: the small parts joined, large payloads by reference.
                batched += sum(len(p) for p in pack_parts(cmds) if type(p) is bytes)
        if stage != "+ batch":
            writer._take_frames()  # keep the queues short, as the writer task would
    elapsed = time.process_time() - start
    if copies is not None and stage == "+ batch":
        rtp1, sink1 = _counters()
        copies.delivered += delivered
        copies.assembly += rtp1 - rtp0
        copies.annexb += sink1 - sink0
        copies.batch += batched
    return elapsed, frames


def _raise(err: BaseException) -> None:
    raise err


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cameras", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--preset", default=None,
                        help="a camera preset's stream instead of the busy 640x360 one")
    args = parser.parse_args()
    if args.preset:
        aus, fps = preset_stream(args.preset)
        mtu = 1400
    else:
        aus, fps, mtu = make_stream(FRAMES), float(FPS), 1212
    templates = [chunks_for(k, args.seconds, aus, fps, mtu) for k in range(4)]
    stages = ["framing+rtp", "+ sink", "+ batch"]
    times: dict[str, list[float]] = {s: [] for s in stages}
    copies = Copies()
    for r in range(args.runs):
        for stage in stages[r % 3:] + stages[: r % 3]:
            elapsed, frames = run(args.cameras, templates, stage, fps, copies)
            times[stage].append(elapsed / frames * 1e6)
    print(header(record(args.preset, {"before": list(os.getloadavg())})))
    size = statistics.mean(len(c) for c in templates[0])
    print(f"{args.cameras} cameras, {args.seconds:g} s each, {size / 1000:.1f} kB per frame "
          f"on the wire ({args.preset or '640x360 busy'}); medians of {args.runs} runs (CPU "
          f"µs per access unit); compiled twins: {describe()}")
    prev = 0.0
    for stage in stages:
        med = statistics.median(times[stage])
        print(f"  {stage:12s} {med:6.2f} µs  (stage {med - prev:+.2f}; spread "
              f"{min(times[stage]):.2f}-{max(times[stage]):.2f})")
        prev = med
    if copies.delivered:
        d = copies.delivered
        total = copies.assembly + copies.annexb + copies.batch
        print(f"  bytes copied per byte delivered (our code): {total / d:.2f} = assembly "
              f"{copies.assembly / d:.2f} + Annex-B "
              f"{copies.annexb / d:.2f} + batch join {copies.batch / d:.2f}; plus the event "
              "loop's read (1) and the kernel's (1 in, 1 out)")


if __name__ == "__main__":
    main()
