"""Everything the residents' app says in words: tiers, detail levels, why a camera was watched,
what happened to a request, directions. Pure.

One place, so that the words can be checked: no raw ids, tier keys or HTTP codes reach a
resident's screen, and every explanation reads at grade 8 or below (Flesch-Kincaid;
``tests/home/test_words.py`` computes it for every text here, with every value filled in). The
page only puts these texts and numbers in their places; it composes no explanation of its own.

What each tier shares is the police view's rule (:mod:`rtcc.registry.police_view`), said in
words: ``none`` the police do not know the camera; ``registry`` position and view, no owner, no
video; ``request`` only a count per area, and only from ``k`` cameras up; ``live`` the video, the
position and the owner's home.
"""

from __future__ import annotations

from typing import Any

from rtcc.registry.police_view import HIDDEN_COUNT
from rtcc.vocabulary import TIERS, Tier

TIER_NAMES: dict[Tier, str] = {
    "live": "Police watch it live",
    "request": "Police may ask for a clip",
    "registry": "Police know where it is",
    "none": "Not shared",
}
"""The tiers in words (the same as ``TIER_WORDS`` of ``/static/map.js``)."""


def tier_explanation(tier: Tier, k: int) -> list[str]:
    """Who sees what of a camera at ``tier``, in short sentences (``k``: the police view's
    threshold for counts)."""
    if tier == "live":
        return [
            "Your video goes to the police wall as it happens.",
            "Police staff can watch it at any time while this is on.",
            "They see your camera on their map, and which home it belongs to.",
            "Each time they watch, it is written in a record. You can read it on this page.",
        ]
    if tier == "request":
        return [
            "The police do not see this camera on their map.",
            f"They only see how many cameras like it are in a part of town, and only when there "
            f"are at least {k}.",
            "They may ask you for a short clip of a time they choose. You say yes or no here.",
            "If you say no, they are not told who said no.",
        ]
    if tier == "registry":
        return [
            "The police see where this camera is on their map, and which way it points.",
            "They do not see your video, and they do not see whose camera it is.",
            "They cannot ask you for a clip.",
        ]
    return [
        "Only you know about this camera.",
        "The police do not see it on their map, and they cannot ask you for video.",
    ]


def tier_words(k: int) -> list[dict[str, Any]]:
    """Every tier, most shared first: ``{tier, name, explain}`` for the page's choices."""
    return [{"tier": t, "name": TIER_NAMES[t], "explain": tier_explanation(t, k)}
            for t in reversed(TIERS)]


BAND_WORDS: dict[str, str] = {
    "identify": "close enough to tell who a stranger is",
    "recognise": "close enough to know a face you have seen before",
    "observe": "clear enough to see what people do and wear",
    "detect": "a person can be seen, but not who it is",
    "monitor": "only that something moves",
}
"""The detail levels of the map's bands (DORI), in words; finest first."""

BAND_SHORT: dict[str, str] = {
    "identify": "Faces clear",
    "recognise": "Faces you know",
    "observe": "What people do",
    "detect": "Someone is there",
    "monitor": "Movement only",
}
"""Short names of the bands, for the map's legend."""

WHY_WORDS: dict[str, str] = {
    "routine": "Routine watch",
    "incident": "An incident nearby",
    "request": "A footage request",
}
"""Why a view happened (the ``why`` of a wall view's audit entries; older ones are routine)."""

SEES_EXPLAIN = [
    "The map shows what your camera can see, and how clearly.",
    "If you chose live video, the police would see all of this, as it happens.",
    "That includes your neighbours' homes and the people who walk by.",
    "They have not agreed to be on the police wall.",
]
"""The explanation above "what my camera sees"."""


def not_agreed(count: int | str, k: int, among: int) -> str:
    """The count of neighbours in view who have not agreed to live video, as
    :meth:`rtcc.registry.police_view.Audience.count_among` lets a resident see it (never one
    neighbour's own choice)."""
    if count == HIDDEN_COUNT:
        return (f"Your camera sees fewer than {2 * k} homes, so we do not say how many of them "
                "agreed. Any number would tell someone's choice.")
    if isinstance(count, str) and count.startswith("fewer"):
        return (f"Fewer than {k} of these homes have not agreed to live video. We do not say "
                "how many, so that no one's choice can be told.")
    if isinstance(count, str):
        return (f"More than {among - k} of these {among} homes have not agreed to live video. "
                "We do not say how many, so that no one's choice can be told.")
    return (f"{count} of these {among} homes have not agreed to live video. We do not say which "
            "ones. Their choice is theirs.")


def passers_by(per_day: float) -> str:
    n = round(per_day)
    if n == 0:
        return "On a normal day, no one walks through what your camera sees."
    if n == 1:
        return "On a normal day, about one person walks by in view of your camera."
    return f"On a normal day, about {n} people walk by in view of your camera."


WATCHED_EXPLAIN = [
    "Each time police staff put your camera on their wall, it is written in a record.",
    "Here you see when, for how long, and why. You see how many staff watched, not their names.",
]

INBOX_EXPLAIN = [
    "The police may ask for a short clip from your camera. They tell you why and for which time.",
    "You can watch the clip first. Then you say yes or no.",
    "If you say yes, they keep the clip for a set time, then it is deleted.",
    "If you say no, they are not told who said no. They may need a court order to ask again.",
]

ANSWER_WORDS: dict[str, str] = {
    "pending": "Waiting for your answer",
    "approved": "You said yes",
    "declined": "You said no",
    "expired": "No answer was given in time",
}

CLIP_WORDS: dict[str, str] = {
    "held": "The police hold the clip until {until}. Then it is deleted.",
    "deleted": "The clip was deleted on {when}.",
    "missing": "Your camera had no video for that time, so no clip was shared.",
    "none": "No clip was shared.",
}

CHANGE_WORDS: dict[str, str] = {
    "you": "You changed it",
    "home": "Someone else in your home changed it",
    "admin": "An administrator changed it",
    "import": "It was set when your camera was added",
    "expired": "The time you chose ran out",
}

DIRECTIONS = ("north", "north-east", "east", "south-east", "south", "south-west", "west",
              "north-west")


def direction(bearing_deg: float) -> str:
    """A compass bearing (degrees clockwise from north) as one of eight directions."""
    return DIRECTIONS[round((bearing_deg % 360) / 45) % 8]


def place(n: int, metres: float, bearing_deg: float) -> str:
    """Where neighbour ``n`` is, in words: "Home 2, 18 m to the north-east"."""
    if metres < 1:
        return f"Home {n}, right next to your camera"
    return f"Home {n}, {round(metres)} m to the {direction(bearing_deg)}"


def every_explanation(k: int) -> list[str]:
    """Every explanation text of the app with its values filled in (for the readability test)."""
    texts: list[str] = []
    for tier in TIERS:
        texts.append(" ".join(tier_explanation(tier, k)))
    texts += [" ".join(SEES_EXPLAIN), " ".join(WATCHED_EXPLAIN), " ".join(INBOX_EXPLAIN)]
    texts += [not_agreed(k, k, 2 * k), not_agreed(f"fewer than {k}", k, 2 * k),
              not_agreed(f"more than {k}", k, 2 * k), not_agreed(HIDDEN_COUNT, k, 1)]
    texts += [passers_by(0), passers_by(1), passers_by(42)]
    texts += [f"The detail is {w}." for w in BAND_WORDS.values()]
    texts += [w.format(until="5 January 2027", when="5 January 2027") + "."
              if not w.endswith(".") else w.format(until="5 January 2027", when="5 January 2027")
              for w in CLIP_WORDS.values()]
    return texts
