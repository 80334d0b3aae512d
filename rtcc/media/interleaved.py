"""RTSP over TCP framing (RFC 2326 10.12 / RFC 7826 14): interleaved binary frames mixed with
RTSP text messages on one byte stream.

An interleaved frame is ``$``, a one-byte channel, a 16-bit big-endian length and the payload (an
RTP or RTCP packet).  Anything starting with a capital letter is an RTSP request or response,
read up to the blank line plus Content-Length bytes of body.  The reader only frames; parsing the
RTSP message is the caller's job.
"""

from __future__ import annotations

import re

from rtcc.errors import MediaError

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
        except MediaError:
            self._buf = b""
            raise
        self._buf = buf[pos:]
        return out

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
        header = buf[pos:head_end]
        body = 0
        match = _CONTENT_LENGTH.search(header)
        if match:
            value = match.group(1).strip()
            if not value.isdigit():
                raise MediaError(f"RTSP Content-Length {value[:40]!r} is not a number")
            body = int(value)
            if body > self.max_body:
                raise MediaError(f"RTSP body of {body} bytes exceeds {self.max_body}")
        return head_end + sep + body
