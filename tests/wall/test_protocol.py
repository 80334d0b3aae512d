"""The wall's binary frame header and control messages."""

import json
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rtcc.errors import ProtocolError
from rtcc.wall.protocol import (
    HEADER_SIZE,
    FrameHeader,
    control,
    pack_frame,
    parse_client_message,
    unpack_frame,
)


def test_header_layout_by_hand():
    msg = pack_frame(FrameHeader(camera=0x0102, seq=7, t=1_700_000_000_123_456, key=True,
                                 exposed=3, people=5), b"\x00\x00\x00\x01\x65")
    assert HEADER_SIZE == 20
    assert msg[:2] == b"\x01\x01"  # kind 1, keyframe flag
    assert msg[2:4] == b"\x01\x02"  # camera index, big-endian
    assert msg[4:8] == b"\x00\x00\x00\x07"
    assert struct.unpack("!Q", msg[8:16])[0] == 1_700_000_000_123_456
    assert msg[16:20] == b"\x00\x03\x00\x05"
    assert msg[20:] == b"\x00\x00\x00\x01\x65"


def test_delta_frame_has_no_key_flag_and_seq_wraps():
    header, payload = unpack_frame(pack_frame(FrameHeader(1, 2**32 + 5, 10, False), b"x"))
    assert header == FrameHeader(1, 5, 10, False, 0, 0)
    assert payload == b"x"


@given(camera=st.integers(0, 0xFFFF), seq=st.integers(0, 2**32 - 1),
       t=st.integers(0, 2**63), key=st.booleans(), exposed=st.integers(0, 0xFFFF),
       people=st.integers(0, 0xFFFF), payload=st.binary(max_size=64))
def test_round_trip(camera, seq, t, key, exposed, people, payload):
    header = FrameHeader(camera, seq, t, key, exposed, people)
    assert unpack_frame(pack_frame(header, payload)) == (header, payload)


def test_counters_saturate_instead_of_overflowing():
    header, _ = unpack_frame(pack_frame(FrameHeader(0, 0, 0, False, 70_000, 99_999), b""))
    assert (header.exposed, header.people) == (0xFFFF, 0xFFFF)


def test_short_or_unknown_messages_are_errors():
    with pytest.raises(ProtocolError, match="shorter than the header"):
        unpack_frame(b"\x01" * 10)
    with pytest.raises(ProtocolError, match="unknown frame kind 9"):
        unpack_frame(b"\x09" + b"\x00" * 19)


@pytest.mark.parametrize("text, message", [
    ("not json", "not JSON"),
    ("[1, 2]", "JSON object"),
    ('{"op": "hack"}', "field 'op'"),
    ('{"op": "sub"}', "field 'cam'"),
    ('{"op": "sub", "cam": "../../etc"}', "field 'cam'"),
    ('{"op": "sub", "cam": 7}', "field 'cam'"),
    ('{"op": "auth"}', "field 'token'"),
    ('{"op": "auth", "token": ""}', "field 'token'"),
    ('{"op": "sub", "cam": "' + "a" * 5000 + '"}', "exceeds"),
])
def test_bad_client_messages_name_the_problem(text, message):
    with pytest.raises(ProtocolError, match=message):
        parse_client_message(text)


def test_good_client_messages():
    assert parse_client_message('{"op":"sub","cam":"cam-00001"}').cam == "cam-00001"
    assert parse_client_message('{"op":"auth","token":"abc"}').token == "abc"
    assert parse_client_message('{"op":"ping"}').op == "ping"


def test_control_is_compact_json():
    text = control("unsub", cam="c1", reason="revoked")
    assert " " not in text
    assert json.loads(text) == {"op": "unsub", "cam": "c1", "reason": "revoked"}
