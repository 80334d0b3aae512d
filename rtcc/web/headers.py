"""Security headers on every response of ``rtcc serve``: pages, static modules, JSON, errors and
WebSocket upgrades alike.

The wall page is plain ES modules served from its own origin, so its policy can be strict: only
its own scripts, styles, workers and connections (``fetch``, the WebSocket and WHEP all go to the
page's origin), ``blob:`` media for the MSE fallback (a ``MediaSource`` object URL), ``data:``
for the empty favicon, and nothing may frame it. The headers are set from
``on_response_prepare``, which aiohttp calls for every response just before its headers leave,
including the ones aiohttp answers itself (404, static files, the 101 of a WebSocket).

* ``Content-Security-Policy`` (:data:`CSP`): an injected script or a connection to another
  origin is refused by the browser; ``frame-ancestors 'none'``: no site may frame the page.
* ``X-Frame-Options: DENY``: the same for browsers without CSP Level 2 (clickjacking).
* ``Referrer-Policy: no-referrer``: a camera or request id in a URL never leaks to another site.
* ``X-Content-Type-Options: nosniff``: a JSON or SDP answer is never run as a script.
"""

from __future__ import annotations

from aiohttp import web

CSP = "; ".join((
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data: blob:",
    "media-src 'self' blob:",
    "connect-src 'self'",
    "worker-src 'self'",
    "font-src 'self'",
    "manifest-src 'self'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
))
"""The page's Content-Security-Policy (CSP Level 3: ``'self'`` covers same-origin ``ws:``)."""

HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}


async def add_security_headers(request: web.Request, response: web.StreamResponse) -> None:
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)


def setup(app: web.Application) -> None:
    """Set :data:`HEADERS` on every response of ``app`` (idempotent)."""
    if add_security_headers not in app.on_response_prepare:
        app.on_response_prepare.append(add_security_headers)
