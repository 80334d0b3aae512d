"""RTSP 1.0 messages (RFC 2326 as real clients speak it): parsing, limits and formatting. Pure.

The server feeds the raw bytes of a connection to :class:`RtspParser`, which returns, in arrival
order, complete requests, interleaved binary frames (``$`` channel length payload: RTCP that a TCP
client sends back) and :class:`BadMessage` items for input that breaks the protocol. A fatal bad
message (garbage, oversized headers, broken framing) is the last item: the connection answers it
and closes, because the byte stream can no longer be trusted to find the next message.

Also here: the ``Transport`` header of SETUP (TCP interleaved and UDP unicast), the ``Session``
header, and camera URLs of the form ``rtsp://HOST:PORT/cams/{id}[/trackID=0]``.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from urllib.parse import unquote, urlsplit

from rtcc.errors import ProtocolError

MAX_HEADER_BYTES = 8192
"""Request line plus headers; a longer head is refused with 431 and the connection closed."""
MAX_BODY_BYTES = 65536
"""Requests carry tiny bodies at most (SET_PARAMETER, GET_PARAMETER); more is refused."""

SERVER_NAME = "rtcc-sim"

METHODS = ("OPTIONS", "DESCRIBE", "SETUP", "PLAY", "PAUSE", "TEARDOWN",
           "GET_PARAMETER", "SET_PARAMETER")
"""What the server implements; the ``Public`` header of OPTIONS lists these."""

REASONS: Mapping[int, str] = MappingProxyType({
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    408: "Request Timeout",
    413: "Request Entity Too Large",
    451: "Parameter Not Understood",
    431: "Request Header Fields Too Large",
    454: "Session Not Found",
    455: "Method Not Valid in This State",
    459: "Aggregate Operation Not Allowed",
    461: "Unsupported Transport",
    500: "Internal Server Error",
    501: "Not Implemented",
    503: "Service Unavailable",
    505: "RTSP Version Not Supported",
    551: "Option not supported",
})

_TOKEN = rb"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_REQUEST_LINE = re.compile(rb"(" + _TOKEN + rb") ([^\s]+) ([A-Za-z]+/\d+\.\d+)\Z")
_HEADER_NAME = re.compile(_TOKEN + rb"\Z")
_TOKEN_START = frozenset((string.ascii_letters + string.digits + "!#$%&'*+.^_`|~-").encode())
_DOLLAR = 0x24


@dataclass(frozen=True, slots=True)
class RtspRequest:
    """One request; header names are lower-cased, repeated headers joined with ``", "``."""

    method: str
    uri: str
    version: str
    headers: Mapping[str, str]
    body: bytes = b""

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    @property
    def cseq(self) -> int | None:
        """The CSeq as a number, or None when it is missing or not a non-negative integer."""
        raw = self.headers.get("cseq")
        if raw is None or not raw.strip().isdigit() or len(raw.strip()) > 10:
            return None
        return int(raw.strip())


@dataclass(frozen=True, slots=True)
class InterleavedFrame:
    """A binary frame sent by the client inside the RTSP connection (RFC 2326 10.12)."""

    channel: int
    payload: bytes


@dataclass(frozen=True, slots=True)
class BadMessage:
    """Input that breaks the protocol: answer ``status`` and, when ``fatal``, close."""

    status: int
    reason: str
    fatal: bool
    cseq: int | None = None


ParsedItem = RtspRequest | InterleavedFrame | BadMessage


class RtspParser:
    """Incremental parser of what a client sends on an RTSP connection.

    ``feed`` never raises on bad input: it returns a :class:`BadMessage` instead, and after a
    fatal one it ignores everything else (the connection is about to close).
    """

    __slots__ = ("_buf", "_dead")

    def __init__(self) -> None:
        self._buf = bytearray()
        self._dead = False

    @property
    def closed(self) -> bool:
        return self._dead

    def feed(self, data: bytes) -> list[ParsedItem]:
        if self._dead:
            return []
        self._buf += data
        items: list[ParsedItem] = []
        while self._buf and not self._dead:
            item = self._next()
            if item is None:
                break
            items.append(item)
        return items

    def _fail(self, status: int, reason: str, cseq: int | None = None) -> BadMessage:
        self._dead = True
        self._buf.clear()
        return BadMessage(status, reason, fatal=True, cseq=cseq)

    def _next(self) -> ParsedItem | None:
        buf = self._buf
        if buf[0] == _DOLLAR:
            if len(buf) < 4:
                return None
            size = (buf[2] << 8) | buf[3]
            if len(buf) < 4 + size:
                return None
            frame = InterleavedFrame(buf[1], bytes(buf[4 : 4 + size]))
            del buf[: 4 + size]
            return frame
        # Clients may send stray line ends between messages (RFC 2326 allows empty lines).
        while buf:
            if buf[:2] == b"\r\n":
                del buf[:2]
            elif buf[:1] == b"\n":
                del buf[:1]
            elif buf == b"\r":
                return None  # the LF of this CRLF has not arrived yet
            else:
                break
        if not buf:
            return None
        if buf[0] not in _TOKEN_START:
            return self._fail(400, f"garbage: byte 0x{buf[0]:02x} cannot start a request")
        line_end = buf.find(b"\n")
        if line_end < 0:
            if len(buf) > MAX_HEADER_BYTES:
                return self._fail(431, f"request line longer than {MAX_HEADER_BYTES} bytes")
            return None
        first = bytes(buf[:line_end]).rstrip(b"\r")
        match = _REQUEST_LINE.match(first)
        if match is None:
            return self._fail(400, f"malformed request line {first[:80]!r}")
        head_end, sep = _find_head_end(buf)
        if head_end < 0:
            if len(buf) > MAX_HEADER_BYTES:
                return self._fail(431, f"request headers exceed {MAX_HEADER_BYTES} bytes")
            return None
        if head_end > MAX_HEADER_BYTES:
            return self._fail(431, f"request headers exceed {MAX_HEADER_BYTES} bytes")
        head = bytes(buf[:head_end])
        try:
            headers = _parse_headers(head.split(b"\n")[1:])
        except ValueError as err:
            return self._fail(400, str(err))
        cseq = _cseq(headers)
        length_raw = headers.get("content-length", "0").strip()
        if not length_raw.isdigit() or len(length_raw) > 9:
            return self._fail(400, f"bad Content-Length {length_raw[:20]!r}", cseq)
        length = int(length_raw)
        if length > MAX_BODY_BYTES:
            return self._fail(413, f"body of {length} bytes exceeds {MAX_BODY_BYTES}", cseq)
        total = head_end + sep + length
        if len(buf) < total:
            return None
        body = bytes(buf[head_end + sep : total])
        del buf[:total]
        method, uri, version = (g.decode("latin-1") for g in match.groups())
        if not version.startswith("RTSP/"):
            # An HTTP request (or anything else) on the RTSP port: its framing is not ours.
            return self._fail(400, f"not an RTSP request ({version})", cseq)
        if version != "RTSP/1.0":
            return BadMessage(505, f"version {version} not supported", fatal=False, cseq=cseq)
        return RtspRequest(method, uri, version, MappingProxyType(headers), body)


def _find_head_end(buf: bytearray) -> tuple[int, int]:
    """Offset of the empty line that ends the head, and the length of that separator."""
    crlf = buf.find(b"\r\n\r\n")
    lf = buf.find(b"\n\n")
    if crlf >= 0 and (lf < 0 or crlf < lf):
        return crlf, 4
    if lf >= 0:
        return lf, 2
    return -1, 0


def _parse_headers(lines: Iterable[bytes]) -> dict[str, str]:
    headers: dict[str, str] = {}
    last: str | None = None
    for raw in lines:
        line = raw.rstrip(b"\r")
        if not line:
            continue
        if line[:1] in (b" ", b"\t"):
            # Obsolete line folding: the value continues on this line.
            if last is None:
                raise ValueError("header continuation before any header")
            headers[last] += " " + line.strip().decode("latin-1")
            continue
        name, colon, value = line.partition(b":")
        if not colon or not _HEADER_NAME.match(name):
            raise ValueError(f"malformed header line {line[:80]!r}")
        key = name.decode("latin-1").lower()
        text = value.strip().decode("latin-1")
        headers[key] = f"{headers[key]}, {text}" if key in headers else text
        last = key
    return headers


def _cseq(headers: Mapping[str, str]) -> int | None:
    raw = headers.get("cseq", "").strip()
    return int(raw) if raw.isdigit() and len(raw) <= 10 else None


def format_response(
    status: int,
    cseq: int | None,
    headers: Iterable[tuple[str, str]] = (),
    body: bytes = b"",
) -> bytes:
    """One RTSP/1.0 response. ``CSeq`` is echoed when known; ``Content-Length`` set for a body."""
    lines = [f"RTSP/1.0 {status} {REASONS.get(status, 'Unknown')}"]
    if cseq is not None:
        lines.append(f"CSeq: {cseq}")
    lines.append(f"Server: {SERVER_NAME}")
    lines.extend(f"{name}: {value}" for name, value in headers)
    if body:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


# --- Transport (RFC 2326 12.39) -----------------------------------------------------------------


class TransportError(ProtocolError):
    """A Transport header the server cannot use (answered with 461)."""


@dataclass(frozen=True, slots=True)
class TransportSpec:
    """The one transport chosen from a SETUP's Transport header."""

    lower: str
    """``tcp`` (interleaved in the RTSP connection) or ``udp`` (unicast to client ports)."""
    interleaved: tuple[int, int] | None = None
    client_port: tuple[int, int] | None = None

    def reply(self, server_port: tuple[int, int] | None = None, ssrc: int | None = None) -> str:
        """The Transport header value of the SETUP response."""
        tail = f";ssrc={ssrc:08X}" if ssrc is not None else ""
        if self.lower == "tcp":
            assert self.interleaved is not None
            rtp, rtcp = self.interleaved
            return f"RTP/AVP/TCP;unicast;interleaved={rtp}-{rtcp}{tail}"
        assert self.client_port is not None and server_port is not None
        return (f"RTP/AVP;unicast;client_port={self.client_port[0]}-{self.client_port[1]};"
                f"server_port={server_port[0]}-{server_port[1]}{tail}")


