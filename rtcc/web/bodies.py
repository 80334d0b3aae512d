"""Request bodies read with a limit, whatever the framing: a ``Content-Length`` over the limit is
refused before anything is read, and a chunked body (no length) is refused as soon as what has
arrived passes it, so no client can make a handler buffer more than ``limit`` bytes."""

from __future__ import annotations

from aiohttp import web

from rtcc.errors import PayloadTooLarge

_CHUNK = 16384


async def read_limited(request: web.Request, limit: int, what: str = "body",
                       field: str | None = None) -> bytes:
    """The whole body, at most ``limit`` bytes; PayloadTooLarge (413) naming ``what`` else."""
    if request.content_length is not None and request.content_length > limit:
        raise PayloadTooLarge(f"{what} larger than {limit} bytes", field)
    chunks, size = [], 0
    while chunk := await request.content.read(_CHUNK):
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"{what} larger than {limit} bytes", field)
        chunks.append(chunk)
    return b"".join(chunks)
