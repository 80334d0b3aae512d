"""The per-camera frame path: parameter sets, ground truth, capture clock, keyframe discipline."""

from __future__ import annotations

import redis.asyncio as aredis
from hypothesis import given, settings
from hypothesis import strategies as st

from rtcc import channels
from rtcc.channels import ChannelWriter
from rtcc.ingest.gate import ConsentGate
from rtcc.ingest.metrics import HubMetrics
from rtcc.ingest.sink import FrameSink, FrameSinkPy, _regex_head, compact_head
from rtcc.ingest.writer import FrameWriter
from rtcc.media.h264 import escape_rbsp, split_annexb
from rtcc.media.sei import GROUND_TRUTH_UUID, GroundTruth, build_sei_nal
from rtcc.metrics import new_registry
from rtcc.registry.cache import ConsentCache
from rtcc.registry.store import Registry
from tests.ingest.conftest import register
from tests.twins import each_implementation

implementation = each_implementation(globals(), FrameSink=(FrameSinkPy, FrameSink))

SPS = b"\x67\x42\xc0\x1e\xda\x02\x80\xbf\xe5\x84"
PPS = b"\x68\xce\x3c\x80"
IDR = b"\x65\x88\x84\x00\x33"
P_SLICE = b"\x41\x9a\x02\x03"


def _sei(json_bytes: bytes) -> bytes:
    payload = GROUND_TRUTH_UUID + json_bytes
    return b"\x06" + escape_rbsp(bytes([5, len(payload)]) + payload + b"\x80")


async def _sink(redis: aredis.Redis, registry: Registry, cache: ConsentCache,
                cam: str = "cam-s") -> tuple[FrameSink, FrameWriter]:
    await register(registry, [cam])
    await cache.resync()
    metrics = HubMetrics(new_registry())
    writer = FrameWriter(redis, ChannelWriter(10.0), metrics)
    gate = ConsentGate(cache, metrics)
    gate.track(cam)
    return FrameSink(cam, gate, writer, metrics), writer


def _queued(writer: FrameWriter, cam: str) -> list[channels.Frame]:
    return list(writer._queues[cam].frames) if cam in writer._queues else []


async def test_parameter_sets_go_before_every_idr(
    redis: aredis.Redis, registry: Registry, cache: ConsentCache,
) -> None:
    sink, writer = await _sink(redis, registry, cache)
    sink.set_parameter_sets(SPS, PPS)  # as from the SDP's sprop-parameter-sets
    assert not sink.on_access_unit([P_SLICE], 0)  # nothing before the first keyframe
    assert sink.on_access_unit([IDR], 3000)
    assert sink.on_access_unit([P_SLICE], 6000)
    frames = _queued(writer, "cam-s")
    assert split_annexb(frames[0].au) == [SPS, PPS, IDR] and frames[0].key
    assert split_annexb(frames[1].au) == [P_SLICE] and not frames[1].key
    assert [f.seq for f in frames] == [1, 2]  # the hub's own counter (no SEI)
    assert writer.metrics.dropped_total("cam-s", "awaiting_keyframe") == 1
    # In-band parameter sets replace the SDP's (a camera that changed resolution).
    new_sps = SPS[:-1] + b"\x99"
    sink.on_access_unit([new_sps, PPS, IDR], 9000)
    sink.on_access_unit([IDR], 12000)
    assert split_annexb(_queued(writer, "cam-s")[-1].au)[0] == new_sps


async def test_loss_skips_to_the_next_keyframe(
    redis: aredis.Redis, registry: Registry, cache: ConsentCache,
) -> None:
    sink, writer = await _sink(redis, registry, cache)
    sink.on_access_unit([SPS, PPS, IDR], 0)
    assert not sink.on_access_unit([P_SLICE], 3000, complete=False)
    assert not sink.on_access_unit([P_SLICE], 6000)  # refers to the broken picture
    assert sink.on_access_unit([SPS, PPS, IDR], 9000)
    assert writer.metrics.dropped_total("cam-s", "incomplete") == 2
    assert len(_queued(writer, "cam-s")) == 2


async def test_ground_truth_fast_path_slow_path_and_garbage(
    redis: aredis.Redis, registry: Registry, cache: ConsentCache,
) -> None:
    sink, writer = await _sink(redis, registry, cache)
    compact = GroundTruth(cam="cam-s", seq=41, t=1_700_000_000_123_456)
    assert sink.on_access_unit([SPS, PPS, build_sei_nal(compact), IDR], 0)
    spaced = b'{ "t": 1700000000200000, "seq": 42, "cam": "cam-s", "subjects": [] }'
    assert sink.on_access_unit([_sei(spaced), P_SLICE], 9000)
    broken = b'{"cam": "cam-s", "seq": -1}'  # invalid: the frame goes out without metadata
    assert sink.on_access_unit([_sei(broken), P_SLICE], 18000)
    f1, f2, f3 = _queued(writer, "cam-s")
    assert (f1.seq, f1.t, f1.meta) == (41, 1_700_000_000_123_456, compact.to_json())
    assert (f2.seq, f2.t, f2.meta) == (42, 1_700_000_000_200_000, spaced)  # kept as sent
    assert f3.seq == 43 and f3.meta == b"" and f3.t == f3.ta  # no SR: arrival time


async def test_capture_time_from_sender_reports(
    redis: aredis.Redis, registry: Registry, cache: ConsentCache,
) -> None:
    sink, _writer = await _sink(redis, registry, cache)
    sink.on_sender_report(1000.0, 90_000)
    # 9,000 ticks of 90 kHz after the report: 0.1 s later; 4,500 before: 0.05 s earlier.
    assert sink.capture_time_us(99_000, 0) == 1_000_100_000
    assert sink.capture_time_us(85_500, 0) == 999_950_000
    # Across the 32-bit wrap: 0xFFFFFF00 -> 0x100 is 512 ticks later.
    sink.on_sender_report(2000.0, 0xFFFFFF00)
    assert sink.capture_time_us(0x100, 0) == 2_000_000_000 + round(512 / 90_000 * 1e6)
    sink.reset()
    assert sink.capture_time_us(0x100, 123) == 123  # a new connection forgets the clock


_HEADS = st.one_of(
    # What cameras send: the contract's compact JSON, any camera id (quotes, backslashes,
    # control characters and non-ASCII come out escaped).
    st.builds(lambda cam, seq, t, tail: GroundTruth(cam=cam, seq=seq, t=t).to_json()[:tail],
              st.text(max_size=12), st.integers(0, 2**40), st.integers(0, 2**60),
              st.integers(0, 120)),
    # Near misses: the compact prefix, then anything.
    st.builds(lambda cam, rest: b'{"cam":"' + cam + rest,
              st.binary(max_size=8),
              st.sampled_from([b'","seq":1,"t":2}', b'","seq":1,"t":}', b'","seq":,"t":2,',
                               b'","seq":1,"t":2', b'","seq":12x,"t":3,', b'","seq":1,"t":2x',
                               b'"x","seq":1,"t":2,', b'\\","seq":5,"t":6}', b'","seq":1,"t":2,'
                               b'"seq":3,"t":4}'])),
    st.binary(max_size=60),
)


@settings(max_examples=1000)
@given(_HEADS)
def test_compact_head_agrees_with_the_regex(raw: bytes) -> None:
    # The hub reads (seq, t) of every frame without the regex; it must read exactly what the
    # regex reads, and nothing the regex would refuse.
    assert compact_head(raw) == _regex_head(raw)
