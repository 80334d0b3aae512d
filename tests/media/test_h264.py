"""Annex-B framing, emulation prevention, access units and SPS parsing, on hand-made bytes and on
real libx264 output."""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rtcc.errors import MediaError
from rtcc.media.encoder import decode_annexb
from rtcc.media.h264 import (
    NAL_AUD,
    NAL_IDR,
    NAL_PPS,
    NAL_SEI,
    NAL_SLICE,
    NAL_SPS,
    AccessUnit,
    escape_rbsp,
    is_keyframe,
    join_annexb,
    nal_type,
    parameter_sets,
    parse_sps,
    profile_level_id,
    split_annexb,
    unescape_rbsp,
    with_parameter_sets,
)
from tests.media.conftest import busy_frame, encode_frames

SPS = b"\x67\x42\xc0\x1e\xab"
PPS = b"\x68\xce\x3c\x80"
IDR = b"\x65\x88\x84"
SLICE = b"\x41\x9a\x02"
AUD = b"\x09\xf0"
SEI = b"\x06\x05\x01\x00\x80"


# --- Annex-B framing ---------------------------------------------------------------------------


def test_split_handles_3_and_4_byte_start_codes() -> None:
    data = b"\x00\x00\x00\x01\x67\x42\x00\x00\x01\x68\xce\x00\x00\x00\x01\x65\x88"
    assert split_annexb(data) == [b"\x67\x42", b"\x68\xce", b"\x65\x88"]


def test_split_drops_leading_garbage_empty_nals_and_trailing_zeros() -> None:
    data = b"\xff\xfe\x00\x00\x01\x00\x00\x01\x09\xf0\x00\x00\x00\x00\x00\x01\x41\x9a\x00\x00"
    assert split_annexb(data) == [b"\x09\xf0", b"\x41\x9a"]


def test_split_without_start_code_is_empty() -> None:
    assert split_annexb(b"\x65\x88\x84") == []
    assert split_annexb(b"") == []


def test_join_uses_4_byte_start_codes() -> None:
    assert join_annexb([b"\x67\x42", b"\x68"]) == b"\x00\x00\x00\x01\x67\x42\x00\x00\x00\x01\x68"
    assert join_annexb([]) == b""


# A NAL unit as an encoder writes it: a header with a type 1..23, then escaped RBSP that ends in
# rbsp_trailing_bits (so never in 0x00).
nal_units = st.builds(
    lambda header, rbsp: bytes((header,)) + escape_rbsp(rbsp + b"\x80"),
    st.integers(0, 3).flatmap(lambda nri: st.integers(1, 23).map(lambda t: nri << 5 | t)),
    st.binary(max_size=300),
)


@given(st.lists(nal_units, max_size=12))
def test_split_inverts_join(nals: list[bytes]) -> None:
    assert split_annexb(join_annexb(nals)) == nals


@given(st.lists(nal_units, max_size=12), st.lists(st.booleans(), min_size=12, max_size=12))
def test_split_accepts_mixed_start_codes(nals: list[bytes], long_codes: list[bool]) -> None:
    data = b"".join(
        (b"\x00\x00\x00\x01" if long else b"\x00\x00\x01") + nal
        for nal, long in zip(nals, long_codes, strict=False)
    )
    assert split_annexb(data) == nals


@given(st.binary(max_size=400))
def test_split_never_fails_and_returns_no_start_codes(data: bytes) -> None:
    for nal in split_annexb(data):
        assert nal and b"\x00\x00\x01" not in nal and nal[-1] != 0


def test_real_stream_splits_into_its_access_units(stream_640) -> None:
    _, aus = stream_640
    for au in aus:
        assert split_annexb(au.annexb()) == list(au.nals)
    whole = b"".join(au.annexb() for au in aus)
    assert split_annexb(whole) == [nal for au in aus for nal in au.nals]


def test_nal_type() -> None:
    assert [nal_type(n) for n in (SPS, PPS, IDR, SLICE, AUD, SEI)] == [7, 8, 5, 1, 9, 6]
    with pytest.raises(MediaError):
        nal_type(b"")


# --- emulation prevention ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rbsp", "ebsp"),
    [
        (b"\x00\x00\x00", b"\x00\x00\x03\x00"),
        (b"\x00\x00\x01\x00\x00\x02", b"\x00\x00\x03\x01\x00\x00\x03\x02"),
        (b"\x00\x00\x03", b"\x00\x00\x03\x03"),
        (b"\x00\x00\x04", b"\x00\x00\x04"),
        (b"\x00\x00", b"\x00\x00\x03"),
        (b"\x00\x00\x00\x00", b"\x00\x00\x03\x00\x00\x03"),
        (b"\x01\x00\x02\x00\x00\xff", b"\x01\x00\x02\x00\x00\xff"),
        (b"", b""),
    ],
)
def test_escape_examples(rbsp: bytes, ebsp: bytes) -> None:
    assert escape_rbsp(rbsp) == ebsp
    assert unescape_rbsp(ebsp) == rbsp


