"""Glue for the ``rtcc registry|audit|users`` commands: run one coroutine against the state Redis.

The embedded state server is started (or reused, when ``rtcc serve`` runs it) for the command and
stopped again afterwards; a configured ``RTCC_REDIS_URL`` is used as is. Errors of the user's
input (unknown camera, invalid tier, a resident touching another household...) are printed as one
line and give exit status 2; everything else is left to ``rtcc.cli.main``.
"""

from __future__ import annotations

import asyncio
import getpass
import sys
from collections.abc import Awaitable, Callable
from typing import TypeVar

import redis.asyncio as aredis

from rtcc.config import Settings
from rtcc.connections import connect
from rtcc.errors import AuthError, Conflict, InvalidInput, NotFound
from rtcc.redis_server import redis_urls
from rtcc.registry.audit import Actor

T = TypeVar("T")
EXIT_INPUT = 2
USER_ERRORS = (InvalidInput, NotFound, AuthError, Conflict)


def cli_actor() -> Actor:
    """Whoever runs the CLI has the state Redis in hand: an admin, named after the OS user."""
    try:
        name = getpass.getuser()
    except (KeyError, OSError):
        name = "unknown"
    return Actor(f"cli:{name}", "admin", "local")


def run_on_state(settings: Settings, fn: Callable[[aredis.Redis], Awaitable[T]]) -> T:
    with redis_urls(settings, live=False) as urls:
        return asyncio.run(_with_client(urls.state, settings, fn))


async def _with_client(url: str, settings: Settings,
                       fn: Callable[[aredis.Redis], Awaitable[T]]) -> T:
    client = await connect(url, timeout=settings.redis_connect_timeout, name="rtcc-cli")
    try:
        return await fn(client)
    finally:
        await client.aclose()


def run_command(command: str, settings: Settings,
                fn: Callable[[aredis.Redis], Awaitable[int]]) -> int:
    """:func:`run_on_state`, with input errors reported as ``rtcc COMMAND: message`` (exit 2)."""
    try:
        return run_on_state(settings, fn)
    except USER_ERRORS as err:
        field = getattr(err, "field", None)
        where = f" [{field}]" if field and field not in str(err) else ""
        print(f"rtcc {command}: {err}{where}", file=sys.stderr)
        return EXIT_INPUT