def _pair(value: str, what: str, low: int, high: int) -> tuple[int, int]:
    first, dash, second = value.partition("-")
    if not first.strip().isdigit() or (dash and not second.strip().isdigit()):
        raise TransportError(f"{what}={value!r} is not a number or a range a-b")
    a = int(first)
    b = int(second) if dash else a + 1
    if not (low <= a <= high and low <= b <= high):
        raise TransportError(f"{what}={value!r} is outside {low}..{high}")
    return a, b


def _one_transport(spec: str) -> TransportSpec:
    parts = [p.strip() for p in spec.split(";") if p.strip()]
    if not parts:
        raise TransportError("empty transport")
    proto = parts[0].upper()
    if proto in ("RTP/AVP/TCP",):
        lower = "tcp"
    elif proto in ("RTP/AVP", "RTP/AVP/UDP"):
        lower = "udp"
    else:
        raise TransportError(f"transport {parts[0]!r} is not RTP/AVP, RTP/AVP/UDP or RTP/AVP/TCP")
    params: dict[str, str] = {}
    for part in parts[1:]:
        key, _, value = part.partition("=")
        params[key.strip().lower()] = value.strip()
    if "multicast" in params:
        raise TransportError("multicast is not supported")
    mode = params.get("mode", "play").strip('"').lower()
    if mode != "play":
        raise TransportError(f"mode={mode} is not supported (play only)")
    if lower == "tcp":
        inter = params.get("interleaved")
        channels = _pair(inter, "interleaved", 0, 255) if inter else (0, 1)
        return TransportSpec("tcp", interleaved=channels)
    if "client_port" not in params:
        raise TransportError("UDP transport without client_port")
    ports = _pair(params["client_port"], "client_port", 1, 65535)
    return TransportSpec("udp", client_port=ports)


