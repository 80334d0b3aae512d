"""The ground-truth SEI: JSON contract, NAL coding, and the round trip through real FFmpeg."""

from __future__ import annotations

import contextlib
import json
import math
import re
import subprocess
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from av.sidedata.sidedata import Type as SideDataType
from hypothesis import given
from hypothesis import strategies as st

from rtcc.errors import MediaError
from rtcc.media.encoder import decode_annexb
from rtcc.media.h264 import NAL_IDR, join_annexb, nal_type, split_annexb
from rtcc.media.sei import (
    BANDS,
    GROUND_TRUTH_UUID,
    GroundTruth,
    Subject,
    build_sei,
    build_sei_nal,
    find_ground_truth,
    find_ground_truth_json,
    ground_truth_json,
    insert_sei,
    parse_sei_nal,
    sei_messages,
)
from rtcc.vocabulary import PERSON_ROLES

VISITOR = Subject("p-3", "hh-12", "visitor", 4.26, "recognise", (100, 50, 20, 60), False)
PASSER = Subject("p-9", None, "passer_by", 17.0, None, (0, 0, 4, 9), True)
GT = GroundTruth("cam-0007", 42, 1_700_000_000_123_456, (VISITOR, PASSER))
SEI_UNREGISTERED = SideDataType.SEI_UNREGISTERED
OTHER_UUID = bytes.fromhex("dc45e9bde6d948b7962cd820d923eeef")  # x264's own


def test_uuid_is_the_contract_one() -> None:
    assert GROUND_TRUTH_UUID.hex() == "b7c8a1e25f3d4e6a9b1c72746363a001"


def test_to_json_is_compact_with_contract_keys() -> None:
    assert GT.to_json() == (
        b'{"cam":"cam-0007","seq":42,"t":1700000000123456,"subjects":['
        b'{"id":"p-3","household":"hh-12","role":"visitor","d":4.3,"band":"recognise",'
        b'"bbox":[100,50,20,60],"masked":false},'
        b'{"id":"p-9","household":null,"role":"passer_by","d":17.0,"band":null,'
        b'"bbox":[0,0,4,9],"masked":true}]}'
    )


def test_to_json_accepts_numpy_numbers() -> None:
    # A renderer's numbers come out of numpy; the type checker rightly calls them not int/float.
    subject = Subject("a", None, "resident", np.float32(2.04), "identify",  # type: ignore[arg-type]
                      tuple(np.array([1, 2, 3, 4], dtype=np.int64)), np.bool_(True))  # type: ignore[arg-type]
    gt = GroundTruth("c", np.int64(1), np.int64(2), (subject,))  # type: ignore[arg-type]
    doc = json.loads(gt.to_json())
    assert doc["subjects"][0] == {"id": "a", "household": None, "role": "resident", "d": 2.0,
                                  "band": "identify", "bbox": [1, 2, 3, 4], "masked": True}
    assert (doc["seq"], doc["t"]) == (1, 2)


def test_to_json_rejects_lone_surrogates() -> None:
    with pytest.raises(MediaError, match="not valid Unicode"):
        GroundTruth("cam\ud800", 0, 0).to_json()


def test_from_json_round_trip_rounds_distance() -> None:
    back = GroundTruth.from_json(GT.to_json())
    assert back.subjects[0].d == 4.3
    assert back == GroundTruth(GT.cam, GT.seq, GT.t, (
        Subject("p-3", "hh-12", "visitor", 4.3, "recognise", (100, 50, 20, 60), False), PASSER))