def _escape_reference(rbsp: bytes) -> bytes:
    """H.264 7.4.1 written out byte by byte, as an oracle for the regex version."""
    out = bytearray()
    zeros = 0
    for byte in rbsp:
        if zeros >= 2 and byte <= 3:
            out.append(3)
            zeros = 0
        out.append(byte)
        zeros = zeros + 1 if byte == 0 else 0
    if zeros >= 2:
        out.append(3)
    return bytes(out)


@given(st.binary(max_size=500))
def test_escape_matches_reference_and_round_trips(rbsp: bytes) -> None:
    ebsp = escape_rbsp(rbsp)
    assert ebsp == _escape_reference(rbsp)
    for pattern in (b"\x00\x00\x00", b"\x00\x00\x01", b"\x00\x00\x02"):
        assert pattern not in ebsp
    assert unescape_rbsp(ebsp) == rbsp


@given(st.lists(st.sampled_from([b"\x00", b"\x01", b"\x02", b"\x03", b"\x04"]), max_size=60))
def test_escape_round_trips_zero_heavy_input(parts: list[bytes]) -> None:
    rbsp = b"".join(parts)
    assert unescape_rbsp(escape_rbsp(rbsp)) == rbsp


# --- access units and parameter sets ---------------------------------------------------------


def test_access_unit_properties() -> None:
    au = AccessUnit((SPS, PPS, IDR), pts=9000)
    assert au.keyframe
    assert au.annexb() == join_annexb([SPS, PPS, IDR])
    assert au.size == len(au.annexb()) == 5 + 4 + 3 + 12
    assert not AccessUnit((SLICE,)).keyframe
    assert AccessUnit(()).size == 0


def test_is_keyframe_and_parameter_sets() -> None:
    assert is_keyframe([AUD, SPS, PPS, IDR])
    assert not is_keyframe([AUD, SEI, SLICE])
    assert parameter_sets([AUD, SPS, PPS, IDR]) == (SPS, PPS)
    assert parameter_sets([SPS, SLICE]) == (SPS, None)
    assert parameter_sets([SLICE]) == (None, None)


@pytest.mark.parametrize(
    ("nals", "expected"),
    [
        ([IDR], [SPS, PPS, IDR]),
        ([AUD, SEI, IDR], [AUD, SPS, PPS, SEI, IDR]),
        ([SPS, PPS, IDR], [SPS, PPS, IDR]),
        ([SPS, IDR], [SPS, PPS, IDR]),
        ([AUD, PPS, IDR], [AUD, SPS, PPS, IDR]),
        ([SLICE], [SLICE]),
        ([SEI, SLICE], [SEI, SLICE]),
    ],
)
def test_with_parameter_sets(nals: list[bytes], expected: list[bytes]) -> None:
    once = with_parameter_sets(nals, SPS, PPS)
    assert once == tuple(expected)
    assert with_parameter_sets(once, SPS, PPS) == once


def test_with_parameter_sets_inserts_only_what_is_known() -> None:
    assert with_parameter_sets([IDR], None, PPS) == (PPS, IDR)
    assert with_parameter_sets([IDR], None, None) == (IDR,)


def test_encoder_output_has_parameter_sets_before_every_idr(stream_640) -> None:
    enc, aus = stream_640
    assert [i for i, au in enumerate(aus) if au.keyframe] == [0, 10, 20]
    for au in aus:
        if au.keyframe:
            kinds = [nal_type(n) for n in au.nals]
            assert kinds.index(NAL_SPS) < kinds.index(NAL_PPS) < kinds.index(NAL_IDR)
            assert with_parameter_sets(au.nals, enc.sps, enc.pps) == au.nals
        else:
            assert {nal_type(n) for n in au.nals} == {NAL_SLICE}


def test_stripped_keyframe_decodes_after_with_parameter_sets(stream_640) -> None:
    enc, aus = stream_640
    # A GOP starting at frame 10, with the parameter sets taken out (as some cameras send it).
    bare = [tuple(n for n in au.nals if nal_type(n) not in (NAL_SPS, NAL_PPS)) for au in aus[10:13]]
    with pytest.raises(MediaError, match="access unit 0"):
        decode_annexb(b"".join(join_annexb(n) for n in bare))
    assert decode_annexb(b"".join(join_annexb(n) for n in bare), strict=False) == []
    fixed = [with_parameter_sets(n, enc.sps, enc.pps) for n in bare]
    frames = decode_annexb(b"".join(join_annexb(n) for n in fixed))
    reference = decode_annexb(b"".join(au.annexb() for au in aus[10:13]))
    assert len(frames) == 3
    assert all(np.array_equal(a, b) for a, b in zip(frames, reference, strict=True))


# --- SPS ----------------------------------------------------------------------------------------


