"""The compiled FrameSink against the pure-Python one (rtcc/compiled.py): the same random access
units, consent answers and writer replies through both, compared call by call.

The gate and the writer here are scripted stand-ins so that every branch (a gate closing and
reopening mid-GOP, the writer refusing a frame) comes up on demand; tests/ingest/test_sink.py
runs both sinks against the real gate, consent cache, writer and Redis."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rtcc.errors import MediaError
from rtcc.ingest import _sink_c as compiled  # type: ignore[attr-defined]
from rtcc.ingest import sink
from rtcc.ingest.metrics import HubMetrics
from rtcc.ingest.sink import FrameSink, FrameSinkPy
from rtcc.media import sei
from rtcc.media.sei import GROUND_TRUTH_UUID, GroundTruth, build_sei, build_sei_nal
from rtcc.metrics import new_registry

SPS = b"\x67\x42\xc0\x1e\xda\x02\x80\xbf\xe5\x84"
PPS = b"\x68\xce\x3c\x80"
IDR = b"\x65\x88\x84\x00\x33"
P_SLICE = b"\x41\x9a\x02\x03"
OTHER_UUID = bytes(range(16))


class _Gate:
    def __init__(self, answers: list[bool]) -> None:
        self.answers = answers
        self.calls = 0

    def admit(self, cam: str) -> bool:
        self.calls += 1
        return self.answers[self.calls % len(self.answers)]


class _Writer:
    def __init__(self, answers: list[bool]) -> None:
        self.answers = answers
        self.frames: list[tuple[object, ...]] = []

    def submit(self, frame: Any) -> bool:
        self.frames.append((frame.cam, frame.seq, frame.t, frame.ta, frame.key, frame.au,
                            frame.meta))
        return self.answers[len(self.frames) % len(self.answers)]


_json = st.one_of(
    st.builds(lambda seq, t: GroundTruth("cam-x", seq, t).to_json(),
              st.integers(0, 10**6), st.integers(0, 2 * 10**15)),
    st.builds(lambda seq: b'{"cam":"a\\"b","seq":%d,"t":5}' % seq, st.integers(0, 99)),
    st.just(b'{"cam":"c","seq":123456789012345678901234,"t":7}'),
    st.just(b'{"cam":"c","seq":007,"t":1,"subjects":[]}'),
    st.just(b'{"cam": "c", "seq": 4, "t": 9}'),
    st.builds(lambda cam, seq, t, tail: b'{"cam":"%s","seq":%s,"t":%s%s' % (cam, seq, t, tail),
              st.sampled_from([b"c", b"", b'a"b', b"a\\", b"a\\u0041"]),
              st.sampled_from([b"1", b"", b"01", b"1a", b"-1", b"99999999999999999999"]),
              st.sampled_from([b"5", b"", b"12345678901234567890123", b"x"]),
              st.sampled_from([b",", b"}", b"x", b"", b" }", b',"subjects":[]}'])),
    st.binary(max_size=30),
)


@st.composite
def _sei(draw: Any) -> bytes:
    raw = draw(_json)
    shape = draw(st.integers(0, 5))
    if shape == 0:  # another message first
        return build_sei([(1, b"\x00\x00\x03\x01"), (5, GROUND_TRUTH_UUID + raw)])
    if shape == 1:  # not ours
        return build_sei([(5, OTHER_UUID + raw)])
    if shape == 2:  # cut short
        nal = build_sei([(5, GROUND_TRUTH_UUID + raw)])
        return nal[:draw(st.integers(1, len(nal)))]
    if shape == 3:  # a typical camera's
        return build_sei_nal(GroundTruth("cam-y", draw(st.integers(0, 99)), 1_700_000_000))
    return build_sei([(5, GROUND_TRUTH_UUID + raw)])


_nal = st.one_of(st.just(SPS), st.just(PPS), st.just(IDR), st.just(P_SLICE), _sei(),
                 st.builds(lambda b: b"\x09" + b, st.binary(max_size=3)))

_call = st.one_of(
    st.tuples(st.just("au"), st.lists(_nal, max_size=5), st.one_of(st.none(),
              st.integers(0, 0xFFFFFFFF)), st.booleans(), st.integers(0, 10**16)),
    st.tuples(st.just("sr"), st.floats(1e9, 2e9), st.integers(0, 0xFFFFFFFF)),
    st.tuples(st.just("reset")),
    st.tuples(st.just("params"), st.sampled_from([None, b"", SPS]), st.sampled_from([None, PPS])),
)


def _run(cls: Any, calls: list[tuple[Any, ...]], gate_answers: list[bool],
         writer_answers: list[bool]) -> list[object]:
    metrics = HubMetrics(new_registry())
    firsts: list[int] = []
    writer = _Writer(writer_answers)
    sink = cls("cam-1", _Gate(gate_answers), writer, metrics,
               on_first_frame=lambda: firsts.append(len(writer.frames)))
    seen: list[object] = []
    for call in calls:
        if call[0] == "au":
            _, nals, ts, complete, arrival = call
            try:
                seen.append(sink.on_access_unit(tuple(nals), ts, complete, arrival))
            except IndexError as err:
                seen.append(("error", str(err)))
            seen.append(sink.capture_time_us(ts, arrival))
        elif call[0] == "sr":
            sink.on_sender_report(call[1], call[2])
        elif call[0] == "reset":
            sink.reset()
        else:
            sink.set_parameter_sets(call[1], call[2])
    m = metrics.camera("cam-1")
    seen.append((writer.frames, firsts, dict(metrics._drop_counts), m.frames_in, m.bytes_in,
                 sink.received, sink.delivered, sink.last_arrival, sink.sps, sink.pps,
                 sink._seq, sink._sei_errors))
    return seen


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_call, max_size=25), st.lists(st.booleans(), min_size=1, max_size=4),
       st.lists(st.booleans(), min_size=1, max_size=3))
def test_sink_twins_agree(calls: list[tuple[Any, ...]], gate: list[bool],
                          writer: list[bool]) -> None:
    assert _run(FrameSink, calls, gate, writer) == _run(FrameSinkPy, calls, gate, writer)


def test_empty_nal_unit_fails_alike() -> None:
    for cls in (FrameSink, FrameSinkPy):
        out = _run(cls, [("au", [IDR, b""], 0, True, 1)], [True], [True])
        assert out[0] == ("error", "index out of range"), cls


@settings(max_examples=1000, deadline=None)
@given(_json)
def test_compact_head_twins_agree(raw: bytes) -> None:
    assert compiled.compact_head(raw) == sink.compact_head(raw)


@settings(max_examples=500, deadline=None)
@given(_sei())
def test_ground_truth_json_twins_agree(nal: bytes) -> None:
    def outcome(fn: Any) -> object:
        try:
            return fn(nal)
        except MediaError as err:
            return ("error", str(err))

    assert outcome(compiled.ground_truth_json) == outcome(sei.ground_truth_json)


def test_none_nal_unit_is_refused_alike() -> None:
    for cls in (FrameSink, FrameSinkPy):
        sink = cls("cam-1", _Gate([True]), _Writer([True]), HubMetrics(new_registry()))
        try:
            sink.on_access_unit((IDR, None), 0, True, 1)
        except TypeError:
            pass
        else:
            raise AssertionError(cls)
