"""The wall's notices on ``GET /api/events`` (:mod:`rtcc.web.events`): ``camera.live``
(``{"camera"}``) when a camera starts sharing live video (its owner chose ``live``, or a daily
schedule's live hours began), so the operators' wall opens its tile at once instead of at its
next poll of ``/api/wall/cameras``. Heard only by the roles that watch the wall, and only about a
camera the police view shows on its own (a live one is: :mod:`rtcc.registry.police_view`); a
camera that stops being live publishes nothing here (the wall's WebSocket closes its tile).
"""

from __future__ import annotations

from typing import Any

from rtcc import keys
from rtcc.registry.consent import ConsentRecord
from rtcc.registry.police_view import Audience
from rtcc.wall.access import VIEW_ROLES
from rtcc.web.events import EventSource, Notice


def live_notices(audience: Audience, message: dict[str, Any]) -> list[Notice]:
    camera, record = message.get("camera"), message.get("record")
    if audience.role not in VIEW_ROLES or message.get("live") is not True \
            or not isinstance(camera, str) or not isinstance(record, dict):
        return []
    try:
        household = ConsentRecord.from_fields(record).household
    except (KeyError, ValueError):
        return []
    if not audience.camera("live", household).individual:
        return []
    return [Notice("camera.live", {"camera": camera})]


SOURCE = EventSource(keys.CONSENT_EVENTS, live_notices)