def _bits_to_bytes(bits: str) -> bytes:
    bits = bits.replace(" ", "")
    bits += "0" * (-len(bits) % 8)
    return int(bits, 2).to_bytes(len(bits) // 8, "big")


def test_parse_hand_written_sps_with_cropping() -> None:
    # Baseline 66, constraint_set0+1 (0xC0), level 3.0; then exp-Golomb fields written out:
    # sps_id 0 "1", log2_max_frame_num-4 0 "1", poc_type 2 "011", max_num_ref_frames 1 "010",
    # gaps "0", pic_width_in_mbs-1 39 "00000101000", pic_height_in_map_units-1 22 "000010111",
    # frame_mbs_only "1", direct_8x8 "1", cropping "1" left 0 "1" right 0 "1" top 0 "1"
    # bottom 4 "00101", vui "0", stop bit "1".
    body = _bits_to_bytes(
        "1 1 011 010 0 00000101000 000010111 1 1 1 1 1 1 00101 0 1"
    )
    sps = b"\x67\x42\xc0\x1e" + escape_rbsp(body)
    info = parse_sps(sps)
    # 40 MBs = 640 wide; 23 MBs = 368 high, minus 2 * 4 cropped rows = 360.
    assert (info.profile_idc, info.constraint_flags, info.level_idc) == (66, 0xC0, 30)
    assert (info.width, info.height) == (640, 360)
    assert profile_level_id(sps) == "42c01e"


def _encode_raw(width: int, height: int, profile: str, pix_fmt: str = "yuv420p",
                params: str = "") -> bytes:
    """A few frames from libx264 with an arbitrary profile, straight through PyAV."""
    ctx = av.CodecContext.create("libx264", "w")
    ctx.width, ctx.height, ctx.pix_fmt = width, height, pix_fmt
    ctx.time_base = Fraction(1, 10)
    ctx.framerate = Fraction(10)
    # ultrafast would drop CABAC and 8x8 transforms and so fall back to baseline.
    ctx.options = {"preset": "veryfast", "profile": profile, "x264-params": "threads=1" + params}
    data = b""
    for i in range(2):
        rgb = av.VideoFrame.from_ndarray(busy_frame(i, width, height), format="rgb24")
        frame = rgb.reformat(format=pix_fmt)
        frame.pts = i
        data += b"".join(bytes(p) for p in ctx.encode(frame))
    data += b"".join(bytes(p) for p in ctx.encode(None))
    return data


@pytest.mark.parametrize(
    ("width", "height"),
    [(640, 360), (1920, 1080), (1280, 720), (320, 240), (176, 144), (100, 50)],
)
def test_parse_sps_of_real_baseline_streams(width: int, height: int) -> None:
    enc, aus = encode_frames(1, width, height)
    info = parse_sps(enc.sps)
    assert (info.width, info.height) == (width, height)
    assert info.profile_idc == 66 and info.constraint_flags & 0x40  # constrained baseline
    assert profile_level_id(enc.sps) == enc.sps[1:4].hex()
    assert decode_annexb(aus[0].annexb())[0].shape == (height, width, 3)


@pytest.mark.parametrize(
    ("profile", "pix_fmt", "params", "width", "height", "profile_idc"),
    [
        ("main", "yuv420p", "", 640, 360, 77),
        ("high", "yuv420p", "", 1920, 1080, 100),
        ("high", "yuv420p", ":interlaced=1", 720, 576, 100),  # frame_mbs_only = 0
        ("high", "yuv420p", ":interlaced=1", 704, 276, 100),  # field cropping: 2 rows a unit
        ("high444", "yuv444p", "", 330, 250, 244),  # chroma 4:4:4: cropping in single pixels
        ("high422", "yuv422p", "", 330, 250, 122),  # chroma 4:2:2
    ],
)
def test_parse_sps_of_other_profiles(
    profile: str, pix_fmt: str, params: str, width: int, height: int, profile_idc: int
) -> None:
    data = _encode_raw(width, height, profile, pix_fmt, params)
    sps, _ = parameter_sets(split_annexb(data))
    assert sps is not None
    info = parse_sps(sps)
    assert info.profile_idc == profile_idc
    assert (info.width, info.height) == (width, height)


def test_parse_sps_rejects_bad_input(stream_640) -> None:
    enc, _ = stream_640
    with pytest.raises(MediaError, match="not an SPS"):
        parse_sps(PPS + b"\x00\x11")
    with pytest.raises(MediaError, match="too short"):
        parse_sps(b"\x67\x42")
    with pytest.raises(MediaError, match="truncated"):
        parse_sps(enc.sps[:6])
    with pytest.raises(MediaError, match="exp-Golomb"):
        parse_sps(b"\x67\x42\xc0\x1e" + b"\x00\x00\x03\x00\x00\x03\x00\x00\x03\x01\xff")
    with pytest.raises(MediaError):
        profile_level_id(b"\x68\x42\xc0\x1e")


@given(st.binary(min_size=0, max_size=64))
def test_parse_sps_on_garbage_raises_only_media_error(body: bytes) -> None:
    try:
        info = parse_sps(b"\x67" + body)
    except MediaError:
        return
    assert info.width > 0 and info.height > 0


def test_aud_constant_matches_spec() -> None:
    # Table 7-1 values the rest of rtcc relies on.
    assert (NAL_SLICE, NAL_IDR, NAL_SEI, NAL_SPS, NAL_PPS, NAL_AUD) == (1, 5, 6, 7, 8, 9)