def parse_transport(header: str | None) -> TransportSpec:
    """The first usable alternative of a Transport header (comma-separated, in client order)."""
    if header is None or not header.strip():
        raise TransportError("SETUP without a Transport header")
    problems = []
    for alternative in header.split(","):
        try:
            return _one_transport(alternative)
        except TransportError as err:
            problems.append(str(err))
    raise TransportError("; ".join(problems))


def session_id(header: str | None) -> str | None:
    """The id of a ``Session: id[;timeout=n]`` header."""
    if header is None:
        return None
    ident = header.split(";", 1)[0].strip()
    return ident or None


# --- camera URLs ----------------------------------------------------------------------------

CAMERA_PREFIX = "/cams/"
TRACK_CONTROL = "trackID=0"


@dataclass(frozen=True, slots=True)
class CameraPath:
    camera_id: str
    track: str | None
    """None for the aggregate (the camera URL itself), else the control name after it."""


def parse_camera_uri(uri: str) -> CameraPath | None:
    """``rtsp://host:port/cams/ID[/trackID=0][?query]`` (or just the path) -> camera and track."""
    try:
        path = urlsplit(uri).path if "://" in uri else uri.split("?", 1)[0]
    except ValueError:
        return None
    if not path.startswith(CAMERA_PREFIX):
        return None
    rest = path[len(CAMERA_PREFIX):].rstrip("/")
    camera, _, track = rest.partition("/")
    camera = unquote(camera)
    if not camera:
        return None
    return CameraPath(camera, track or None)
