"""Consent records and their evaluation in time: tiers, expiry and daily schedules. Pure.

A camera's consent is a tier (CONTRACT names ``none``, ``registry``, ``request``, ``live``) with an
optional expiry (unix time) and, for ``live`` only, an optional daily schedule such as
``"20:00-06:00"`` (live only at night; windows may cross midnight; several windows are separated by
commas). Schedules are wall-clock times in the registry's time zone (``RTCC_REGISTRY_TZ``).

:func:`is_live` answers "may this camera's stream reach the wall at ``now``?" and
:func:`next_change` the next instant that answer (or the effective tier) can change by itself: the
expiry, a schedule edge, or a daylight-saving transition (an edge that falls into a skipped hour
takes effect at the transition). The consent cache uses the pair to answer per frame with a dict
lookup and one comparison; the registry service publishes an event at each such instant.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from functools import lru_cache

from rtcc.errors import InvalidInput
from rtcc.vocabulary import TIERS, Tier

ORIGINS = ("seed", "user")
"""Where a camera's current tier came from: a world file's seed, or a person (resident, admin)."""

_DAY = 86400
_WINDOW = re.compile(r"^(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$")
_DURATION = re.compile(r"^\+?\s*(\d+(?:\.\d+)?)\s*(s|m|min|h|d|w)$", re.IGNORECASE)
_UNITS = {"s": 1, "m": 60, "min": 60, "h": 3600, "d": 86400, "w": 604800}
MAX_TIME = 4102444800.0
"""2100-01-01T00:00:00Z: the latest time the registry accepts (an expiry, a request window, a
query bound). Later times are refused (400) rather than stored: Python's datetime ends at year
9999, and no consent or request needs to reach past this century."""


@dataclass(frozen=True, slots=True)
class ConsentRecord:
    """The consent state of one camera, as stored in its registry hash."""

    camera: str
    household: str | None
    tier: Tier = "none"
    expires: float | None = None
    schedule: str | None = None
    version: int = 0
    """The registry's CONSENT_VERSION right after this camera's last change."""
    updated: float = 0.0
    updated_by: str = ""
    seed: Tier = "none"
    """The tier the last world-file import proposed."""
    origin: str = "seed"
    """``seed`` while the tier is the imported one, ``user`` once a person changed it."""

    def fields(self) -> dict[str, str]:
        """The record as Redis hash fields (strings; absent values as empty strings)."""
        return {
            "id": self.camera,
            "household": self.household or "",
            "tier": self.tier,
            "expires": "" if self.expires is None else repr(self.expires),
            "schedule": self.schedule or "",
            "version": str(self.version),
            "updated": repr(self.updated),
            "updated_by": self.updated_by,
            "seed": self.seed,
            "origin": self.origin,
        }

    @classmethod
    def from_fields(cls, raw: dict[str, str]) -> ConsentRecord:
        """The record from its hash fields; ValueError for a tier that is not one of TIERS."""
        expires = raw.get("expires") or ""
        return cls(
            camera=raw["id"],
            household=raw.get("household") or None,
            tier=stored_tier(raw, "tier"),
            expires=float(expires) if expires else None,
            schedule=raw.get("schedule") or None,
            version=int(raw.get("version") or 0),
            updated=float(raw.get("updated") or 0.0),
            updated_by=raw.get("updated_by", ""),
            seed=stored_tier(raw, "seed"),
            origin=raw.get("origin") or "seed",
        )


def stored_tier(raw: Mapping[str, str], key: str) -> Tier:
    """The tier in field ``key`` of a stored hash (``none`` when empty or absent); ValueError,
    naming the hash's ``id``, for any other word."""
    tier = raw.get(key) or "none"
    if tier not in TIERS:
        raise ValueError(f"{raw.get('id')!r}: unknown {key} {tier!r} "
                         f"(expected one of {', '.join(TIERS)})")
    return tier


# --- schedules -----------------------------------------------------------------------------------


