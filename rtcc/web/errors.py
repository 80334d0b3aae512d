"""One error path for every HTTP route of ``rtcc serve``: handlers raise the project's errors
(:mod:`rtcc.errors`), and :func:`error_middleware` turns each into JSON ``{"error": message,
"field": name or null}`` with its status code and the headers its protocol asks for.

| error | status | header |
|---|---|---|
| ``PayloadTooLarge`` | 413 | |
| ``UnsupportedMediaType`` | 415 | |
| ``NotAcceptable`` | 406 | |
| ``InvalidInput`` | 400 | |
| ``RateLimited`` | 429 | ``Retry-After`` |
| ``Forbidden`` | 403 | |
| ``AuthError`` | 401 | ``WWW-Authenticate: Bearer realm="rtcc"`` (or the error's realm) |
| ``NotFound`` | 404 | |
| ``MethodNotAllowed`` | 405 | ``Allow`` |
| ``Conflict`` | 409 | |
| ``Busy`` | 503 | ``Retry-After`` |
| ``RedisError``, ``RedisUnavailable`` | 503 | |
| any other ``RtccError`` | 500 | (logged) |
| aiohttp's ``HTTPException`` >= 400 | its own | ``Allow`` kept |

Anything else is a bug: aiohttp logs it with its traceback and answers a bare 500 (never the
traceback).

The first matching row wins, so subclasses come before their bases.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from aiohttp import web
from redis.exceptions import RedisError

from rtcc.errors import (
    AuthError,
    Busy,
    Conflict,
    Forbidden,
    InvalidInput,
    MethodNotAllowed,
    NotAcceptable,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    RedisUnavailable,
    RtccError,
    UnsupportedMediaType,
)

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

STATUS: tuple[tuple[type[RtccError], int], ...] = (
    (PayloadTooLarge, 413),
    (UnsupportedMediaType, 415),
    (NotAcceptable, 406),
    (InvalidInput, 400),
    (RateLimited, 429),
    (Forbidden, 403),
    (AuthError, 401),
    (NotFound, 404),
    (MethodNotAllowed, 405),
    (Conflict, 409),
    (Busy, 503),
    (RedisUnavailable, 503),
)
"""Status of each error class, most specific first."""

UNAVAILABLE = "the service's Redis is unavailable; try again"


def error_json(status: int, message: str, field: str | None = None,
               headers: dict[str, str] | None = None) -> web.Response:
    """The one shape of every error body."""
    return web.json_response({"error": message, "field": field}, status=status,
                             headers=headers)


def status_of(err: RtccError) -> int:
    return next((status for cls, status in STATUS if isinstance(err, cls)), 500)


def _headers(err: RtccError) -> dict[str, str] | None:
    if isinstance(err, RateLimited | Busy):
        return {"Retry-After": str(err.retry_after)}
    if isinstance(err, AuthError) and not isinstance(err, Forbidden):
        return {"WWW-Authenticate": f'Bearer realm="{err.realm}"'}
    if isinstance(err, MethodNotAllowed):
        return {"Allow": err.allow}
    return None


def response_for(err: RtccError, request: web.Request) -> web.Response:
    """The JSON response for one of our errors (also for handlers that answer an error
    without raising, such as a WebSocket refused before its upgrade)."""
    status = status_of(err)
    if status == 500:
        log.error("%s %s: %s", request.method, request.path, err)
    message = UNAVAILABLE if isinstance(err, RedisUnavailable) else str(err)
    return error_json(status, message, err.field, _headers(err))


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except RtccError as err:
        return response_for(err, request)
    except RedisError as err:
        log.error("%s %s: Redis unavailable: %s", request.method, request.path, err)
        return error_json(503, UNAVAILABLE)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return error_json(exc.status, exc.reason.lower() if exc.reason else "error", None,
                          {k: v for k, v in exc.headers.items() if k == "Allow"})


def setup(app: web.Application) -> None:
    """Install the middleware outermost, so it also sees what other middlewares raise.
    Idempotent: every component calls it from its own ``setup``."""
    if error_middleware not in app.middlewares:
        app.middlewares.insert(0, error_middleware)
