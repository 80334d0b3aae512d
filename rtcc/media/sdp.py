"""SDP (RFC 8866) for RTSP: the description a camera answers DESCRIBE with, and a parser for the
descriptions real servers send (FFmpeg, GStreamer, MediaMTX, IP cameras).

Only what RTSP H.264 transport needs is interpreted (media lines, rtpmap, fmtp, control,
direction, connection); every other attribute is kept verbatim in ``attributes``.
"""

from __future__ import annotations

import base64
import binascii
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from rtcc.errors import MediaError
from rtcc.media.h264 import NAL_PPS, NAL_SPS, profile_level_id

_Fail = Callable[[str], MediaError]

DIRECTIONS = frozenset({"sendrecv", "sendonly", "recvonly", "inactive"})


def build_rtsp_sdp(
    *,
    session_name: str,
    sps: bytes,
    pps: bytes,
    payload_type: int = 96,
    control: str = "trackID=0",
    origin_addr: str = "127.0.0.1",
    framerate: float | None = None,
    session_id: int | None = None,
) -> str:
    """The SDP of a one-track H.264 RTSP session (packetization-mode 1), CRLF line endings."""
    for name, value in (("session_name", session_name), ("control", control),
                        ("origin_addr", origin_addr)):
        if not value or any(c in value for c in "\r\n\0"):
            raise MediaError(f"SDP {name} must be a non-empty single line, got {value!r}")
    if not 96 <= payload_type <= 127:
        raise MediaError(f"dynamic RTP payload type must be 96..127, got {payload_type}")
    if sps[:1] == b"" or sps[0] & 0x1F != NAL_SPS:
        raise MediaError("build_rtsp_sdp: sps is not an SPS NAL unit")
    if pps[:1] == b"" or pps[0] & 0x1F != NAL_PPS:
        raise MediaError("build_rtsp_sdp: pps is not a PPS NAL unit")
    if session_id is None:
        session_id = int(time.time())
    sprop = f"{base64.b64encode(sps).decode()},{base64.b64encode(pps).decode()}"
    fmtp = (
        f"packetization-mode=1;profile-level-id={profile_level_id(sps)};"
        f"sprop-parameter-sets={sprop}"
    )
    lines = [
        "v=0",
        f"o=- {session_id} 1 IN IP4 {origin_addr}",
        f"s={session_name}",
        # RFC 2326 C.1.7: in a DESCRIBE the connection address is 0.0.0.0 (unspecified); the
        # real addresses come with SETUP. Not a bind: nothing listens because of this line.
        "c=IN IP4 0.0.0.0",
        "t=0 0",
        "a=tool:rtcc",
        "a=control:*",
        f"m=video 0 RTP/AVP {payload_type}",
        f"a=rtpmap:{payload_type} H264/90000",
        f"a=fmtp:{payload_type} {fmtp}",
    ]
    if framerate is not None:
        if not framerate > 0:
            raise MediaError(f"SDP framerate must be > 0, got {framerate}")
        lines.append(f"a=framerate:{framerate:g}")
    lines.append(f"a=control:{control}")
    return "\r\n".join(lines) + "\r\n"


@dataclass(frozen=True, slots=True)
class RtpMap:
    """``a=rtpmap:<pt> <encoding>/<clock rate>[/<channels>]``."""

    payload_type: int
    encoding: str
    clock_rate: int
    channels: int | None = None


@dataclass(frozen=True, slots=True)
class MediaDescription:
    """One ``m=`` section."""

    kind: str
    port: int
    proto: str
    payload_types: tuple[int, ...]
    rtpmap: dict[int, RtpMap] = field(default_factory=dict)
    fmtp: dict[int, dict[str, str]] = field(default_factory=dict)
    control: str | None = None
    direction: str = "sendrecv"
    connection: str | None = None
    attributes: tuple[tuple[str, str | None], ...] = ()

    def payload_type_for(self, encoding: str) -> int | None:
        """The first payload type whose rtpmap names ``encoding`` (case-insensitive)."""
        wanted = encoding.lower()
        for pt in self.payload_types:
            entry = self.rtpmap.get(pt)
            if entry is not None and entry.encoding.lower() == wanted:
                return pt
        return None


