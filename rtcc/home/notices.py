"""The residents' notices on ``GET /api/events`` (:mod:`rtcc.web.events`): what a resident's page
hears while it is open, about their own household only.

* ``ask.new``, ``ask.answered``, ``ask.closed`` (``{"request", "case"}``): a footage request asked
  one of the household's cameras, one of its asks was answered (from another page), or its asks
  expired unanswered. Read from ``keys.ASK_EVENTS``, which the registry publishes inside the
  change (:func:`rtcc.registry.requests.ask_event`) with the households concerned.
* ``camera.changed`` (``{"camera"}``): one of the household's cameras changed tier (another
  page, an administrator, an expiry or a schedule edge), from ``keys.CONSENT_EVENTS``.

Nobody else hears these: operators, auditors and admins get no notice of them, and a resident
never of another household's (the page refetches what it shows: a notice says what changed, not
how).
"""

from __future__ import annotations

from typing import Any

from rtcc import keys
from rtcc.registry.police_view import Audience
from rtcc.web.events import EventSource, Notice

ASK_KINDS = {"asked": "ask.new", "answered": "ask.answered", "expired": "ask.closed"}


def _resident(audience: Audience) -> str | None:
    return audience.household if audience.role == "resident" and audience.household else None


def ask_notices(audience: Audience, message: dict[str, Any]) -> list[Notice]:
    household = _resident(audience)
    kind = ASK_KINDS.get(str(message.get("kind")))
    households = message.get("households")
    request = message.get("request")
    if household is None or kind is None or not isinstance(households, list) \
            or household not in households or not isinstance(request, str):
        return []
    return [Notice(kind, {"request": request, "case": message.get("case")})]


def camera_notices(audience: Audience, message: dict[str, Any]) -> list[Notice]:
    household = _resident(audience)
    record = message.get("record")
    camera = message.get("camera")
    if household is None or not isinstance(record, dict) or not isinstance(camera, str) \
            or record.get("household") != household:
        return []
    return [Notice("camera.changed", {"camera": camera})]


SOURCES = (EventSource(keys.ASK_EVENTS, ask_notices),
           EventSource(keys.CONSENT_EVENTS, camera_notices))