def _doc(**changes: object) -> bytes:
    doc = json.loads(GT.to_json())
    for key, value in changes.items():
        if key.startswith("s1_"):
            doc["subjects"][1][key[3:]] = value
        elif key.startswith("s0_del_"):
            del doc["subjects"][0][key[7:]]
        else:
            doc[key] = value
    return json.dumps(doc).encode()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"{not json", "not JSON"),
        (b'{"cam": "\xff"}', "not UTF-8"),
        (b"[]", "expected a JSON object, got list"),
        (b'{"seq": 1, "t": 2}', "cam: missing"),
        (_doc(cam=5), "cam: expected str, got int"),
        (_doc(cam=""), "cam: must not be empty"),
        (_doc(seq=-1), "seq: -1 is below 0"),
        (_doc(seq=True), "seq: expected int, got bool"),
        (_doc(t=1.5), "t: expected int, got float"),
        (_doc(subjects={}), "subjects: expected a list, got dict"),
        (_doc(subjects=[5]), "subjects[0]: expected an object, got int"),
        (_doc(s1_role="cop"), "subjects[1].role: unknown role 'cop'"),
        (_doc(s1_d=-1), "subjects[1].d: expected a distance"),
        (_doc(s1_d="3"), "subjects[1].d: expected a distance"),
        (b'{"cam":"c","seq":0,"t":0,"subjects":[{"id":"a","household":null,"role":"resident",'
         b'"d":NaN,"band":null,"bbox":[0,0,1,1],"masked":false}]}', "subjects[0].d"),
        (_doc(s1_bbox=[1, 2, 3]), "subjects[1].bbox"),
        (_doc(s1_bbox=[1, 2, -3, 4]), "subjects[1].bbox"),
        (_doc(s1_bbox=[1, 2, 3.5, 4]), "subjects[1].bbox"),
        (_doc(s1_masked="no"), "subjects[1].masked: expected bool, got str"),
        (_doc(s1_household=7), "subjects[1].household: expected str or null, got int"),
        (_doc(s1_band="close"), "subjects[1].band: unknown band 'close'"),
        (_doc(s0_del_id=None), "subjects[0].id: missing"),
    ],
)
def test_from_json_names_the_bad_field(data: bytes, message: str) -> None:
    with pytest.raises(MediaError, match=re.escape(message)):
        GroundTruth.from_json(data)


def test_from_json_ignores_unknown_keys_and_defaults_subjects() -> None:
    gt = GroundTruth.from_json(b'{"cam":"c","seq":3,"t":4,"future":1}')
    assert gt == GroundTruth("c", 3, 4, ())


# --- NAL coding -----------------------------------------------------------------------------


def test_build_sei_nal_layout() -> None:
    gt = GroundTruth("c", 1, 2)
    body = b'{"cam":"c","seq":1,"t":2,"subjects":[]}'  # 39 bytes
    # header 0x06, payloadType 5, payloadSize 16 + 39 = 55 (0x37), UUID, JSON, trailing bits.
    assert build_sei_nal(gt) == b"\x06\x05\x37" + GROUND_TRUTH_UUID + body + b"\x80"


@pytest.mark.parametrize(("cam_len", "size_bytes"), [(201, b"\xff\x00"), (456, b"\xff\xff\x00"),
                                                     (200, b"\xfe"), (202, b"\xff\x01")])
def test_payload_size_uses_ff_runs(cam_len: int, size_bytes: bytes) -> None:
    # The JSON of an empty frame is 38 bytes plus the camera id; the payload adds the 16-byte UUID.
    gt = GroundTruth("x" * cam_len, 1, 2)
    nal = build_sei_nal(gt)
    assert nal[:2 + len(size_bytes)] == b"\x06\x05" + size_bytes
    assert nal[2 + len(size_bytes):2 + len(size_bytes) + 16] == GROUND_TRUTH_UUID
    assert parse_sei_nal(nal) == gt


def test_several_messages_with_emulation_prevention() -> None:
    foreign = OTHER_UUID + b"\x00\x00\x01\x00\x00\x00\x00\x00\x02tail"
    nal = build_sei([(5, foreign), (1, b"\x00\x00"), (5, GROUND_TRUTH_UUID + GT.to_json())])
    assert b"\x00\x00\x03" in nal
    assert b"\x00\x00\x01" not in nal and b"\x00\x00\x00" not in nal
    assert sei_messages(nal) == [(5, foreign), (1, b"\x00\x00"),
                                 (5, GROUND_TRUTH_UUID + GT.to_json())]
    assert parse_sei_nal(nal) == GroundTruth.from_json(GT.to_json())
    assert ground_truth_json(nal) == GT.to_json()


def test_sei_without_ground_truth_is_none() -> None:
    assert parse_sei_nal(build_sei([(5, OTHER_UUID + b"x264 - core")])) is None
    assert parse_sei_nal(build_sei([(0, b"\x81\x00"), (5, b"short")])) is None
    assert find_ground_truth([b"\x65\x88", build_sei([(4, b"cc")])]) is None


