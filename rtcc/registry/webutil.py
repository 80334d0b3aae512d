"""Shared pieces of the registry's HTTP API: app keys, the current user, JSON bodies and errors.

Every error under ``/api`` is JSON ``{"error": message, "field": name or null}`` with a 4xx
status (5xx only when the registry's Redis is unavailable or stored evidence is corrupt).
"""

from __future__ import annotations

import json
from datetime import datetime, time, timedelta, tzinfo
from typing import Any

from aiohttp import web

from rtcc.errors import Forbidden, InvalidInput, UnsupportedMediaType
from rtcc.registry.audit import AuditLog
from rtcc.registry.cache import ConsentCache
from rtcc.registry.consent import check_time
from rtcc.registry.evidence import EvidenceStore
from rtcc.registry.requests import Requests
from rtcc.registry.store import Registry
from rtcc.registry.users import User, Users
from rtcc.vocabulary import UserRole
from rtcc.web.bodies import read_limited

REGISTRY = web.AppKey("registry", Registry)
USERS = web.AppKey("users", Users)
AUDIT = web.AppKey("audit", AuditLog)
REQUESTS = web.AppKey("requests", Requests)
EVIDENCE = web.AppKey("evidence", EvidenceStore)
CONSENT_CACHE = web.AppKey("consent_cache", ConsentCache)
"""A started :class:`ConsentCache` for the hub and the wall in the same process."""

USER = web.RequestKey("rtcc_user", User)
TOKEN = web.RequestKey("rtcc_token", str)

MAX_BODY = 64 * 1024
"""Largest JSON body the API accepts (a request area of 1,000 vertices fits easily)."""


def current_user(request: web.Request) -> User:
    return request[USER]


def client_ip(request: web.Request) -> str:
    # No proxy is trusted: the peer address is the client (rtcc binds loopback by default).
    return request.remote or ""


def require(request: web.Request, *roles: UserRole) -> User:
    """The current user, if their role is one of ``roles``; else Forbidden (403)."""
    user = request[USER]
    if user.role not in roles:
        raise Forbidden(f"role {user.role} may not {request.method} {request.path}")
    return user


async def read_json(request: web.Request, allowed: set[str] | None = None) -> dict[str, Any]:
    """The request body as a JSON object: 415 for another content type, 413 when too large,
    400 for malformed JSON, a non-object, or (with ``allowed``) an unknown field."""
    if request.content_type != "application/json":
        raise UnsupportedMediaType(
            f"expected Content-Type: application/json, got {request.content_type or 'none'}",
            None)
    body = await read_limited(request, MAX_BODY)
    try:
        data = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError:
        raise InvalidInput("malformed JSON: the body is not UTF-8", None) from None
    except json.JSONDecodeError as err:
        raise InvalidInput(f"malformed JSON: line {err.lineno} column {err.colno}: {err.msg}",
                           None) from None
    if not isinstance(data, dict):
        raise InvalidInput("expected a JSON object", None)
    if allowed is not None:
        unknown = sorted(set(data) - allowed)
        if unknown:
            raise InvalidInput(f"unknown field {unknown[0]!r} (expected "
                               f"{', '.join(sorted(allowed))})", unknown[0])
    return data


def parse_bound(value: str | None, tz: tzinfo, field: str, *, end: bool) -> float | None:
    """A ``--since``/``--until`` bound: ISO date (the whole day counts, in ``tz``), ISO time
    (naive = ``tz``), or unix seconds; None when absent. ``until`` is inclusive."""
    if value is None or value == "":
        return None
    text = value.strip()
    try:
        if len(text) == 10 and text[4] == "-" and text[7] == "-":
            day = datetime.fromisoformat(text).date()
            if end:
                day += timedelta(days=1)
            start = datetime.combine(day, time(0), tzinfo=tz).timestamp()
            return check_time(start - 1e-6 if end else start, field)
        if text.replace(".", "", 1).isdigit():
            return check_time(float(text), field)
        parsed = datetime.fromisoformat(text)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=tz)
        return check_time(parsed.timestamp(), field)
    except (ValueError, OverflowError):
        shown = repr(value) if len(value) <= 40 else f"{value[:37]!r}..."
        raise InvalidInput(f"{field}: {shown} is not a date (YYYY-MM-DD), an ISO 8601 time or "
                           "unix seconds between 1970 and 2099", field) from None