@lru_cache(maxsize=4096)
def parse_schedule(text: str) -> tuple[tuple[int, int], ...]:
    """``"20:00-06:00"`` -> windows as (start, end) seconds of the day, end exclusive, sorted and
    merged; a window whose end is before its start crosses midnight. ``24:00`` is allowed as an end.

    >>> parse_schedule("20:00-06:00")
    ((72000, 21600),)
    >>> parse_schedule("07:00-09:00, 08:30-10:00")
    ((25200, 36000),)
    """
    spans: list[tuple[int, int]] = []  # non-wrapping spans within [0, 86400]
    parts = [p.strip() for p in text.split(",")]
    if not text.strip() or any(not p for p in parts):
        raise InvalidInput(f"schedule {text!r}: expected HH:MM-HH:MM[,HH:MM-HH:MM...]",
                           "schedule")
    for part in parts:
        m = _WINDOW.match(part)
        if not m:
            raise InvalidInput(f"schedule window {part!r}: expected HH:MM-HH:MM", "schedule")
        h1, m1, h2, m2 = (int(g) for g in m.groups())
        if h1 > 23 or m1 > 59 or h2 > 24 or m2 > 59 or (h2 == 24 and m2 != 0):
            raise InvalidInput(f"schedule window {part!r}: not a time of day", "schedule")
        start, end = h1 * 3600 + m1 * 60, h2 * 3600 + m2 * 60
        if start == end % _DAY:
            raise InvalidInput(f"schedule window {part!r}: start equals end (use no schedule "
                               "for all day)", "schedule")
        if start < end:
            spans.append((start, end))
        else:
            spans += [(start, _DAY), (0, end)]
    spans.sort()
    merged: list[list[int]] = []
    for s, e in spans:
        if merged and s <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], e)
        else:
            merged.append([s, e])
    if len(merged) == 1 and merged[0] == [0, _DAY]:
        raise InvalidInput(f"schedule {text!r} covers the whole day (use no schedule)",
                           "schedule")
    # Join a span ending at midnight with one starting at midnight: one window across midnight.
    if len(merged) > 1 and merged[0][0] == 0 and merged[-1][1] == _DAY:
        first = merged.pop(0)
        merged[-1][1] = first[1]
    # An end at midnight is stored as 0: (start, 0) reads as "from start until midnight".
    return tuple((s, e % _DAY) for s, e in merged)


def normalize_schedule(text: str) -> str:
    """The canonical text of a schedule (what the registry stores)."""
    return ",".join(f"{_hhmm(s)}-{_hhmm(e)}" for s, e in parse_schedule(text))


def _hhmm(seconds: int) -> str:
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}"


def in_schedule(windows: tuple[tuple[int, int], ...], second_of_day: float) -> bool:
    for start, end in windows:
        if start < end:
            if start <= second_of_day < end:
                return True
        elif second_of_day >= start or second_of_day < end:
            return True
    return False


def _second_of_day(now: float, tz: tzinfo) -> float:
    local = datetime.fromtimestamp(now, tz)
    return local.hour * 3600 + local.minute * 60 + local.second + local.microsecond / 1e6


# --- evaluation ----------------------------------------------------------------------------------


def expired(record: ConsentRecord, now: float) -> bool:
    return record.expires is not None and now >= record.expires


def effective_tier(record: ConsentRecord, now: float) -> Tier:
    """The tier in force at ``now``: ``none`` once the consent has expired. (A schedule only gates
    live viewing; it does not change the tier.)"""
    return "none" if expired(record, now) else record.tier


def is_live(record: ConsentRecord, now: float, tz: tzinfo = UTC) -> bool:
    """True when the camera may stream to the wall at ``now``: tier ``live``, not expired, and
    inside its daily schedule (if it has one) in the time zone ``tz``."""
    if record.tier != "live" or expired(record, now):
        return False
    if not record.schedule:
        return True
    return in_schedule(parse_schedule(record.schedule), _second_of_day(now, tz))


def next_change(record: ConsentRecord, now: float, tz: tzinfo = UTC) -> float | None:
    """The first instant after ``now`` at which :func:`is_live` or :func:`effective_tier` may give
    a different answer, or ``None`` if the consent never changes by itself."""
    candidates: list[float] = []
    if record.tier != "none" and record.expires is not None and record.expires > now:
        candidates.append(record.expires)
    if record.tier == "live" and record.schedule and not expired(record, now):
        windows = parse_schedule(record.schedule)
        edges = sorted({s for s, _ in windows} | {e for _, e in windows})
        today = datetime.fromtimestamp(now, tz).date()
        edge_times = [t for t in _edge_instants(edges, today, tz) if t > now]
        if edge_times:
            first = min(edge_times)
            candidates.append(first)
            # A UTC-offset change before that edge moves the wall clock: it matters when the
            # jump crosses an edge (one in a skipped hour), i.e. when the answer flips there.
            transition = _offset_change(now, first, tz)
            if transition is not None and is_live(record, transition, tz) != is_live(
                    record, now, tz):
                candidates.append(transition)
    return min(candidates) if candidates else None


