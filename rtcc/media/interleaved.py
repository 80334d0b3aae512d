"""RTSP over TCP framing (RFC 2326 10.12 / RFC 7826 14): interleaved binary frames mixed with
RTSP text messages on one byte stream.

An interleaved frame is ``$``, a one-byte channel, a 16-bit big-endian length and the payload (an
RTP or RTCP packet).  Anything starting with a capital letter is an RTSP request or response,
read up to the blank line plus Content-Length bytes of body.  The reader only frames; parsing the
RTSP message is the caller's job.
"""

from __future__ import annotations

import contextlib
import re
from typing import TYPE_CHECKING

from rtcc.compiled import NO_EXTENSIONS
from rtcc.errors import MediaError

if TYPE_CHECKING:
    from rtcc.media.rtp import H264Depacketizer, ReceivedAccessUnit

#: Channel value that :meth:`InterleavedReader.feed` reports for an RTSP text message.
RTSP_MESSAGE = -1

_CONTENT_LENGTH = re.compile(rb"^content-length[ \t]*:[ \t]*([^\r\n]*)", re.I | re.M)


def frame_interleaved(channel: int, payload: bytes) -> bytes:
    """``$`` + channel + 16-bit length + payload."""
    if not 0 <= channel <= 255:
        raise MediaError(f"interleaved channel {channel} out of range 0..255")
    if len(payload) > 0xFFFF:
        raise MediaError(f"interleaved payload of {len(payload)} bytes exceeds 65535")
    return b"$" + bytes((channel,)) + len(payload).to_bytes(2, "big") + payload


class InterleavedReader:
    """Incremental splitter of an RTSP TCP byte stream.

    ``feed(chunk)`` returns the complete items found so far as ``(channel, payload)`` pairs;
    RTSP messages come back as ``(RTSP_MESSAGE, header_and_body_bytes)``.  Bytes of an unfinished
    item stay buffered.  Bytes that can start neither raise MediaError; the stream has then lost
    its framing, the buffer is discarded and the caller should close the connection.
    """

    __slots__ = ("_buf", "max_header", "max_body")

    def __init__(self, max_header: int = 16384, max_body: int = 1 << 20) -> None:
        self._buf = b""
        self.max_header = max_header
        self.max_body = max_body

    @property
    def buffered(self) -> int:
        """Bytes received but not yet returned (an incomplete frame or message)."""
        return len(self._buf)

    def feed(self, data: bytes | bytearray | memoryview) -> list[tuple[int, bytes]]:
        out, error = self._split(data)
        if error is not None:
            raise error
        return out

    def _split(self, data: bytes | bytearray | memoryview
               ) -> tuple[list[tuple[int, bytes]], MediaError | None]:
        """The items complete so far, and the error that stopped the stream, if one did (the
        items before it are still returned: :meth:`feed_into` depacketizes them)."""
        buf = self._buf + bytes(data) if self._buf else bytes(data)
        out: list[tuple[int, bytes]] = []
        pos = 0
        n = len(buf)
        try:
            while pos < n:
                first = buf[pos]
                if first == 0x24:  # '$'
                    if n - pos < 4:
                        break
                    end = pos + 4 + ((buf[pos + 2] << 8) | buf[pos + 3])
                    if end > n:
                        break
                    out.append((buf[pos + 1], buf[pos + 4 : end]))
                    pos = end
                elif 0x41 <= first <= 0x5A:  # 'A'..'Z': RTSP request line or status line
                    end = self._message_end(buf, pos)
                    if end < 0 or end > n:
                        break
                    out.append((RTSP_MESSAGE, buf[pos:end]))
                    pos = end
                elif first in (0x0D, 0x0A):  # stray CRLF between messages (keep-alives)
                    pos += 1
                else:
                    raise MediaError(
                        f"RTSP/TCP stream out of sync at byte 0x{first:02x}: "
                        "expected '$' (interleaved frame) or an RTSP message"
                    )
        except MediaError as err:
            self._buf = b""
            return out, err
        self._buf = buf[pos:]
        return out, None

    def _message_end(self, buf: bytes, pos: int) -> int:
        """End offset of the RTSP message at ``pos``; -1 while its header is incomplete."""
        head_end = buf.find(b"\r\n\r\n", pos, pos + self.max_header + 4)
        sep = 4
        if head_end < 0:
            # Tolerate bare-LF peers.
            head_end = buf.find(b"\n\n", pos, pos + self.max_header + 2)
            sep = 2
        if head_end < 0:
            if len(buf) - pos > self.max_header:
                raise MediaError(f"RTSP message header exceeds {self.max_header} bytes")
            return -1
        return head_end + sep + message_body_length(buf[pos:head_end], self.max_body)

    def feed_into(self, data: bytes | bytearray | memoryview, rtp_channel: int,
                  depacketizer: H264Depacketizer) -> list[ReceivedAccessUnit | tuple[int, bytes]]:
        """:meth:`feed`, with the RTP packets of ``rtp_channel`` given to ``depacketizer``
        (``feed_many``): the access units they complete and the other ``(channel, payload)``
        items, in the order they completed. What the RTSP client calls for every TCP read.
        When the stream is out of sync the packets before the bad byte are still depacketized
        (the depacketizer's counters include them), then MediaError is raised."""
        items, error = self._split(data)
        out: list[ReceivedAccessUnit | tuple[int, bytes]] = []
        rtp: list[bytes] = []
        for channel, payload in items:
            if channel == rtp_channel:
                rtp.append(payload)
                continue
            if rtp:
                out += depacketizer.feed_many(rtp)
                rtp = []
            out.append((channel, payload))
        if rtp:
            out += depacketizer.feed_many(rtp)
        if error is not None:  # what came before the error was taken, and is lost with it
            raise error
        return out


def message_body_length(header: bytes, max_body: int) -> int:
    """The body length an RTSP message header announces (Content-Length; 0 without one)."""
    match = _CONTENT_LENGTH.search(header)
    if not match:
        return 0
    value = match.group(1).strip()
    if not value.isdigit():
        raise MediaError(f"RTSP Content-Length {value[:40]!r} is not a number")
    body = int(value)
    if body > max_body:
        raise MediaError(f"RTSP body of {body} bytes exceeds {max_body}")
    return body


InterleavedReaderPy = InterleavedReader
"""The pure-Python reader: the reference for the compiled one, and its fallback."""
if not NO_EXTENSIONS:
    with contextlib.suppress(ImportError):  # not built: the pure-Python reader stands in
        from rtcc.media._rtp_c import InterleavedReader  # type: ignore[assignment,no-redef]