@dataclass(frozen=True, slots=True)
class SessionDescription:
    """A parsed SDP document."""

    version: int
    origin: str
    session_name: str
    connection: str | None
    control: str | None
    direction: str
    attributes: tuple[tuple[str, str | None], ...]
    media: tuple[MediaDescription, ...]

    @property
    def live(self) -> bool:
        """The server describes a live session: ``a=range:npt=now-`` at session level or on a
        medium (RFC 2326 C.1.5; "now" is for live events only, 3.6)."""
        attributes = self.attributes + tuple(a for m in self.media for a in m.attributes)
        return any(name == "range" and value is not None
                   and value.replace(" ", "").lower().startswith("npt=now-")
                   for name, value in attributes)


class _MediaBuilder:
    """Mutable collector for one m= section while parsing."""

    def __init__(self, kind: str, port: int, proto: str, pts: tuple[int, ...]) -> None:
        self.kind, self.port, self.proto, self.pts = kind, port, proto, pts
        self.rtpmap: dict[int, RtpMap] = {}
        self.fmtp: dict[int, dict[str, str]] = {}
        self.control: str | None = None
        self.direction = "sendrecv"
        self.connection: str | None = None
        self.attributes: list[tuple[str, str | None]] = []

    def build(self) -> MediaDescription:
        return MediaDescription(
            self.kind, self.port, self.proto, self.pts, self.rtpmap, self.fmtp, self.control,
            self.direction, self.connection, tuple(self.attributes),
        )


def parse_sdp(text: str) -> SessionDescription:
    """Parse SDP text (CRLF or LF); MediaError names the line number and the problem."""
    version: int | None = None
    origin = ""
    session_name = ""
    connection: str | None = None
    control: str | None = None
    direction = "sendrecv"
    attributes: list[tuple[str, str | None]] = []
    media: list[_MediaBuilder] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line:
            continue

        def fail(problem: str, number: int = number, line: str = line) -> MediaError:
            return MediaError(f"SDP line {number}: {problem}: {line[:80]!r}")

        if len(line) < 2 or line[1] != "=" or not line[0].isalpha():
            raise fail("expected '<letter>=<value>'")
        kind, value = line[0], line[2:]
        if version is None:
            if kind != "v":
                raise fail("SDP must start with v=0")
            if value.strip() != "0":
                raise fail("unsupported SDP version")
            version = 0
            continue
        current = media[-1] if media else None
        if kind == "m":
            media.append(_parse_media_line(value, fail))
        elif kind == "o" and current is None:
            origin = value
        elif kind == "s" and current is None:
            session_name = value
        elif kind == "c":
            parts = value.split()
            if len(parts) != 3 or parts[0] != "IN":
                raise fail("expected c=IN <addrtype> <address>")
            address = parts[2].split("/")[0]
            if current is None:
                connection = address
            else:
                current.connection = address
        elif kind == "a":
            name, sep, arg = value.partition(":")
            name = name.strip()
            attr_value = arg.strip() if sep else None
            if name == "rtpmap":
                if current is None:
                    raise fail("rtpmap outside a media section")
                entry = _parse_rtpmap(attr_value or "", fail)
                current.rtpmap[entry.payload_type] = entry
            elif name == "fmtp":
                if current is None:
                    raise fail("fmtp outside a media section")
                pt, params = _parse_fmtp(attr_value or "", fail)
                current.fmtp[pt] = params
            elif name == "control":
                if not attr_value:
                    raise fail("empty control attribute")
                if current is None:
                    control = attr_value
                else:
                    current.control = attr_value
            elif name in DIRECTIONS and not sep:
                if current is None:
                    direction = name
                else:
                    current.direction = name
            elif current is None:
                attributes.append((name, attr_value))
            else:
                current.attributes.append((name, attr_value))
        # Other line types (i, u, e, p, b, t, r, z, k) carry nothing RTSP transport needs.
    if version is None:
        raise MediaError("SDP is empty")
    built = []
    for m in media:
        if m.direction == "sendrecv" and direction != "sendrecv":
            m.direction = direction  # a session-level direction applies to media without one
        built.append(m.build())
    return SessionDescription(
        version, origin, session_name, connection, control, direction, tuple(attributes),
        tuple(built),
    )