def test_large_payload_type_numbers() -> None:
    nal = build_sei([(300, b"abc"), (5, GROUND_TRUTH_UUID + b'{"cam":"c","seq":0,"t":0}')])
    assert nal[1:3] == b"\xff\x2d"  # 300 = 255 + 45
    assert sei_messages(nal)[0] == (300, b"abc")
    assert parse_sei_nal(nal) == GroundTruth("c", 0, 0)


def test_trailing_bits_are_optional() -> None:
    nal = build_sei_nal(GT)
    assert nal.endswith(b"\x80")
    assert parse_sei_nal(nal[:-1]) == parse_sei_nal(nal)


@pytest.mark.parametrize(
    ("nal", "message"),
    [
        (b"", "empty"),
        (b"\x65\x88", "not an SEI"),
        (b"\x06\x05\x40" + GROUND_TRUTH_UUID + b"{}\x80", "claims 64 bytes"),
        (b"\x06\xff\xff", "truncated inside the payload type"),
        (b"\x06\x05\xff", "truncated inside the payload size"),
        (b"\x06\x05\x12" + GROUND_TRUTH_UUID + b"{}\x80", "cam: missing"),
    ],
)
def test_malformed_sei_raises(nal: bytes, message: str) -> None:
    with pytest.raises(MediaError, match=message):
        parse_sei_nal(nal)


subjects = st.builds(
    Subject,
    id=st.text(st.characters(exclude_categories=["Cs"]), max_size=12),
    household=st.none() | st.text(st.characters(exclude_categories=["Cs"]), max_size=12),
    role=st.sampled_from(sorted(PERSON_ROLES)),
    d=st.floats(0, 10_000, allow_nan=False),
    band=st.none() | st.sampled_from(sorted(BANDS)),
    bbox=st.tuples(st.integers(-5000, 5000), st.integers(-5000, 5000),
                   st.integers(0, 5000), st.integers(0, 5000)),
    masked=st.booleans(),
)
ground_truths = st.builds(
    GroundTruth,
    cam=st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=40),
    seq=st.integers(0, 2**63),
    t=st.integers(0, 2**63),
    subjects=st.lists(subjects, max_size=12).map(tuple),
)


@given(ground_truths)
def test_sei_round_trip(gt: GroundTruth) -> None:
    nal = build_sei_nal(gt)
    assert nal_type(nal) == 6
    assert b"\x00\x00\x00" not in nal and b"\x00\x00\x01" not in nal
    rounded = tuple(
        Subject(s.id, s.household, s.role, round(s.d, 1), s.band, s.bbox, s.masked)
        for s in gt.subjects
    )
    assert parse_sei_nal(nal) == GroundTruth(gt.cam, gt.seq, gt.t, rounded)
    # And through Annex-B framing, as the hub sees it.
    assert find_ground_truth(split_annexb(join_annexb([b"\x09\xf0", nal, b"\x41\x9a"]))) == (
        GroundTruth(gt.cam, gt.seq, gt.t, rounded)
    )


@given(st.binary(max_size=200))
def test_garbage_sei_raises_only_media_error(body: bytes) -> None:
    with contextlib.suppress(MediaError):
        parse_sei_nal(b"\x06" + body)


@given(st.lists(st.tuples(st.integers(0, 600), st.binary(max_size=300)), min_size=1, max_size=5))
def test_sei_messages_round_trip(messages: list[tuple[int, bytes]]) -> None:
    assert sei_messages(build_sei(messages)) == messages


# --- placement in the access unit ------------------------------------------------------------

AUD, SPS, PPS, IDR, SLICE = b"\x09\xf0", b"\x67\x42", b"\x68\xce", b"\x65\x88", b"\x41\x9a"
X264_SEI = build_sei([(5, OTHER_UUID + b"x264")])
OURS = build_sei_nal(GT)


