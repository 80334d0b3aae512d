"""My household and my cameras, as the residents' app shows them: each camera's tier in words,
who then sees what, its schedule and expiry, and the history of its changes.

Read from the registry (:class:`~rtcc.registry.store.Registry`) for the signed-in resident's own
household only; the page changes a tier through the registry's own API
(``PUT /api/cameras/{camera}/consent``), so a change from this app reaches the wall exactly as
one through the API does.
"""

from __future__ import annotations

import time
from collections import Counter
from datetime import tzinfo
from typing import Any

from rtcc.errors import Forbidden, NotFound
from rtcc.home import words
from rtcc.registry.consent import effective_tier, format_time, is_live, next_change
from rtcc.registry.police_view import unknown_camera_message
from rtcc.registry.store import HistoryEntry, RegisteredCamera, Registry
from rtcc.registry.users import User

TYPE_WORDS = {"doorbell": "Doorbell camera", "floodlight": "Floodlight camera",
              "business": "Shop camera", "city": "City camera"}


def household_of(user: User) -> str:
    """The resident's household (a resident always has one; anyone else is refused)."""
    if user.role != "resident" or not user.household:
        raise Forbidden(f"role {user.role} has no household: this app is for residents")
    return user.household


async def my_camera(registry: Registry, user: User, camera_id: str) -> RegisteredCamera:
    """One of the resident's own cameras: 404 for an unknown id, 403 for another household's."""
    household = household_of(user)
    cam = await registry.find(camera_id)
    if cam is None:
        raise NotFound(unknown_camera_message(camera_id))
    if cam.household != household:
        raise Forbidden(f"camera {camera_id!r} belongs to another household")
    return cam


def camera_labels(cams: list[RegisteredCamera]) -> dict[str, str]:
    """A name in words for each camera: its type, numbered when the home has several alike."""
    kinds = Counter(c.info.type for c in cams)
    seen: Counter[str] = Counter()
    out = {}
    for cam in sorted(cams, key=lambda c: c.id):
        name = TYPE_WORDS.get(cam.info.type, "Camera")
        seen[cam.info.type] += 1
        out[cam.id] = f"{name} {seen[cam.info.type]}" if kinds[cam.info.type] > 1 else name
    return out


def schedule_words(schedule: str | None) -> str | None:
    if not schedule:
        return None
    spans = [p.strip().replace("-", " to ") for p in schedule.split(",")]
    return "Live only from " + ", and from ".join(spans) + " each day"


def _change(entry: HistoryEntry, user: User, k: int) -> dict[str, Any]:
    if entry.kind == "import":
        who = "import"
    elif entry.kind == "expired":
        who = "expired"
    elif entry.actor == user.name:
        who = "you"
    elif entry.role == "resident":
        who = "home"
    else:
        who = "admin"
    before = entry.prev_tier if entry.prev_tier in words.TIER_NAMES else "none"
    after = entry.tier if entry.tier in words.TIER_NAMES else "none"
    return {
        "when": format_time(entry.ts),
        "who": words.CHANGE_WORDS[who],
        "from": words.TIER_NAMES[before],  # type: ignore[index]
        "to": words.TIER_NAMES[after],  # type: ignore[index]
        "until": format_time(entry.expires),
        "schedule": schedule_words(entry.schedule),
        "note": entry.reason if who in ("you", "home") else "",
    }


def camera_card(cam: RegisteredCamera, label: str, history: list[HistoryEntry], user: User,
                k: int, now: float, tz: tzinfo) -> dict[str, Any]:
    c = cam.consent
    tier = effective_tier(c, now)
    live_now = is_live(c, now, tz)
    if tier == "live":
        state = ("Your video is going to the police wall now." if live_now else
                 "Your video is not going to the police wall now: it is outside your hours.")
    else:
        state = "No video goes to the police from this camera."
    return {
        "id": cam.id,
        "label": label,
        "tier": tier,
        "name": words.TIER_NAMES[tier],
        "explain": words.tier_explanation(tier, k),
        "state": state,
        "live_now": live_now,
        "expires": format_time(c.expires) if tier != "none" else None,
        "schedule": c.schedule if tier == "live" else None,
        "schedule_words": schedule_words(c.schedule) if tier == "live" else None,
        "next_change": format_time(next_change(c, now, tz)),
        "history": [_change(h, user, k) for h in reversed(history)],
    }


async def overview(registry: Registry, user: User, k: int, *, now: float | None = None
                   ) -> dict[str, Any]:
    """Everything the "My cameras" part of the page shows."""
    household = household_of(user)
    when = time.time() if now is None else now
    info = await registry.household(household)
    cams = await registry.cameras(household)
    history = await registry.history(household=household)
    labels = camera_labels(cams)
    by_camera: dict[str, list[HistoryEntry]] = {}
    for entry in history:
        by_camera.setdefault(entry.camera, []).append(entry)
    return {
        "user": user.name,
        "residents": info.residents,
        "k": k,
        "tiers": words.tier_words(k),
        "cameras": [camera_card(c, labels[c.id], by_camera.get(c.id, []), user, k, when,
                                registry.tz)
                    for c in sorted(cams, key=lambda c: labels[c.id])],
    }
