"""RTSP/1.0 messages as a client sees them (RFC 2326): requests out, responses (and the odd
server request) in, plus the ``Transport`` and ``Session`` headers. Pure: no I/O here.
"""

from __future__ import annotations

from dataclasses import dataclass

from rtcc.errors import ProtocolError

VERSION = "RTSP/1.0"


@dataclass(frozen=True, slots=True)
class RtspMessage:
    """A parsed response (``status`` > 0) or request (``method`` set) with its body."""

    headers: tuple[tuple[str, str], ...]
    body: bytes = b""
    status: int = 0
    reason: str = ""
    method: str = ""
    uri: str = ""

    @property
    def is_response(self) -> bool:
        return self.status > 0

    def header(self, name: str) -> str | None:
        low = name.lower()
        for key, value in self.headers:
            if key.lower() == low:
                return value
        return None

    def headers_all(self, name: str) -> list[str]:
        low = name.lower()
        return [value for key, value in self.headers if key.lower() == low]

    @property
    def cseq(self) -> int | None:
        raw = self.header("CSeq")
        try:
            return int(raw.strip()) if raw is not None else None
        except ValueError:
            return None


def parse_message(data: bytes) -> RtspMessage:
    """Parse one complete message as framed by ``InterleavedReader`` (header + body)."""
    head, sep, body = data.partition(b"\r\n\r\n")
    if not sep:
        head, _, body = data.partition(b"\n\n")
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        text = head.decode("latin-1")
    lines = text.replace("\r\n", "\n").split("\n")
    first = lines[0].strip()
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        if not line.strip():
            continue
        if line[0] in " \t" and headers:  # obsolete line folding
            name, value = headers[-1]
            headers[-1] = (name, f"{value} {line.strip()}")
            continue
        name, colon, value = line.partition(":")
        if not colon:
            raise ProtocolError(f"malformed RTSP header line {line[:60]!r}")
        headers.append((name.strip(), value.strip()))
    parts = first.split(" ", 2)
    if first.startswith("RTSP/"):
        if len(parts) < 2 or not parts[1].isdigit():
            raise ProtocolError(f"malformed RTSP status line {first[:80]!r}")
        return RtspMessage(tuple(headers), body, status=int(parts[1]),
                           reason=parts[2] if len(parts) > 2 else "")
    if len(parts) != 3 or not parts[2].startswith("RTSP/"):
        raise ProtocolError(f"malformed RTSP request line {first[:80]!r}")
    return RtspMessage(tuple(headers), body, method=parts[0], uri=parts[1])


def build_request(method: str, uri: str, cseq: int, headers: dict[str, str],
                  body: bytes = b"") -> bytes:
    lines = [f"{method} {uri} {VERSION}", f"CSeq: {cseq}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    if body:
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def build_response(status: int, reason: str, cseq: int | None,
                   headers: dict[str, str] | None = None) -> bytes:
    lines = [f"{VERSION} {status} {reason}"]
    if cseq is not None:
        lines.append(f"CSeq: {cseq}")
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


@dataclass(frozen=True, slots=True)
class SessionHeader:
    id: str
    timeout: float = 60.0


def parse_session(value: str) -> SessionHeader:
    """``Session: 12345678;timeout=60`` (the timeout defaults to 60 s, RFC 2326 12.37)."""
    parts = [p.strip() for p in value.split(";")]
    if not parts[0]:
        raise ProtocolError(f"empty Session header {value!r}")
    timeout = 60.0
    for p in parts[1:]:
        key, _, raw = p.partition("=")
        if key.strip().lower() == "timeout":
            try:
                timeout = float(raw)
            except ValueError:
                raise ProtocolError(f"Session header timeout {raw!r} is not a number") from None
            if timeout <= 0:
                timeout = 60.0
    return SessionHeader(parts[0], timeout)


def _pair(raw: str, name: str) -> tuple[int, int]:
    a, _, b = raw.partition("-")
    try:
        first = int(a)
        second = int(b) if b else first + 1
    except ValueError:
        raise ProtocolError(f"Transport {name}={raw!r} is not a number pair") from None
    return first, second


@dataclass(frozen=True, slots=True)
class TransportReply:
    """What the server chose in its SETUP response's ``Transport`` header."""

    tcp: bool
    interleaved: tuple[int, int] | None = None
    server_port: tuple[int, int] | None = None
    source: str | None = None
    ssrc: int | None = None


def parse_transport(value: str) -> TransportReply:
    spec = value.split(",")[0]  # a server answers with one spec; be lenient about more
    parts = [p.strip() for p in spec.split(";") if p.strip()]
    if not parts:
        raise ProtocolError("empty Transport header in SETUP response")
    profile = parts[0].upper()
    tcp = profile.endswith("/TCP")
    interleaved = server_port = None
    source = None
    ssrc = None
    for p in parts[1:]:
        key, _, raw = p.partition("=")
        key = key.strip().lower()
        if key == "interleaved":
            interleaved = _pair(raw, key)
        elif key == "server_port":
            server_port = _pair(raw, key)
        elif key == "source":
            source = raw.strip()
        elif key == "ssrc":
            try:
                ssrc = int(raw, 16)
            except ValueError:
                ssrc = None
    if tcp and interleaved is None:
        interleaved = (0, 1)
    return TransportReply(tcp, interleaved, server_port, source, ssrc)