@pytest.mark.parametrize(
    ("nals", "expected"),
    [
        ([AUD, SPS, PPS, IDR], [AUD, SPS, PPS, OURS, IDR]),
        ([SLICE], [OURS, SLICE]),
        ([X264_SEI, SPS, PPS, X264_SEI, IDR], [X264_SEI, SPS, PPS, X264_SEI, OURS, IDR]),
        ([SPS, PPS], [SPS, PPS, OURS]),
        ([], [OURS]),
        ([IDR, IDR], [OURS, IDR, IDR]),
    ],
)
def test_insert_sei_goes_before_the_first_slice(nals: list[bytes], expected: list[bytes]) -> None:
    assert insert_sei(nals, OURS) == tuple(expected)


def test_find_ground_truth_skips_foreign_sei() -> None:
    nals = insert_sei([X264_SEI, SPS, PPS, IDR], OURS)
    assert find_ground_truth(nals) == GroundTruth.from_json(GT.to_json())
    assert find_ground_truth_json(nals) == GT.to_json()
    assert find_ground_truth([X264_SEI, SPS, PPS, IDR]) is None


# --- through real FFmpeg --------------------------------------------------------------------


def _stream_with_sei(aus, big: bool = False) -> tuple[bytes, list[GroundTruth]]:
    data = b""
    truths = []
    for i, au in enumerate(aus):
        subjects = tuple(
            Subject(f"p-{k}", f"hh-{k}" if k % 3 else None, "resident", 2.5 + k, "observe",
                    (10 * k, 20, 30, 40), k % 2 == 0)
            for k in range(12 if big else i % 4)
        )
        gt = GroundTruth("cam-0001", i, 1_700_000_000_000_000 + 100_000 * i, subjects)
        truths.append(gt)
        nals = insert_sei(au.nals, build_sei_nal(gt))
        if big:
            # A foreign message whose payload needs emulation prevention, in the same NAL unit.
            nals = insert_sei(au.nals, build_sei([
                (5, OTHER_UUID + b"\x00\x00\x00\x01\x00\x00\x02"),
                (5, GROUND_TRUTH_UUID + gt.to_json()),
            ]))
        data += join_annexb(nals)
    return data, truths


@pytest.mark.parametrize("big", [False, True])
def test_ffmpeg_decodes_stream_with_sei_and_reports_it(stream_640, big: bool) -> None:
    _, aus = stream_640
    data, truths = _stream_with_sei(aus[:12], big)
    if big:
        assert all(len(t.to_json()) + 16 > 255 for t in truths)
    plain = decode_annexb(b"".join(au.annexb() for au in aus[:12]))
    ctx = av.CodecContext.create("h264", "r")
    seen: list[list[bytes]] = []
    frames = []
    with av.logging.Capture() as logs:
        for packet in [*ctx.parse(data), *ctx.parse(None), None]:
            for frame in ctx.decode(packet):
                frames.append(frame.to_ndarray(format="rgb24"))
                side_data: Any = frame.side_data  # untyped in PyAV's stubs
                seen.append([bytes(sd) for sd in side_data if sd.type == SEI_UNREGISTERED])
    assert [entry for entry in logs if entry[0] <= av.logging.ERROR] == []
    assert len(frames) == 12
    assert all((a == b).all() for a, b in zip(frames, plain, strict=True))
    for payloads, gt in zip(seen, truths, strict=True):
        ours = [p for p in payloads if p[:16] == GROUND_TRUTH_UUID]
        assert ours == [GROUND_TRUTH_UUID + gt.to_json()]  # FFmpeg's SEI parser agrees with ours
        if big:
            assert OTHER_UUID + b"\x00\x00\x00\x01\x00\x00\x02" in payloads
    # And our parser reads back every frame's truth from the byte stream.
    found = []
    current: list[bytes] = []
    for nal in split_annexb(data):
        current.append(nal)
        if nal_type(nal) in (1, NAL_IDR):
            found.append(find_ground_truth(current))
            current = []
    assert found == [GroundTruth.from_json(t.to_json()) for t in truths]


