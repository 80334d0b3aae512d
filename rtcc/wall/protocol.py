"""The wall's WebSocket protocol: one binary layout for access units, small JSON control messages.

One WebSocket per browser page multiplexes every tile of that page. Video travels as binary
messages, each one access unit behind a fixed 20-byte header (network byte order)::

    offset size  field
    0      1     kind      1 = access unit (other values are reserved; clients ignore them)
    1      1     flags     bit 0: keyframe (the AU holds an IDR, with SPS/PPS before it)
    2      2     camera    the camera's index, announced in the ``sub`` reply
    4      4     seq       the camera's frame sequence number (mod 2**32)
    8      8     t         capture time, unix microseconds (the SEI ``t``)
    16     2     exposed   non-consenting people in view in this frame (see rtcc.wall.exposure)
    18     2     people    people in view in this frame (masked ones excluded)
    20     ...   payload   the access unit, Annex-B, exactly as the hub stored it

The camera index is global to the wall process (not per page), so one message is built once per
frame and the very same ``bytes`` object goes to every viewer: fan-out costs no copy per viewer.

Control messages are JSON text, ``{"op": ...}``. Client to server: ``auth`` (first message),
``sub``/``unsub`` per camera, ``ping``. Server to client: ``hello``, ``sub``, ``unsub``, ``state``,
``error``, ``pong``. :func:`parse_client_message` validates what a client sends and raises
:class:`~rtcc.errors.ProtocolError` naming the field that is wrong.
"""

from __future__ import annotations

import json
import re
import struct
from dataclasses import dataclass
from typing import Any

from rtcc.errors import ProtocolError

KIND_ACCESS_UNIT = 1
FLAG_KEYFRAME = 0x01

HEADER = struct.Struct("!BBHIQHH")
HEADER_SIZE = HEADER.size  # 20

MAX_CLIENT_MESSAGE = 4096
"""Bytes; a control message is a few dozen bytes, anything bigger is abuse."""

_CAMERA_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")
_OPS = ("auth", "sub", "unsub", "ping")


@dataclass(frozen=True, slots=True)
class FrameHeader:
    camera: int
    seq: int
    t: int
    key: bool
    exposed: int = 0
    people: int = 0


def pack_frame(header: FrameHeader, payload: bytes) -> bytes:
    """The binary message of one access unit (header + payload in one ``bytes``)."""
    return HEADER.pack(
        KIND_ACCESS_UNIT,
        FLAG_KEYFRAME if header.key else 0,
        header.camera,
        header.seq & 0xFFFFFFFF,
        max(0, header.t),
        min(header.exposed, 0xFFFF),
        min(header.people, 0xFFFF),
    ) + payload


def unpack_frame(message: bytes) -> tuple[FrameHeader, bytes]:
    """Inverse of :func:`pack_frame` (used by tests and the benchmark's headless client)."""
    if len(message) < HEADER_SIZE:
        raise ProtocolError(f"frame message of {len(message)} bytes is shorter than the header")
    kind, flags, camera, seq, t, exposed, people = HEADER.unpack_from(message)
    if kind != KIND_ACCESS_UNIT:
        raise ProtocolError(f"unknown frame kind {kind}")
    return FrameHeader(camera, seq, t, bool(flags & FLAG_KEYFRAME), exposed, people), bytes(
        message[HEADER_SIZE:]
    )


@dataclass(frozen=True, slots=True)
class ClientMessage:
    op: str
    cam: str | None = None
    token: str | None = None


def valid_camera_id(value: object) -> bool:
    return isinstance(value, str) and bool(_CAMERA_ID.match(value))


def parse_client_message(text: str) -> ClientMessage:
    """Validate one control message from a browser; ProtocolError names what is wrong."""
    if len(text) > MAX_CLIENT_MESSAGE:
        raise ProtocolError(f"message of {len(text)} bytes exceeds {MAX_CLIENT_MESSAGE}")
    try:
        doc = json.loads(text)
    except ValueError as err:
        raise ProtocolError(f"message is not JSON: {err}") from err
    if not isinstance(doc, dict):
        raise ProtocolError("message must be a JSON object")
    op = doc.get("op")
    if op not in _OPS:
        raise ProtocolError(f"field 'op': expected one of {', '.join(_OPS)}, got {op!r}")
    if op == "auth":
        token = doc.get("token")
        if not isinstance(token, str) or not token or len(token) > 512:
            raise ProtocolError("field 'token': expected a non-empty string")
        return ClientMessage(op, token=token)
    if op in ("sub", "unsub"):
        cam = doc.get("cam")
        if not valid_camera_id(cam):
            raise ProtocolError(f"field 'cam': expected a camera id, got {cam!r}")
        return ClientMessage(op, cam=cam)
    return ClientMessage(op)


def control(op: str, **fields: Any) -> str:
    """A server-to-client control message as compact JSON text."""
    return json.dumps({"op": op, **fields}, separators=(",", ":"))
