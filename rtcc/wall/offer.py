"""A WHEP offer read and checked before anything else happens: no audit entry, no peer
connection, no camera lookup for an offer that cannot be answered.

aiortc's SDP parser trusts its input (a truncated ``m=`` or ``a=rtcp-fb`` line raises
``AssertionError``, ``IndexError``, ``KeyError``...), so an offer is first read by rtcc's own
strict parser (:func:`rtcc.media.sdp.parse_sdp`, whose errors name the line), then by aiortc's
inside a guard, then checked for what aiortc's ``setRemoteDescription`` asserts (ICE credentials,
RTCP multiplexing, a DTLS fingerprint) and for the one codec the wall sends (H.264). Each failure
is an :class:`~rtcc.errors.InvalidInput` on the field ``sdp`` (HTTP 400), or
:class:`~rtcc.errors.NotAcceptable` (406) for a well-formed offer without H.264.
"""

from __future__ import annotations

from aiohttp import web
from aiortc import sdp as aiortc_sdp

from rtcc.errors import InvalidInput, MediaError, NotAcceptable
from rtcc.media.sdp import parse_sdp
from rtcc.web.bodies import read_limited

MAX_OFFER_BYTES = 64 * 1024
FIELD = "sdp"


async def read_offer(request: web.Request, limit: int = MAX_OFFER_BYTES) -> str:
    """The body as text, refused (413) as soon as it passes ``limit`` bytes, whether the client
    sent a Content-Length or a chunked body."""
    raw = await read_limited(request, limit, "offer", FIELD)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput("malformed SDP offer: not UTF-8 text", FIELD) from None


def check_offer(text: str) -> None:
    """Raise InvalidInput (400) or NotAcceptable (406) unless ``text`` is an offer the wall can
    answer."""
    try:
        ours = parse_sdp(text)
    except MediaError as err:
        raise InvalidInput(f"malformed SDP offer: {err}", FIELD) from None
    try:
        theirs = aiortc_sdp.SessionDescription.parse(text)
    except Exception as err:  # aiortc's parser signals bad input with any exception
        raise InvalidInput(f"malformed SDP offer: {type(err).__name__} {err}".strip(),
                           FIELD) from None
    if not any(m.kind == "video" for m in ours.media):
        raise InvalidInput("malformed SDP offer: it has no video section", FIELD)
    for index, media in enumerate(theirs.media):
        where = f"media section {index + 1} ({media.kind})"
        ice = media.ice
        if ice is None or not ice.usernameFragment or not ice.password:
            raise InvalidInput(f"malformed SDP offer: {where} has no a=ice-ufrag/a=ice-pwd",
                               FIELD)
        if media.kind in ("audio", "video") and not media.rtcp_mux:
            raise InvalidInput(f"malformed SDP offer: {where} has no a=rtcp-mux", FIELD)
        if media.dtls is None or not media.dtls.fingerprints:
            raise InvalidInput(f"malformed SDP offer: {where} has no a=fingerprint", FIELD)
    if not any(m.payload_type_for("H264") is not None for m in ours.media if m.kind == "video"):
        raise NotAcceptable("this endpoint sends H.264 only; the offer has no H264 codec", FIELD)
