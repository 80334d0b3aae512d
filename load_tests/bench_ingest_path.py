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
  and RESP packing), as ``FrameWriter._write_batch`` does before its single socket write.

The stream is real H.264 from libx264 (640x360, 10 fps, 1 s GOP) with the ground-truth SEI of 3
subjects, packetized by rtcc's packetizer (1,200-byte payloads). The consent lookup answers
"live" from a dict (the registry's cache does the same). Figures are medians over ``--runs``.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

import redis.asyncio as aredis

from load_tests.bench_media import make_stream
from rtcc.channels import ChannelWriter
from rtcc.ingest.compiled import describe
from rtcc.ingest.gate import ConsentGate
from rtcc.ingest.metrics import HubMetrics
from rtcc.ingest.resp import pack
from rtcc.ingest.rtsp_client import _Stream, _TcpProtocol
from rtcc.ingest.sink import FrameSink
from rtcc.ingest.writer import FrameWriter
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


def chunks_for(cam_index: int, seconds: float) -> list[bytes]:
    """One camera's TCP chunks: each frame's interleaved RTP packets, an SR every 5 s."""
    aus = make_stream(FRAMES)
    pk = H264Packetizer(0x1000 + cam_index, mtu=1212, stap_a=True)
    out = []
    for i in range(round(seconds * FPS)):
        au = aus[i % FRAMES]
        ts = i * 9000
        chunk = b"".join(frame_interleaved(0, p) for p in pk.packetize(au.nals, ts))
        if i % (5 * FPS) == 0:
            chunk += frame_interleaved(1, build_sender_report(
                0x1000 + cam_index, 1e9 + i / FPS, ts, i, i * 7000, cname="cam"))
        out.append(chunk)
    return out


def run(cameras: int, streams: list[list[bytes]], stage: str) -> tuple[float, int]:
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
    per_batch = max(1, round(0.02 * FPS * cameras))  # frames in 20 ms of all cameras
    frames = 0
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
                pack(cmds)
        if stage != "+ batch":
            writer._take_frames()  # keep the queues short, as the writer task would
    elapsed = time.process_time() - start
    return elapsed, frames


def _raise(err: BaseException) -> None:
    raise err


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cameras", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    templates = [chunks_for(k, args.seconds) for k in range(4)]
    stages = ["framing+rtp", "+ sink", "+ batch"]
    times: dict[str, list[float]] = {s: [] for s in stages}
    for r in range(args.runs):
        for stage in stages[r % 3:] + stages[: r % 3]:
            elapsed, frames = run(args.cameras, templates, stage)
            times[stage].append(elapsed / frames * 1e6)
    size = statistics.mean(len(c) for c in templates[0])
    print(f"{args.cameras} cameras, {args.seconds:g} s each, {size / 1000:.1f} kB per frame "
          f"on the wire; medians of {args.runs} runs (CPU µs per access unit); compiled "
          f"twins: {describe()}")
    prev = 0.0
    for stage in stages:
        med = statistics.median(times[stage])
        print(f"  {stage:12s} {med:6.2f} µs  (stage {med - prev:+.2f}; spread "
              f"{min(times[stage]):.2f}-{max(times[stage]):.2f})")
        prev = med


if __name__ == "__main__":
    main()
