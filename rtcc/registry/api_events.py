"""The registry's part of ``GET /api/events`` (:mod:`rtcc.web.events`): who a stream is for, and
the footage-request notices.

Any signed-in user may open the stream; what it carries is decided per audience here, through the
police view. Footage requests (``keys.REQUEST_EVENTS``, already the police view: a decline
publishes nothing) reach the roles that may read requests (operator, admin, auditor) as
``request.created``, ``request.shared`` and ``request.closed`` with ``{"request", "case"}``: the
page refetches ``GET /api/requests/{id}``, which answers with the counts its audience may see.
Residents hear nothing of other people's requests (their own asks are another source's notices).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiohttp import web

from rtcc import keys
from rtcc.errors import AuthError
from rtcc.registry.police_view import Audience
from rtcc.registry.users import Users
from rtcc.registry.webutil import TOKEN, USER, USERS
from rtcc.vocabulary import UserRole
from rtcc.web import events
from rtcc.web.events import EventSource, Notice
from rtcc.web.resources import SETTINGS

REQUEST_READERS: frozenset[UserRole] = frozenset({"operator", "admin", "auditor"})
"""Roles that read footage requests (``GET /api/requests``) and so hear of their changes."""
REQUEST_CHANGES = frozenset({"created", "shared", "closed"})


@dataclass(frozen=True, slots=True)
class StreamViewer:
    audience: Audience
    user: str
    token: str
    users: Users

    async def still_valid(self) -> bool:
        try:
            await self.users.authenticate(self.token)
        except AuthError:
            return False
        return True


async def who_is_looking(request: web.Request) -> StreamViewer:
    """The signed-in user of an ``/api`` request (the registry's middleware checked the token)."""
    user = request[USER]
    return StreamViewer(Audience.of(user, request.app[SETTINGS].request_k), user.name,
                        request[TOKEN], request.app[USERS])


def request_notices(audience: Audience, message: dict[str, Any]) -> list[Notice]:
    change, rid = message.get("kind"), message.get("request")
    if audience.role not in REQUEST_READERS or change not in REQUEST_CHANGES \
            or not isinstance(rid, str):
        return []
    return [Notice(f"request.{change}", {"request": rid, "case": message.get("case")})]


def setup(app: web.Application) -> None:
    events.setup(app, who_is_looking)
    events.add_source(app, EventSource(keys.REQUEST_EVENTS, request_notices))