def _parse_media_line(value: str, fail: _Fail) -> _MediaBuilder:
    parts = value.split()
    if len(parts) < 3:
        raise fail("expected m=<media> <port> <proto> <fmt> ...")
    kind, port_text, proto = parts[0], parts[1], parts[2]
    port_text = port_text.split("/")[0]
    if not port_text.isdigit() or int(port_text) > 65535:
        raise fail(f"bad port {port_text!r}")
    pts: list[int] = []
    if "RTP" in proto.upper():
        for fmt in parts[3:]:
            if not fmt.isdigit() or int(fmt) > 127:
                raise fail(f"bad RTP payload type {fmt!r}")
            pts.append(int(fmt))
    return _MediaBuilder(kind, int(port_text), proto, tuple(pts))


def _parse_rtpmap(value: str, fail: _Fail) -> RtpMap:
    pt_text, _, codec = value.partition(" ")
    pieces = codec.strip().split("/")
    if not pt_text.isdigit() or int(pt_text) > 127 or len(pieces) < 2 or not pieces[0]:
        raise fail("expected rtpmap:<pt> <encoding>/<clock rate>[/<channels>]")
    if not pieces[1].isdigit() or (len(pieces) > 2 and not pieces[2].isdigit()):
        raise fail("rtpmap clock rate and channels must be integers")
    channels = int(pieces[2]) if len(pieces) > 2 else None
    return RtpMap(int(pt_text), pieces[0], int(pieces[1]), channels)


def _parse_fmtp(value: str, fail: _Fail) -> tuple[int, dict[str, str]]:
    pt_text, _, rest = value.partition(" ")
    if not pt_text.isdigit():
        raise fail("expected fmtp:<pt> <parameters>")
    params: dict[str, str] = {}
    for item in rest.split(";"):
        item = item.strip()
        if not item:
            continue
        # Split at the first '=' only: base64 values end in '=' padding.
        key, _, val = item.partition("=")
        params[key.strip().lower()] = val.strip()
    return int(pt_text), params


def sprop_parameter_sets(fmtp: dict[str, str]) -> tuple[bytes, bytes]:
    """SPS and PPS from an H.264 fmtp's ``sprop-parameter-sets`` (picked by NAL type)."""
    value = fmtp.get("sprop-parameter-sets")
    if not value:
        raise MediaError("fmtp has no sprop-parameter-sets")
    sps: bytes | None = None
    pps: bytes | None = None
    for i, item in enumerate(value.split(",")):
        item = item.strip()
        if not item:
            continue
        try:
            nal = base64.b64decode(item + "=" * (-len(item) % 4), validate=True)
        except (binascii.Error, ValueError) as err:
            raise MediaError(f"sprop-parameter-sets item {i} is not base64: {item[:40]!r}") from err
        if not nal:
            continue
        kind = nal[0] & 0x1F
        if kind == NAL_SPS and sps is None:
            sps = nal
        elif kind == NAL_PPS and pps is None:
            pps = nal
    if sps is None or pps is None:
        missing = " and ".join(n for n, v in (("SPS", sps), ("PPS", pps)) if v is None)
        raise MediaError(f"sprop-parameter-sets has no {missing}")
    return sps, pps


def resolve_control(base_url: str, control: str | None) -> str:
    """The URL to SETUP/PLAY: ``control`` resolved against the Content-Base (RFC 2326 C.1.1)."""
    if not control or control == "*":
        return base_url
    if "://" in control:
        return control
    return base_url.rstrip("/") + "/" + control.lstrip("/")
