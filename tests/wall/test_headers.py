"""Security headers on every response of ``rtcc serve``: every route of the app's router (listed
from the router, so a new route is not forgotten), its static files, its errors and the
WebSocket upgrade."""

import re

import aiohttp
import pytest
from aiohttp import web

from rtcc.web.headers import HEADERS
from tests.wall.conftest import add_user, seed_registry

PARAMS = {"cam": "cam-a", "camera": "cam-a", "session": "nosuch", "name": "olive",
          "household": "hh-a", "request_id": "nosuch", "evidence_id": "nosuch", "rid": "nosuch",
          "id": "nosuch"}


def _check(resp: aiohttp.ClientResponse, what: str) -> None:
    for name, value in HEADERS.items():
        assert resp.headers.get(name) == value, f"{what}: {name} is {resp.headers.get(name)!r}"
    csp = resp.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp
    assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp


FILES = {"/wall/static/": "js/main.js", "/static/": "map.js"}
"""A real file under each static folder's route."""


def _paths(app: web.Application) -> list[tuple[str, str]]:
    out = []
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource is not None else {}
        if "directory" in info:  # aiohttp's own static resource: one real file of it
            out.append(("GET", f"{info['prefix']}/js/main.js"))
            continue
        path = info.get("path") or info.get("formatter")
        if path is None or route.method == "*":
            continue
        values = {**PARAMS, "path": FILES.get(path.split("{", 1)[0], "x")}
        out.append((route.method, re.sub(r"\{(\w+)[^}]*\}",
                                         lambda m, v=values: v.get(m[1], "x"), path)))
    return sorted(set(out))


@pytest.fixture
async def client(redis, wall_client):
    await seed_registry(redis, {"cam-a": ("hh-a", "live")})
    return await wall_client()


async def test_every_route_sends_the_security_headers(client, redis):
    token = await add_user(redis, "olive-admin", "admin")
    paths = _paths(client.app)
    files = [("GET", f"{prefix}{name}") for prefix, name in FILES.items()]
    assert ("GET", "/wall/") in paths and all(f in paths for f in files), paths
    assert len(paths) > 30
    assert ("HEAD", "/api/events") not in paths  # a HEAD would get the stream's first bytes
    for method, path in paths:
        for auth in ({}, {"Authorization": f"Bearer {token}"}):
            resp = await client.request(method, path, headers=auth, allow_redirects=False)
            if resp.content_type == "text/event-stream":
                resp.close()  # a stream that never ends (/api/events): its headers are enough
            else:
                await resp.read()
            _check(resp, f"{method} {path} ({resp.status})")
    page = await client.get("/wall/")
    assert page.status == 200 and page.content_type == "text/html"
    _check(page, "the wall page")
    for _, path in files:
        static = await client.get(path)
        assert static.status == 200, path
        _check(static, path)
    missing = await client.get("/no/such/page")
    assert missing.status == 404
    _check(missing, "a 404")


async def test_the_websocket_upgrade_carries_them_too(client):
    ws = await client.ws_connect("/wall/ws")
    try:
        _check(ws._response, "the WebSocket's 101")  # noqa: SLF001 (the upgrade's headers)
    finally:
        await ws.close()
