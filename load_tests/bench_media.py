"""Benchmark of rtcc.media: RTP packetize/depacketize, the ground-truth SEI, and the encoder.

    python -m load_tests.bench_media [--runs 7] [--loops 20]

Everything runs in this one process on one core; figures are medians of CPU time over ``--runs``
repeats, contenders interleaved.
The baseline for RTP is aiortc's own H.264 path (``H264Encoder._packetize`` + ``RtpPacket``
to send, ``RtpPacket.parse`` + ``H264PayloadDescriptor.parse`` to receive), fed the same access
units.  Results go to docs/benchmarks.md, section "Media codecs".
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import av
import numpy as np
from aiortc.codecs.h264 import PACKET_MAX, H264PayloadDescriptor
from aiortc.codecs.h264 import H264Encoder as AiortcH264Encoder
from aiortc.rtp import RtpPacket

from rtcc.media.encoder import H264Encoder
from rtcc.media.h264 import AccessUnit, split_annexb
from rtcc.media.rtp import H264Depacketizer, H264Packetizer, build_rtp, parse_rtp
from rtcc.media.sei import (
    GroundTruth,
    Subject,
    build_sei_nal,
    find_ground_truth,
    find_ground_truth_json,
    insert_sei,
)
from rtcc.vocabulary import PERSON_ROLES

WIDTH, HEIGHT, FPS = 640, 360, 10
# aiortc packs at most PACKET_MAX payload bytes; give ours the same packet size.
MTU = PACKET_MAX + 12


def busy_frame(i: int) -> np.ndarray:
    """Detail in every macroblock and motion in every frame: a hard case for the encoder."""
    yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH]
    img = np.empty((HEIGHT, WIDTH, 3), np.uint8)
    img[..., 0] = (xx * 3 + i * 7) % 256
    img[..., 1] = (((xx // 8) ^ (yy // 8)) * 37 + i * 5) % 256
    img[..., 2] = ((xx * yy) // (7 + i % 5)) % 256
    return img


def street_frame(i: int) -> np.ndarray:
    """Closer to a rendered doorbell view: flat ground and sky, a few moving blocks."""
    img = np.empty((HEIGHT, WIDTH, 3), np.uint8)
    img[: HEIGHT // 3] = (150, 190, 230)
    img[HEIGHT // 3 :] = (90, 95, 90)
    for k in range(4):
        x = (40 + 150 * k + 6 * i) % (WIDTH - 40)
        img[150 + 20 * k : 260 + 20 * k, x : x + 30] = (200 - 40 * k, 60 + 30 * k, 80)
    return img


def subjects(n: int) -> tuple[Subject, ...]:
    return tuple(
        Subject(f"p-{k:04d}", f"hh-{k:04d}" if k % 4 else None,
                PERSON_ROLES[k % 5],
                3.7 + k, ("identify", "recognise", "observe", "detect", "monitor")[k % 5],
                (12 * k, 40 + k, 24, 60), k % 3 == 0)
        for k in range(n)
    )


def median_time(fn: Callable[[], object], runs: int) -> float:
    """Median CPU seconds of this process over ``runs`` calls (CPU time, not wall time: the
    figure is the cost, and other processes on a shared machine do not inflate it)."""
    return median_times({"fn": fn}, runs)["fn"]


def median_times(fns: dict[str, Callable[[], object]], runs: int) -> dict[str, float]:
    """Like :func:`median_time` for several contenders, interleaved round by round (in rotating
    order) so that a change in machine load hits them alike and their ratio stays fair."""
    times: dict[str, list[float]] = {name: [] for name in fns}
    names = list(fns)
    for r in range(runs):
        for name in names[r % len(names):] + names[: r % len(names)]:
            start = time.process_time()
            fns[name]()
            times[name].append(time.process_time() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def make_stream(frames: int) -> list[AccessUnit]:
    enc = H264Encoder(WIDTH, HEIGHT, FPS)
    aus = []
    for i in range(frames):
        au = enc.encode(busy_frame(i))
        assert au is not None
        gt = GroundTruth("cam-0001", i, 1_700_000_000_000_000 + 100_000 * i, subjects(3))
        aus.append(AccessUnit(insert_sei(au.nals, build_sei_nal(gt)), au.pts))
    return aus


def bench_rtp(aus: list[AccessUnit], runs: int, loops: int) -> None:
    total_bytes = sum(au.size for au in aus) * loops
    count = len(aus) * loops
    # The receivers get one continuous stream of `loops` passes (sequence numbers run on).
    pk = H264Packetizer(1, mtu=MTU, stap_a=True)
    packets = [pk.packetize(au.nals, au.pts + 450_000 * k) for k in range(loops) for au in aus]
    n_packets = sum(len(p) for p in packets)

    def ours_send() -> None:
        p = H264Packetizer(1, mtu=MTU, stap_a=True)
        for _ in range(loops):
            for au in aus:
                p.packetize(au.nals, au.pts)

    def ours_receive() -> None:
        d = H264Depacketizer()
        for group in packets:
            for packet in group:
                d.feed(packet)
        assert d.lost == d.discarded == d.duplicates == 0

    def aiortc_send() -> None:
        seq = 0
        for _ in range(loops):
            for au in aus:
                payloads = AiortcH264Encoder._packetize(au.nals)
                last = len(payloads) - 1
                for i, payload in enumerate(payloads):
                    RtpPacket(payload_type=96, marker=int(i == last), sequence_number=seq,
                              timestamp=au.pts, ssrc=1, payload=payload).serialize()
                    seq = (seq + 1) & 0xFFFF

    def aiortc_receive() -> None:
        # What aiortc's receiver does per packet (its jitter buffer left out): parse the RTP
        # header, turn the payload into Annex-B, join the pieces at the marker.
        for group in packets:
            parts = []
            for packet in group:
                rtp = RtpPacket.parse(packet)
                parts.append(H264PayloadDescriptor.parse(rtp.payload)[1])
                if rtp.marker:
                    b"".join(parts)
                    parts = []

    medians = median_times({"rtcc packetize": ours_send, "aiortc packetize": aiortc_send,
                            "rtcc depacketize": ours_receive,
                            "aiortc depacketize": aiortc_receive}, runs)
    rows = list(medians.items())
    print(f"\nRTP, 640x360 10 fps stream with 3-subject SEI: {len(aus)} access units "
          f"x {loops} loops, {total_bytes / count / 1000:.1f} kB/AU, "
          f"{n_packets / count:.1f} packets/AU, medians of {runs} runs")
    print(f"{'path':<22}{'AU/s':>10}{'MB/s':>9}{'us/AU':>8}{'streams/core':>14}")
    for name, t in rows:
        print(f"{name:<22}{count / t:>10.0f}{total_bytes / t / 1e6:>9.0f}"
              f"{t / count * 1e6:>8.1f}{count / t / FPS:>14.0f}")
    by_name = dict(rows)
    send_ratio = by_name["rtcc packetize"] / by_name["aiortc packetize"]
    receive_ratio = by_name["rtcc depacketize"] / by_name["aiortc depacketize"]
    print(f"rtcc/aiortc time ratio: packetize {send_ratio:.2f}, depacketize {receive_ratio:.2f}")

    # Header-only: one 1,200-byte payload, many times.
    payload = b"\x41" * 1200
    raw = build_rtp(96, True, 1, 2, 3, payload)
    reps = 20_000
    header_rows: dict[str, Callable[[], object]] = {
        "struct build_rtp": lambda: [build_rtp(96, True, i, 2, 3, payload) for i in range(reps)],
        "aiortc RtpPacket.serialize": lambda: [
            RtpPacket(payload_type=96, marker=1, sequence_number=i, timestamp=2, ssrc=3,
                      payload=payload).serialize() for i in range(reps)],
        "struct parse_rtp": lambda: [parse_rtp(raw) for _ in range(reps)],
        "aiortc RtpPacket.parse": lambda: [RtpPacket.parse(raw) for _ in range(reps)],
    }
    print(f"\nRTP header alone (ns/packet, median of {runs} runs of {reps})")
    for name, seconds in median_times(header_rows, runs).items():
        print(f"{name:<30}{seconds / reps * 1e9:>8.0f}")


def _repeat(reps: int, fn: Callable[[Any], object], arg: Any) -> None:
    for _ in range(reps):
        fn(arg)


def bench_sei(aus: list[AccessUnit], runs: int) -> None:
    reps = 5_000

    def without_sei(au: AccessUnit) -> list[bytes]:
        return [n for n in au.nals if n[0] & 0x1F != 6]

    deltas = sorted((au for au in aus if not au.keyframe),
                    key=lambda au: sum(len(n) for n in without_sei(au)))
    frame_nals = without_sei(deltas[len(deltas) // 2])  # the median P-frame
    p_frame = sum(len(n) + 4 for n in frame_nals)
    print(f"\nGround-truth SEI (us per frame, median of {runs} runs of {reps}); "
          f"overhead against the median P-frame of this stream ({p_frame / 1000:.1f} kB)")
    print(f"{'subjects':>8}{'NAL bytes':>11}{'build us':>10}{'parse us':>10}{'raw us':>8}"
          f"{'overhead':>10}")
    for n in (0, 3, 10):
        gt = GroundTruth("cam-0001", 123456, 1_700_000_000_123_456, subjects(n))
        nal = build_sei_nal(gt)
        nals = insert_sei(frame_nals, nal)
        build = median_time(partial(_repeat, reps, build_sei_nal, gt), runs)
        parse = median_time(partial(_repeat, reps, find_ground_truth, nals), runs)
        raw = median_time(partial(_repeat, reps, find_ground_truth_json, nals), runs)
        print(f"{n:>8}{len(nal):>11}{build / reps * 1e6:>10.1f}{parse / reps * 1e6:>10.1f}"
              f"{raw / reps * 1e6:>8.1f}{(len(nal) + 4) / p_frame:>10.1%}")


def bench_encoder(runs: int) -> None:
    frames = 40
    print(f"\nEncoder, libx264 ultrafast, 640x360 10 fps, 1 thread (ms/frame over {frames} "
          f"frames, median of {runs} runs)")
    print(f"{'scene':<8}{'input':<10}{'ms/frame':>9}{'frames/s':>10}{'key kB max':>11}"
          f"{'P kB med':>9}")
    for scene_name, scene in (("busy", busy_frame), ("street", street_frame)):
        rgb = [scene(i) for i in range(frames)]
        yuv = [av.VideoFrame.from_ndarray(f, format="rgb24").reformat(format="yuv420p")
               .to_ndarray() for f in rgb]
        for input_name, inputs in (("rgb24", rgb), ("yuv420p", yuv)):
            sizes: list[AccessUnit] = []

            def run(inputs: list[np.ndarray] = inputs, sizes: list[AccessUnit] = sizes) -> None:
                enc = H264Encoder(WIDTH, HEIGHT, FPS)
                sizes.clear()
                for f in inputs:
                    au = enc.encode(f)
                    assert au is not None
                    sizes.append(au)

            t = median_time(run, runs)
            keys = [au.size for au in sizes if au.keyframe]
            deltas = [au.size for au in sizes if not au.keyframe]
            print(f"{scene_name:<8}{input_name:<10}{t / frames * 1e3:>9.2f}{frames / t:>10.0f}"
                  f"{max(keys) / 1000:>11.1f}{statistics.median(deltas) / 1000:>9.1f}")


def bench_split(aus: list[AccessUnit], runs: int, loops: int) -> None:
    data = [au.annexb() for au in aus]
    total = sum(len(d) for d in data) * loops

    def run() -> None:
        for _ in range(loops):
            for d in data:
                split_annexb(d)

    t = median_time(run, runs)
    print(f"\nsplit_annexb: {total / t / 1e6:.0f} MB/s, "
          f"{t / (len(data) * loops) * 1e6:.1f} us per access unit")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="repeats per figure (median)")
    parser.add_argument("--loops", type=int, default=20, help="passes over the 50-frame stream")
    args = parser.parse_args()
    if args.runs < 1 or args.loops < 1:
        parser.error("--runs and --loops must be >= 1")
    aus = make_stream(50)
    bench_rtp(aus, args.runs, args.loops)
    bench_split(aus, args.runs, args.loops)
    bench_sei(aus, args.runs)
    bench_encoder(args.runs)


if __name__ == "__main__":
    main()
