"""Who watched my camera: a household's part of the audit log, in the residents' words.

One pass over the hash-chained audit log (:class:`~rtcc.registry.audit.AuditLog`) picks what
concerns the household's cameras:

* views: each ``live.start`` paired with its ``live.stop`` (same operator, camera and way of
  watching) is one time the camera was on the wall, with how long and why (the entries' ``why``:
  ``routine``, ``incident`` or ``request``; entries written before it existed count as routine).
  Who watched is never given to a resident, only how many different people did;
* clips: ``evidence.purged`` and ``evidence.missing`` entries, for what happened to an approved
  clip once it is no longer held (the clips still held come from the evidence store itself);
* plays and downloads of the household's clips by the police (``evidence.play``,
  ``evidence.download``), counted.

The log is read whole (it is the registry's record; a resident's page asks for it when opened).
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from rtcc import keys
from rtcc.home import words
from rtcc.registry.audit import AuditEntry, AuditLog
from rtcc.registry.consent import format_time
from rtcc.registry.evidence import EvidenceItem, EvidenceStore
from rtcc.registry.requests import Requests

VIEW_START = "live.start"
VIEW_STOP = "live.stop"
WHYS = ("routine", "incident", "request")
MAX_VIEWS = 200
"""Newest views listed per household (the totals count them all)."""


@dataclass(slots=True)
class View:
    camera: str
    actor: str
    start: float
    end: float | None
    seconds: float | None
    why: str
    request: str | None = None


@dataclass(slots=True)
class HouseholdRecord:
    """What the audit log says about one household's cameras."""

    views: list[View] = field(default_factory=list)
    purged: dict[str, float] = field(default_factory=dict)
    """evidence id -> when it was deleted."""
    missing: set[tuple[str, str]] = field(default_factory=set)
    """(request, camera) approvals for which the camera had no footage."""
    plays: dict[str, int] = field(default_factory=dict)
    """evidence id -> plays and downloads by the police."""


def _why(entry: AuditEntry | None) -> tuple[str, str | None]:
    details = entry.details if entry is not None else {}
    why = details.get("why")
    if why not in WHYS:
        return "routine", None
    request = details.get("request") if why == "request" else None
    return str(why), request if isinstance(request, str) else None


async def read_record(audit: AuditLog, cameras: set[str]) -> HouseholdRecord:
    """The household's part of the audit log (``cameras``: its camera ids)."""
    record = HouseholdRecord()
    open_views: dict[tuple[str, str, str], deque[AuditEntry]] = {}
    for entry in await audit.entries():
        event = entry.event
        if event in (VIEW_START, VIEW_STOP) and entry.subject in cameras:
            key = (entry.actor, entry.subject, str(entry.details.get("via", "")))
            if event == VIEW_START:
                open_views.setdefault(key, deque()).append(entry)
                continue
            starts = open_views.get(key)
            start = starts.popleft() if starts else None
            end = entry.timestamp
            seconds = entry.details.get("seconds")
            secs = float(seconds) if isinstance(seconds, int | float) else None
            began = start.timestamp if start is not None else end - (secs or 0.0)
            why, request = _why(start if start is not None and "why" in start.details
                                else entry)
            record.views.append(View(entry.subject, entry.actor, began, end,
                                     secs if secs is not None else end - began, why, request))
        elif event == "evidence.purged" and entry.details.get("camera") in cameras:
            record.purged[entry.subject] = entry.timestamp
        elif event == "evidence.missing" and entry.details.get("camera") in cameras:
            record.missing.add((entry.subject, str(entry.details["camera"])))
        elif event in ("evidence.play", "evidence.download") \
                and entry.details.get("camera") in cameras:
            record.plays[entry.subject] = record.plays.get(entry.subject, 0) + 1
    for starts in open_views.values():
        for start in starts:
            why, request = _why(start)
            record.views.append(View(start.subject, start.actor, start.timestamp, None, None,
                                     why, request))
    record.views.sort(key=lambda v: v.start, reverse=True)
    return record


async def held_clips(evidence: EvidenceStore, cameras: set[str]) -> list[EvidenceItem]:
    """The household's clips the police hold now (not yet purged), soonest deleted first."""
    ids = [i.decode() if isinstance(i, bytes) else str(i)
           for i in await evidence.redis.zrange(keys.EVIDENCE_ALL, 0, -1)]
    out = []
    for item_id in ids:
        item = await evidence.find(item_id)
        if item is not None and item.camera in cameras:
            out.append(item)
    return sorted(out, key=lambda e: e.purge_at)


async def watched(audit: AuditLog, evidence: EvidenceStore, requests: Requests,
                  labels: dict[str, str], live_now: set[str], *, now: float | None = None
                  ) -> dict[str, Any]:
    """Everything the "Who watched my camera" part of the page shows."""
    when = time.time() if now is None else now
    cameras = set(labels)
    record = await read_record(audit, cameras)
    cases: dict[str, str] = {}
    views = []
    for v in record.views[:MAX_VIEWS]:
        case = None
        if v.request:
            if v.request not in cases:
                req = await requests.find(v.request)
                cases[v.request] = req.case if req is not None else ""
            case = cases[v.request] or None
        ongoing = v.end is None
        views.append({
            "camera": v.camera, "label": labels[v.camera],
            "start": format_time(v.start), "end": format_time(v.end),
            "seconds": round(v.seconds, 1) if v.seconds is not None
            else round(max(0.0, when - v.start), 1),
            "ongoing": ongoing and v.camera in live_now,
            "why": v.why, "why_words": words.WHY_WORDS[v.why] + (f" (case {case})" if case
                                                                  else ""),
        })
    per_camera = []
    for cam, label in sorted(labels.items(), key=lambda kv: kv[1]):
        mine = [v for v in record.views if v.camera == cam]
        per_camera.append({
            "camera": cam, "label": label, "views": len(mine),
            "seconds": round(sum(v.seconds if v.seconds is not None
                                 else max(0.0, when - v.start) for v in mine), 1),
            "people": len({v.actor for v in mine}),
        })
    clips = []
    for item in await held_clips(evidence, cameras):
        clips.append({"label": labels.get(item.camera, "Camera"), "case": item.case,
                      "start": format_time(item.start), "end": format_time(item.end),
                      "until": format_time(item.purge_at),
                      "played": record.plays.get(item.id, 0)})
    return {
        "explain": words.WATCHED_EXPLAIN,
        "people": len({v.actor for v in record.views}),
        "total": len(record.views),
        "views": views,
        "cameras": per_camera,
        "clips": clips,
    }