def test_ffprobe_reads_sei_stream_without_errors(stream_640, tmp_path: Path) -> None:
    _, aus = stream_640
    data, _ = _stream_with_sei(aus[:12], big=True)
    path = tmp_path / "sei.h264"
    path.write_bytes(data)
    result = subprocess.run(
        ["ffprobe", "-v", "error", "-show_frames", "-show_entries", "frame=side_data_list",
         "-of", "json", str(path)],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert result.returncode == 0
    assert result.stderr == ""
    frames = json.loads(result.stdout)["frames"]
    assert len(frames) == 12
    for frame in frames:
        kinds = [sd["side_data_type"] for sd in frame["side_data_list"]]
        assert kinds.count("H.26[45] User Data Unregistered SEI message") >= 2


def test_encoder_version_sei_is_not_ground_truth(stream_640) -> None:
    _, aus = stream_640
    first = aus[0].nals
    x264 = [n for n in first if nal_type(n) == 6]
    assert x264, "libx264 writes its version SEI into the first access unit"
    assert all(parse_sei_nal(n) is None for n in x264)


@given(ground_truths)
def test_to_json_matches_json_dumps(gt: GroundTruth) -> None:
    """The hand-formatted JSON is byte for byte what the json module writes."""
    reference = json.dumps(
        {"cam": gt.cam, "seq": gt.seq, "t": gt.t, "subjects": [s.to_dict() for s in gt.subjects]},
        separators=(",", ":"), ensure_ascii=False,
    ).encode()
    assert gt.to_json() == reference


@pytest.mark.parametrize(
    ("subject", "message"),
    [
        (Subject("a", None, "resident", math.inf, None, (0, 0, 1, 1), False), "finite"),
        (Subject("a", None, "resident", math.nan, None, (0, 0, 1, 1), False), "finite"),
        (Subject("a", None, "resident", -0.5, None, (0, 0, 1, 1), False), "not >= 0"),
        (Subject("a", None, "cop", 1.0, None, (0, 0, 1, 1), False), "unknown role 'cop'"),
        (Subject("a", None, "resident", 1.0, "near", (0, 0, 1, 1), False), "unknown band"),
        (Subject("a", None, "resident", 1.0, None, (0, 0, -1, 1), False), "negative size"),
        (Subject(7, None, "resident", 1.0, None, (0, 0, 1, 1), False), "wrong type"),  # type: ignore[arg-type]
        (Subject("a", None, "resident", 1.0, None, (0, 0, "w", 1), False), "wrong type"),  # type: ignore[arg-type]
    ],
)
def test_to_json_rejects_values_the_contract_cannot_carry(subject: Subject, message: str) -> None:
    with pytest.raises(MediaError, match=message):
        GroundTruth("c", 0, 0, (subject,)).to_json()


def test_to_json_rejects_negative_counters() -> None:
    with pytest.raises(MediaError, match="seq and t"):
        GroundTruth("c", -1, 0).to_json()


def test_subject_with_extra_keys_parses_like_a_plain_one() -> None:
    plain = json.loads(GT.to_json())
    extended = json.loads(GT.to_json())
    for subject in extended["subjects"]:
        subject["speed"] = 1.2
    assert GroundTruth.from_dict(extended) == GroundTruth.from_dict(plain)


def _walked_ground_truth(nal: bytes) -> bytes | None:
    """ground_truth_json without its in-place fast path: every message walked."""
    for ptype, payload in sei_messages(nal):
        if ptype == 5 and payload[:16] == GROUND_TRUTH_UUID:
            return payload[16:]
    return None


_SEI_PAYLOADS = st.one_of(
    st.builds(lambda body: GROUND_TRUTH_UUID + body, st.binary(max_size=700)),
    st.builds(lambda body: OTHER_UUID + body, st.binary(max_size=40)),
    st.binary(max_size=300),
)


@given(st.lists(st.tuples(st.sampled_from([0, 1, 4, 5, 5, 5, 300]), _SEI_PAYLOADS),
                min_size=1, max_size=3), st.integers(0, 3))
def test_ground_truth_fast_path_agrees_with_the_walk(messages: list[tuple[int, bytes]],
                                                      cut: int) -> None:
    # The hub slices the usual one-message SEI in place; escaped, multi-message, long (size
    # bytes of 0xFF) and truncated ones must give exactly what walking the messages gives.
    nal = build_sei(messages)
    for candidate in (nal, nal[:len(nal) - cut] if cut else nal, nal.rstrip(b"\x80")):
        try:
            expected: bytes | None | type[MediaError] = _walked_ground_truth(candidate)
        except MediaError:
            expected = MediaError
        try:
            got: bytes | None | type[MediaError] = ground_truth_json(candidate)
        except MediaError:
            got = MediaError
        assert got == expected
