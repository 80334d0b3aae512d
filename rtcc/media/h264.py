"""H.264 bitstream plumbing: Annex-B framing, NAL unit types, emulation prevention, access units
and sequence parameter sets.

Everything here works on bytes and never decodes pictures, so the hub can pass video through
untouched. Splitting and escaping run in C (``bytes.find``, ``re``) because they touch every byte
of every frame of every camera.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rtcc.errors import MediaError

NAL_SLICE = 1
NAL_DPA = 2
NAL_DPB = 3
NAL_DPC = 4
NAL_IDR = 5
NAL_SEI = 6
NAL_SPS = 7
NAL_PPS = 8
NAL_AUD = 9
NAL_END_SEQ = 10
NAL_END_STREAM = 11
NAL_FILLER = 12
STAP_A = 24
STAP_B = 25
MTAP16 = 26
MTAP24 = 27
FU_A = 28
FU_B = 29

#: NAL types that carry coded slice data (the "VCL" NAL units).
VCL_TYPES = frozenset({NAL_SLICE, NAL_DPA, NAL_DPB, NAL_DPC, NAL_IDR})

START_CODE = b"\x00\x00\x00\x01"
_SC3 = b"\x00\x00\x01"

# Emulation prevention (H.264 7.4.1): inside a NAL unit, 00 00 followed by 00..03 gets an 0x03
# inserted; at the very end of the payload a trailing 00 00 gets one as well.  The regex resumes
# right after each match, which is exactly the "reset the zero count after 0x03" rule.
_NEEDS_ESCAPE = re.compile(rb"\x00\x00(?=[\x00-\x03]|\Z)")
_ESCAPED = re.compile(rb"\x00\x00\x03")

# profile_idc values whose SPS carries chroma_format_idc, bit depths and scaling matrices.
_HIGH_PROFILES = frozenset({100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135})


def split_annexb(data: bytes | bytearray | memoryview) -> list[bytes]:
    """Return the NAL units of an Annex-B byte stream, without start codes.

    Accepts 3- and 4-byte start codes; bytes before the first start code, empty NAL units and
    trailing zero bytes (the extra zero of a 4-byte code, trailing_zero_8bits) are dropped.
    """
    buf = bytes(data)
    find = buf.find
    start = find(_SC3)
    if start < 0:
        return []
    nals: list[bytes] = []
    pos = start + 3
    while True:
        nxt = find(_SC3, pos)
        end = len(buf) if nxt < 0 else nxt
        if end > pos:
            nal = buf[pos:end]
            if nal[-1] == 0:
                nal = nal.rstrip(b"\x00")
            if nal:
                nals.append(nal)
        if nxt < 0:
            return nals
        pos = nxt + 3


def join_annexb(nals: Iterable[bytes]) -> bytes:
    """Annex-B byte stream of ``nals``, each preceded by a 4-byte start code."""
    nal_list = list(nals)
    if not nal_list:
        return b""
    return START_CODE + START_CODE.join(nal_list)


def nal_type(nal: bytes) -> int:
    """nal_unit_type (low five bits of the header byte)."""
    if not nal:
        raise MediaError("empty NAL unit has no type")
    return nal[0] & 0x1F


def escape_rbsp(rbsp: bytes) -> bytes:
    """Apply emulation prevention: the RBSP as it may appear inside a NAL unit (EBSP)."""
    if b"\x00\x00" not in rbsp:
        return bytes(rbsp)
    return _NEEDS_ESCAPE.sub(b"\x00\x00\x03", rbsp)


def unescape_rbsp(ebsp: bytes) -> bytes:
    """Remove emulation prevention bytes (every 0x03 that follows 00 00)."""
    if b"\x00\x00\x03" not in ebsp:
        return bytes(ebsp)
    return _ESCAPED.sub(b"\x00\x00", ebsp)


@dataclass(frozen=True, slots=True)
class AccessUnit:
    """One coded picture: its NAL units (no start codes) and a presentation time stamp.

    ``pts`` is in the producer's time base (90 kHz for RTP, frame count for the encoder).
    """

    nals: tuple[bytes, ...]
    pts: int = 0

    @property
    def keyframe(self) -> bool:
        """True when the access unit contains an IDR slice."""
        return is_keyframe(self.nals)

    def annexb(self) -> bytes:
        """The access unit as an Annex-B byte stream (4-byte start codes)."""
        return join_annexb(self.nals)

    @property
    def size(self) -> int:
        """Length in bytes of :meth:`annexb` (NAL bytes plus one 4-byte start code each)."""
        return sum(len(n) for n in self.nals) + 4 * len(self.nals)


def is_keyframe(nals: Iterable[bytes]) -> bool:
    """True when any NAL unit is an IDR slice."""
    return any(nal and nal[0] & 0x1F == NAL_IDR for nal in nals)


def parameter_sets(nals: Iterable[bytes]) -> tuple[bytes | None, bytes | None]:
    """The first SPS and the first PPS among ``nals`` (None for each one that is absent)."""
    sps: bytes | None = None
    pps: bytes | None = None
    for nal in nals:
        if not nal:
            continue
        kind = nal[0] & 0x1F
        if kind == NAL_SPS and sps is None:
            sps = nal
        elif kind == NAL_PPS and pps is None:
            pps = nal
    return sps, pps


def with_parameter_sets(
    nals: Sequence[bytes], sps: bytes | None, pps: bytes | None
) -> tuple[bytes, ...]:
    """Make an IDR access unit decodable on its own.

    When ``nals`` holds an IDR slice but no SPS (or no PPS) before it, the given ``sps``/``pps``
    are inserted after any access unit delimiter, ahead of SEI and slices.  Non-IDR access units
    and ones that already carry their parameter sets come back unchanged, so applying it twice
    changes nothing.  A None ``sps``/``pps`` is simply not inserted.
    """
    have_sps = have_pps = False
    idr_at = -1
    for i, nal in enumerate(nals):
        kind = nal[0] & 0x1F if nal else 0
        if kind == NAL_SPS:
            have_sps = True
        elif kind == NAL_PPS:
            have_pps = True
        elif kind == NAL_IDR:
            idr_at = i
            break
    if idr_at < 0:
        return tuple(nals)
    need_sps = not have_sps and sps is not None
    need_pps = not have_pps and pps is not None
    if not need_sps and not need_pps:
        return tuple(nals)
    out = list(nals)
    at = 1 if out and out[0] and out[0][0] & 0x1F == NAL_AUD else 0
    if need_sps:
        assert sps is not None
        out.insert(at, sps)
    if need_pps:
        assert pps is not None
        # FFmpeg resolves a PPS's SPS when it parses it: the PPS must follow the SPS.
        pps_at = at
        for i, nal in enumerate(out):
            kind = nal[0] & 0x1F if nal else 0
            if kind == NAL_SPS:
                pps_at = i + 1
            elif kind in VCL_TYPES:
                break
        out.insert(pps_at, pps)
    return tuple(out)


@dataclass(frozen=True, slots=True)
class SpsInfo:
    """The fields of a sequence parameter set that the rest of rtcc needs."""

    profile_idc: int
    constraint_flags: int
    level_idc: int
    width: int
    height: int


class _BitReader:
    """MSB-first bit reader over an RBSP, with exp-Golomb codes (H.264 9.1)."""

    __slots__ = ("_value", "_nbits", "_pos", "_what")

    def __init__(self, data: bytes, what: str) -> None:
        # One big int: shifting it is far cheaper than indexing bytes bit by bit in Python.
        self._value = int.from_bytes(data, "big")
        self._nbits = 8 * len(data)
        self._pos = 0
        self._what = what

    def u(self, n: int) -> int:
        if self._pos + n > self._nbits:
            raise MediaError(f"{self._what} is truncated (needs bit {self._pos + n} of "
                             f"{self._nbits})")
        self._pos += n
        return (self._value >> (self._nbits - self._pos)) & ((1 << n) - 1)

    def ue(self) -> int:
        zeros = 0
        while self.u(1) == 0:
            zeros += 1
            if zeros > 31:
                raise MediaError(f"{self._what} has an exp-Golomb code longer than 32 bits")
        return (1 << zeros) - 1 + (self.u(zeros) if zeros else 0)

    def se(self) -> int:
        k = self.ue()
        return (k + 1) // 2 if k & 1 else -(k // 2)


def _skip_scaling_list(r: _BitReader, size: int) -> None:
    last = nxt = 8
    for _ in range(size):
        if nxt != 0:
            nxt = (last + r.se() + 256) % 256
        last = nxt if nxt != 0 else last


def parse_sps(sps: bytes) -> SpsInfo:
    """Parse a sequence parameter set NAL unit (with its header byte) far enough for the size.

    Handles every profile's syntax (baseline, main, high and the 4:4:4 ones), interlaced
    streams and frame cropping.  Raises MediaError for anything that is not a well-formed SPS.
    """
    if len(sps) < 4:
        raise MediaError(f"SPS too short ({len(sps)} bytes)")
    if sps[0] & 0x1F != NAL_SPS:
        raise MediaError(f"not an SPS: NAL type {sps[0] & 0x1F}")
    rbsp = unescape_rbsp(sps[1:])
    r = _BitReader(rbsp, "SPS")
    profile_idc = r.u(8)
    constraint_flags = r.u(8)
    level_idc = r.u(8)
    sps_id = r.ue()
    if sps_id > 31:
        raise MediaError(f"SPS id {sps_id} out of range 0..31")
    chroma_format_idc = 1
    separate_colour_plane = 0
    if profile_idc in _HIGH_PROFILES:
        chroma_format_idc = r.ue()
        if chroma_format_idc > 3:
            raise MediaError(f"SPS chroma_format_idc {chroma_format_idc} out of range 0..3")
        if chroma_format_idc == 3:
            separate_colour_plane = r.u(1)
        r.ue()  # bit_depth_luma_minus8
        r.ue()  # bit_depth_chroma_minus8
        r.u(1)  # qpprime_y_zero_transform_bypass_flag
        if r.u(1):  # seq_scaling_matrix_present_flag
            for i in range(8 if chroma_format_idc != 3 else 12):
                if r.u(1):
                    _skip_scaling_list(r, 16 if i < 6 else 64)
    r.ue()  # log2_max_frame_num_minus4
    poc_type = r.ue()
    if poc_type == 0:
        r.ue()  # log2_max_pic_order_cnt_lsb_minus4
    elif poc_type == 1:
        r.u(1)  # delta_pic_order_always_zero_flag
        r.se()  # offset_for_non_ref_pic
        r.se()  # offset_for_top_to_bottom_field
        cycle = r.ue()
        if cycle > 255:
            raise MediaError(f"SPS num_ref_frames_in_pic_order_cnt_cycle {cycle} > 255")
        for _ in range(cycle):
            r.se()
    elif poc_type != 2:
        raise MediaError(f"SPS pic_order_cnt_type {poc_type} out of range 0..2")
    r.ue()  # max_num_ref_frames
    r.u(1)  # gaps_in_frame_num_value_allowed_flag
    width_mbs = r.ue() + 1
    height_map_units = r.ue() + 1
    frame_mbs_only = r.u(1)
    if not frame_mbs_only:
        r.u(1)  # mb_adaptive_frame_field_flag
    r.u(1)  # direct_8x8_inference_flag
    width = width_mbs * 16
    height = (2 - frame_mbs_only) * height_map_units * 16
    if r.u(1):  # frame_cropping_flag
        left, right, top, bottom = r.ue(), r.ue(), r.ue(), r.ue()
        chroma_array_type = 0 if separate_colour_plane else chroma_format_idc
        if chroma_array_type == 0:
            crop_x, crop_y = 1, 2 - frame_mbs_only
        else:
            sub_w = 1 if chroma_array_type == 3 else 2
            sub_h = 2 if chroma_array_type == 1 else 1
            crop_x, crop_y = sub_w, sub_h * (2 - frame_mbs_only)
        width -= crop_x * (left + right)
        height -= crop_y * (top + bottom)
        if width <= 0 or height <= 0:
            raise MediaError(f"SPS cropping leaves no picture ({width}x{height})")
    return SpsInfo(profile_idc, constraint_flags, level_idc, width, height)


def profile_level_id(sps: bytes) -> str:
    """The SDP ``profile-level-id`` of an SPS: profile_idc, constraint flags, level_idc in hex."""
    if len(sps) < 4:
        raise MediaError(f"SPS too short ({len(sps)} bytes)")
    if sps[0] & 0x1F != NAL_SPS:
        raise MediaError(f"not an SPS: NAL type {sps[0] & 0x1F}")
    head = unescape_rbsp(sps[1:8])
    if len(head) < 3:
        raise MediaError("SPS too short for profile and level")
    return head[:3].hex()
