"""The requests inbox: police requests that asked my cameras, a preview of exactly the clip that
would be shared, and what happened to my past answers.

* Waiting: the household's pending asks (:meth:`Requests.pending_for`), one entry per request
  with its case number, justification, time window, area and deadline, and the cameras asked.
  Answers go through the registry's own route
  (``POST /api/requests/{id}/cameras/{camera}/decision``).
* Preview: the clip an approval would collect *now*, from the registry's own clip source
  (``Requests.clips``: the hub's live buffer, then the cameras' local store), so it is the same
  bytes as the evidence an approval produces (its sha256 is sent along, and the evidence records
  the sha256 of what it stored). It is wrapped in MP4 for the page's player without re-encoding
  (:mod:`rtcc.media.mp4`); the owner's viewing is audited as ``clip.preview``.
* Answered: every ask of the household that is no longer pending, with what became of the clip:
  held until its deletion date, deleted, or never made (no footage).
"""

from __future__ import annotations

import asyncio
import hashlib
from dataclasses import dataclass
from typing import Any

from rtcc import keys
from rtcc.errors import Conflict, MediaError, NotFound, RtccError
from rtcc.home import words
from rtcc.home.watched import HouseholdRecord
from rtcc.media.mp4 import annexb_to_mp4
from rtcc.registry.consent import format_time
from rtcc.registry.evidence import EvidenceStore, evidence_id
from rtcc.registry.requests import FootageRequest, Requests
from rtcc.registry.txn import text

MAX_ANSWERED = 100
"""Newest past answers listed."""


def _request(req: FootageRequest) -> dict[str, Any]:
    return {"request": req.id, "case": req.case, "justification": req.justification,
            "start": format_time(req.start), "end": format_time(req.end), "area": req.area,
            "area_sq_mi": round(req.area_sq_mi, 3), "created": format_time(req.created),
            "expires_at": format_time(req.expires_at)}


async def inbox(requests: Requests, evidence: EvidenceStore, household: str,
                labels: dict[str, str], record: HouseholdRecord) -> dict[str, Any]:
    """Everything the "Requests" part of the page shows, for ``household`` (its cameras'
    ``labels``)."""
    members = await requests.redis.smembers(keys.household_asks(household))  # type: ignore[misc]
    waiting: dict[str, dict[str, Any]] = {}
    for member in sorted(text(m) or "" for m in members):
        rid, _, cam = member.partition("|")
        req = await requests.find(rid)
        if req is None or cam not in labels:
            continue
        entry = waiting.setdefault(rid, {**_request(req), "cameras": []})
        entry["cameras"].append({"camera": cam, "label": labels[cam]})
    answered: list[dict[str, Any]] = []
    for req in reversed(await requests.all()):
        if len(answered) >= MAX_ANSWERED:
            break
        asks = await requests.asks(req.id)
        for cam, state in sorted(asks.items()):
            if cam not in labels or state == "pending":
                continue
            clip = await _clip(evidence, record, req.id, cam, state)
            answered.append({**_request(req), "camera": cam, "label": labels[cam],
                             "answer": state, "answer_words": words.ANSWER_WORDS[state], **clip})
    return {"explain": words.INBOX_EXPLAIN,
            "waiting": sorted(waiting.values(), key=lambda r: r["created"], reverse=True),
            "answered": answered}


async def _clip(evidence: EvidenceStore, record: HouseholdRecord, request_id: str,
                camera: str, state: str) -> dict[str, Any]:
    if state != "approved":
        return {"clip": "none", "clip_words": words.CLIP_WORDS["none"], "until": None}
    item_id = evidence_id(request_id, camera)
    item = await evidence.find(item_id)
    if item is not None:
        return {"clip": "held", "until": format_time(item.purge_at),
                "clip_words": words.CLIP_WORDS["held"], "played": record.plays.get(item_id, 0)}
    if item_id in record.purged:
        return {"clip": "deleted", "until": format_time(record.purged[item_id]),
                "clip_words": words.CLIP_WORDS["deleted"]}
    return {"clip": "missing", "until": None, "clip_words": words.CLIP_WORDS["missing"]}


@dataclass(frozen=True, slots=True)
class Preview:
    mp4: bytes
    sha256: str
    """Of the Annex-B clip, as the evidence would record it."""
    size: int


async def preview(requests: Requests, request_id: str, camera: str) -> Preview:
    """The clip an approval of this (pending) ask would share now."""
    req = await requests.get(request_id)
    state = text(await requests.redis.hget(keys.request_asks(req.id), camera))  # type: ignore[misc]
    if state is None:
        raise NotFound(f"camera {camera!r} was not asked in request {req.id}")
    if state != "pending":
        raise Conflict(f"request {req.id}: camera {camera!r} was already {state}")
    if requests.clips is None:
        raise NotFound("no clip source is configured")
    clip = await requests.clips.fetch(camera, req.start, req.end)
    if not clip:
        raise NotFound("your camera has no video for this time")
    try:
        mp4 = await asyncio.to_thread(annexb_to_mp4, clip)
    except MediaError as err:
        raise RtccError(f"the clip cannot be played: {err}") from None
    return Preview(mp4, hashlib.sha256(clip).hexdigest(), len(clip))
