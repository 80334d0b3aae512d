"""``GET /cams/{id}/clip?start=UNIX&end=UNIX``: a simulated camera's recordings over HTTP.

Served by ``rtcc sim`` on its metrics server (127.0.0.1), so a registry configured with
``RTCC_CLIP_STORE_URL=http://127.0.0.1:PORT/cams/{camera}/clip`` can collect approved footage
that is older than the hub's live buffer. Answers:

* 200 ``video/h264`` (Annex-B, see :mod:`simulators.local_store`) with headers
  ``X-Clip-Frames``, ``X-Clip-Events``, ``X-Clip-Fps``, ``X-Clip-First-Us`` / ``X-Clip-Last-Us``
  (capture times of the first and last frame), ``X-Clip-Window`` (the window searched, clipped
  to the retention and to now: ``start-end`` unix seconds), ``X-Clip-Cap``
  (``frames=N; bytes=M``: the most one clip holds) and ``X-Clip-Truncated`` (``1`` when the cap
  cut the clip short);
* 204 when the camera recorded nothing in the window (same headers, ``X-Clip-Frames: 0``);
* 400 JSON ``{"error", "field"}`` for bad parameters (missing or not numbers, end <= start,
  window over 12 h, outside the retention, in the future);
* 401 without the bearer token, when one is set (``rtcc sim --clip-token``);
* 404 JSON for an unknown camera.

Recording runs on a worker thread (``asyncio.to_thread``), at most ``concurrency`` at a time so
that clip requests cannot starve the live cameras' capture threads.
"""

from __future__ import annotations

import asyncio
import hmac
import math
import time
from collections.abc import Callable

from aiohttp import web

from rtcc.errors import InvalidInput, NotFound
from simulators.local_store import Clip, LocalStore

PATH = "/cams/{camera}/clip"


def _error(status: int, message: str, field: str | None = None,
           headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response({"error": message, "field": field}, status=status,
                             headers=headers)


def _number(request: web.Request, name: str) -> float:
    raw = request.query.get(name)
    if raw is None or not raw.strip():
        raise InvalidInput(f"{name}: required (unix seconds)", name)
    try:
        value = float(raw)
    except ValueError:
        raise InvalidInput(f"{name}: expected unix seconds, got {raw[:40]!r}", name) from None
    if not math.isfinite(value):
        raise InvalidInput(f"{name}: expected a finite number, got {raw[:40]!r}", name)
    return value


class ClipEndpoint:
    """The route above for one :class:`LocalStore`; add :meth:`routes` to an aiohttp app."""

    def __init__(self, store: LocalStore, *, token: str | None = None, concurrency: int = 2,
                 clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self._token = token.encode() if token else None
        self._slots = asyncio.Semaphore(max(1, concurrency))
        self._clock = clock
        self.served = 0
        self.refused = 0

    def routes(self) -> list[web.RouteDef]:
        return [web.get(PATH, self.handle)]

    def _authorised(self, request: web.Request) -> bool:
        if self._token is None:
            return True
        scheme, _, value = request.headers.get("Authorization", "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(value.strip().encode(),
                                                                  self._token)

    async def handle(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            self.refused += 1
            return _error(401, "missing or wrong bearer token", None,
                          {"WWW-Authenticate": 'Bearer realm="rtcc-sim"'})
        camera = request.match_info["camera"]
        try:
            start, end = _number(request, "start"), _number(request, "end")
            # Checked on the loop first: a bad request costs no thread.
            self.store.check(camera, start, end, self._clock())
            async with self._slots:
                clip = await asyncio.to_thread(self.store.record, camera, start, end,
                                               now=self._clock())
        except NotFound as err:
            return _error(404, str(err), "camera")
        except InvalidInput as err:
            return _error(400, str(err), err.field)
        self.served += 1
        headers = self._headers(clip)
        if not clip.frames:
            return web.Response(status=204, headers=headers)
        return web.Response(body=clip.data, content_type="video/h264", headers=headers)

    def _headers(self, clip: Clip) -> dict[str, str]:
        policy = self.store.policy
        headers = {
            "X-Clip-Frames": str(clip.frames),
            "X-Clip-Events": str(clip.events),
            "X-Clip-Fps": f"{policy.fps:g}",
            "X-Clip-Window": f"{clip.start:.6f}-{clip.end:.6f}",
            "X-Clip-Cap": f"frames={policy.max_frames}; bytes={policy.max_bytes}",
            "X-Clip-Truncated": "1" if clip.truncated else "0",
            "Cache-Control": "no-store",
        }
        if clip.first_us is not None and clip.last_us is not None:
            headers["X-Clip-First-Us"] = str(clip.first_us)
            headers["X-Clip-Last-Us"] = str(clip.last_us)
        return headers
