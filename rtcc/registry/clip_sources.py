"""Clip sources beyond the hub's live buffer: a camera's local store over HTTP, and the chain.

:class:`HttpClipSource` asks a camera's local store (``rtcc sim`` serves one for its simulated
cameras: ``GET /cams/{id}/clip?start=UNIX&end=UNIX``, see ``simulators/clip_http.py``) for the
recording of a window. Whatever goes wrong (refused, timed out, an error status, a wrong content
type, more than ``max_bytes``) comes back as None with one log line, the URL's credentials
redacted and the token never shown: an approval then records ``evidence.missing`` rather than
failing.

:func:`build_clip_source` is what the registry API uses: with ``RTCC_CLIP_STORE_URL`` set, the
hub's live channel for windows that lie inside its live buffer, else (and when the live channel
has nothing) the local store; without it, the live channel alone, as before.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from urllib.parse import quote, urlencode

import aiohttp
import redis.asyncio as aredis

from rtcc.config import Settings
from rtcc.logs import redact_credentials, redact_url
from rtcc.registry.evidence import ChainClipSource, ClipSource, LiveChannelClipSource

log = logging.getLogger(__name__)

CLIP_TYPE = "video/h264"


class _Refused(Exception):
    """The store's answer is not a clip (the message says why)."""


class HttpClipSource:
    """Clips from an HTTP endpoint; ``{camera}`` in ``url_template`` is replaced by the id."""

    def __init__(self, url_template: str, *, token: str | None = None, timeout: float = 120.0,
                 max_bytes: int = 256 * 1024**2) -> None:
        if "{camera}" not in url_template:
            raise ValueError("url_template must contain {camera}")
        self.url_template = url_template
        self._token = token or None
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.failures = 0

    def __repr__(self) -> str:
        return f"HttpClipSource({redact_url(self.url_template)!r})"

    def url(self, camera_id: str, start: float, end: float) -> str:
        base = self.url_template.replace("{camera}", quote(camera_id, safe=""))
        # repr: the shortest text that reads back as the same float (no rounding of the window).
        query = urlencode({"start": repr(float(start)), "end": repr(float(end))})
        return f"{base}{'&' if '?' in base else '?'}{query}"

    async def fetch(self, camera_id: str, start: float, end: float) -> bytes | None:
        url = self.url(camera_id, start, end)
        shown = redact_url(url)
        headers = {"Accept": CLIP_TYPE}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        # One session per fetch: approvals are rare, and nothing outlives the call.
        try:
            async with aiohttp.ClientSession(
                    timeout=aiohttp.ClientTimeout(total=self.timeout)) as session, \
                    session.get(url, headers=headers, allow_redirects=False) as resp:
                if resp.status == 204:
                    log.info("clip store: %s recorded nothing in %s", camera_id, shown)
                    return None
                if resp.status != 200:
                    detail = (await resp.content.read(300)).decode("utf-8", "replace")
                    raise _Refused(f"{shown}: HTTP {resp.status}: {detail.strip()}")
                if resp.content_type != CLIP_TYPE:
                    raise _Refused(f"{shown}: content type {resp.content_type!r}, "
                                   f"expected {CLIP_TYPE}")
                if resp.content_length is not None and resp.content_length > self.max_bytes:
                    raise _Refused(f"{shown}: {resp.content_length} bytes, over the cap "
                                   f"of {self.max_bytes}")
                parts: list[bytes] = []
                size = 0
                async for chunk in resp.content.iter_chunked(256 * 1024):
                    size += len(chunk)
                    if size > self.max_bytes:
                        raise _Refused(f"{shown}: over the cap of {self.max_bytes} bytes")
                    parts.append(chunk)
        except _Refused as err:
            self._fail(str(err))
            return None
        except TimeoutError:
            self._fail(f"{shown}: no answer within {self.timeout:g}s")
            return None
        except aiohttp.ClientError as err:
            self._fail(f"{shown}: {type(err).__name__}: {err}")
            return None
        data = b"".join(parts)
        log.info("clip store: %d bytes of %s (%s frames)", len(data), camera_id,
                 resp.headers.get("X-Clip-Frames", "?"))
        return data or None

    def _fail(self, message: str) -> None:
        self.failures += 1
        text = redact_credentials(message)
        if self._token:
            text = text.replace(self._token, "***")
        log.warning("clip store: %s", text)


class RecentClipSource:
    """Asks ``source`` only for windows that start within the last ``seconds`` (the hub's live
    buffer): an older window would get just the buffer's tail, cutting the clip short."""

    def __init__(self, source: ClipSource, seconds: float,
                 clock: Callable[[], float] = time.time) -> None:
        self.source = source
        self.seconds = seconds
        self._clock = clock

    async def fetch(self, camera_id: str, start: float, end: float) -> bytes | None:
        if start < self._clock() - self.seconds:
            return None
        return await self.source.fetch(camera_id, start, end)


def build_clip_source(settings: Settings, live: aredis.Redis) -> ClipSource:
    """The registry's clip source for these settings (see the module docstring)."""
    channel = LiveChannelClipSource(live)
    if not settings.clip_store_url:
        return channel
    store = HttpClipSource(settings.clip_store_url, token=settings.clip_store_token or None)
    log.info("footage requests: live buffer, then %r", store)
    return ChainClipSource([RecentClipSource(channel, settings.live_window), store])