def _edge_instants(edges: list[int], today: date, tz: tzinfo) -> list[float]:
    out: list[float] = []
    for days in (0, 1, 2):
        day = today + timedelta(days=days)
        for edge in edges:
            naive = datetime(day.year, day.month, day.day) + timedelta(seconds=edge)
            for fold in (0, 1):  # both readings of an ambiguous (repeated) wall-clock time
                t = naive.replace(tzinfo=tz, fold=fold).timestamp()
                # Keep only instants whose wall clock really shows the edge: a time in a skipped
                # hour has none (its window starts at the transition, found separately).
                if datetime.fromtimestamp(t, tz).replace(tzinfo=None, fold=0) == naive:
                    out.append(t)
    return out


def _offset_change(start: float, end: float, tz: tzinfo) -> float | None:
    """The instant in (start, end] where ``tz``'s UTC offset changes, if it does (DST)."""

    def offset(t: float) -> timedelta | None:
        return datetime.fromtimestamp(t, tz).utcoffset()

    first = offset(start)
    if offset(end) == first:
        return None
    lo, hi = start, end
    while hi - lo > 0.001:
        mid = (lo + hi) / 2
        if offset(mid) == first:
            lo = mid
        else:
            hi = mid
    return hi


# --- validation of a change --------------------------------------------------------------------


def check_tier(tier: object, field: str = "tier") -> Tier:
    if tier not in TIERS:
        raise InvalidInput(f"unknown tier {tier!r} (expected one of {', '.join(TIERS)})", field)
    return tier


def validate_change(
    tier: object, expires: object, schedule: object, now: float, tz: tzinfo = UTC
) -> tuple[Tier, float | None, str | None]:
    """Check a requested consent change; return (tier, expires as unix time, canonical schedule).

    ``expires`` may be unix seconds, an ISO 8601 time (no offset = the registry's time zone) or a
    duration from now (``"90m"``, ``"2h"``, ``"7d"``)."""
    tier = check_tier(tier)
    when: float | None = None
    if expires is not None and expires != "":
        if tier == "none":
            raise InvalidInput("an expiry needs a tier other than none", "expires")
        when = parse_time(expires, tz, "expires", now=now)
        if when <= now:
            raise InvalidInput(f"expires {format_time(when)} is not in the future", "expires")
    sched: str | None = None
    if schedule is not None and schedule != "":
        if not isinstance(schedule, str):
            raise InvalidInput("schedule must be a string such as \"20:00-06:00\"", "schedule")
        if tier != "live":
            raise InvalidInput("a daily schedule applies only to tier live", "schedule")
        sched = normalize_schedule(schedule)
    return tier, when, sched


def parse_time(value: object, tz: tzinfo, field: str, *, now: float | None = None) -> float:
    """Unix seconds from a number, an ISO 8601 string (naive = ``tz``) or, when ``now`` is given,
    a duration from now such as ``"2h"``."""
    if isinstance(value, bool):
        raise InvalidInput(f"{field}: expected a time, got {value!r}", field)
    if isinstance(value, int | float):
        try:
            seconds = float(value)
        except OverflowError:  # an integer beyond any float
            seconds = math.inf
        if not math.isfinite(seconds) or seconds < 0:
            raise InvalidInput(f"{field}: expected a finite unix time, got {_short(value)}",
                               field)
        return check_time(seconds, field)
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(f"{field}: expected an ISO 8601 time or unix seconds", field)
    text = value.strip()
    if now is not None and (m := _DURATION.match(text)):
        return check_time(now + float(m.group(1)) * _UNITS[m.group(2).lower()], field)
    try:
        when = float(text) if re.fullmatch(r"\d+(\.\d+)?", text) else _iso(text, tz)
    except (ValueError, OverflowError):
        hint = ", or a duration such as 2h" if now is not None else ""
        raise InvalidInput(
            f"{field}: {_short(text)} is not a time (expected ISO 8601 such as "
            f"2026-12-01T18:00:00Z, or unix seconds{hint})", field) from None
    return check_time(when, field)


def check_time(when: float, field: str) -> float:
    """``when`` if it lies between 1970 and :data:`MAX_TIME`, else InvalidInput on ``field``."""
    if not (math.isfinite(when) and 0 <= when < MAX_TIME):
        raise InvalidInput(f"{field}: the time must lie between 1970 and 2099 (unix seconds "
                           f"0 to {MAX_TIME:.0f})", field)
    return when


def _short(value: object) -> str:
    """A user's value for an error message, cut to a readable length."""
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:37]}..."


def _iso(text: str, tz: tzinfo) -> float:
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=tz)
    return parsed.timestamp()


def format_time(ts: float | None) -> str | None:
    """ISO 8601 in UTC with a ``Z`` (millisecond precision), or None."""
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace(
        "+00:00", "Z")
