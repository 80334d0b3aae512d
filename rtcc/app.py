"""Assembly of the ``rtcc serve`` application: hub, registry API, wall and residents' app in one
aiohttp app, or the part of them one role runs (``Settings.role``: ``all``, ``hub``, ``wall``,
``analyzer``).

Each resource lives in its own cleanup context, so teardown runs only for what started, in reverse
order. Components register their routes and contexts through a ``setup(app)`` function of their
own and find the shared resources (settings, Redis clients) under the app keys of
:mod:`rtcc.web.resources`; nothing but the commands and the tests imports this module.
"""

from __future__ import annotations

from aiohttp import web

from rtcc import exposure, home, ingest, metrics, registry, wall
from rtcc.config import Settings
from rtcc.redis_server import RedisUrls
from rtcc.web import errors, headers, resources
from rtcc.web.resources import STATE_REDIS


async def _health(request: web.Request) -> web.Response:
    await request.app[STATE_REDIS].ping()
    return web.json_response({"status": "ok"})


def create_app(settings: Settings, urls: RedisUrls) -> web.Application:
    app = web.Application(client_max_size=1024**2)
    errors.setup(app)
    headers.setup(app)  # CSP, frame and referrer policies on every response
    resources.setup(app, settings, urls)
    app.router.add_get("/healthz", _health)
    # Components register below, in data-flow order; a role runs one tier of a scaled-out
    # deployment (several processes of each role may run).
    role = settings.role
    if role in ("all", "wall"):
        registry.setup(app)  # the API, its auth, the consent cache and the registry service
    elif role == "hub":
        registry.setup(app, service=False)  # auth for /api/hub/* and the consent cache
    if role in ("all", "hub"):
        ingest.setup(app)
    if role in ("all", "analyzer"):
        metrics.setup(app)
        exposure.setup(app)
    if role in ("all", "wall"):
        wall.setup(app)
        home.setup(app)  # the residents' app, beside the wall
    return app
