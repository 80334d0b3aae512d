"""Footage requests: the doorbell-request model (DOMAIN.md, Ring's "Request for Assistance").

An operator opens a request for an area (0.025-0.5 sq mi by default), a time window (15 min to
12 h), a case number and a written justification. Every camera whose consent is at tier
``request`` at that moment and whose position lies in the area is *asked*; the residents of its
household see the ask (cameras without a household are answered by an admin) and approve or
decline it. An approval collects the camera's clip for the window into the evidence store. Asks
nobody answers expire with the request (``RTCC_REQUEST_EXPIRY``, default 72 h).

Police never learn who declined (docs/security.md, finding 6):

* request-tier cameras are not shown to the police one by one (:mod:`rtcc.registry.police_view`),
  so an operator cannot draw an area around one camera;
* a request whose area holds fewer than ``k`` request-tier cameras (``RTCC_REQUEST_K``, 3) is
  refused, and so is one of an operator whose asked cameras differ from those of one of their own
  earlier requests by 1 to k-1 cameras (comparing the two would single those owners out);
  refusals are audited (``request.refused``), so probing shows in the oversight record;
* the request as the police see it (:meth:`FootageRequest.view` with a police audience) says how
  many were asked, how many shared (the evidence), and how many did not share, declined and
  unanswered together, "fewer than k" below k; it stays ``open`` until its deadline whether or not
  everyone answered, because an early close would tell that the missing answers were declines;
* the events on ``keys.REQUEST_EVENTS`` carry the police view: a decline publishes nothing;
  the owners' side (which households were asked, answered, expired) goes on ``keys.ASK_EVENTS``
  (:func:`ask_event`), which only the residents' notices read, each resident hearing of their own
  household only (:mod:`rtcc.home.notices`).

Who answered what is in the audit log, which operators cannot read.

Redis: ``keys.request(id)`` hash, ``keys.request_asks(id)`` hash camera -> state,
``keys.household_asks(household)`` set of ``request|camera``, ``keys.REQUESTS_ALL`` and
``keys.REQUESTS_OPEN`` sorted sets, ``keys.REQUESTS_SEQ`` counter.
"""

from __future__ import annotations

import json
import logging
import re
import time
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aredis

from rtcc import keys
from rtcc.config import Settings
from rtcc.errors import Conflict, Forbidden, InvalidInput, NotFound
from rtcc.registry.area import Area, parse_area
from rtcc.registry.audit import Actor, AuditLog, begin
from rtcc.registry.consent import effective_tier, format_time, parse_time
from rtcc.registry.evidence import SERVICE, ClipSource, EvidenceItem, EvidenceStore, evidence_id
from rtcc.registry.police_view import DEFAULT_K, AreaEstimate, Audience, area_estimate
from rtcc.registry.store import Registry
from rtcc.registry.txn import Txn, commit, text, text_map

log = logging.getLogger(__name__)

ASK_STATES = ("pending", "approved", "declined", "expired")
DECISIONS = {"approve": "approved", "decline": "declined"}
_CASE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._/#:-]{0,63}$")


@dataclass(frozen=True, slots=True)
class RequestPolicy:
    min_sq_mi: float = 0.025
    max_sq_mi: float = 0.5
    min_window: float = 15 * 60.0
    max_window: float = 12 * 3600.0
    expiry: float = 72 * 3600.0
    min_justification: int = 20
    max_justification: int = 4000
    k: int = DEFAULT_K
    """Fewest request-tier cameras a request may ask (and the police view's threshold)."""

    @classmethod
    def from_settings(cls, settings: Settings) -> RequestPolicy:
        return cls(min_sq_mi=settings.request_min_area, max_sq_mi=settings.request_max_area,
                   expiry=settings.request_expiry, k=settings.request_k)


class Refused(InvalidInput):
    """A request refused to protect the residents' anonymity (audited as ``request.refused``)."""

    def __init__(self, message: str, reason: str, earlier: str | None) -> None:
        super().__init__(message, "area")
        self.reason = reason
        self.earlier = earlier


@dataclass(frozen=True, slots=True)
class FootageRequest:
    id: str
    case: str
    justification: str
    area: dict[str, Any] = field(hash=False)
    area_sq_mi: float
    start: float
    end: float
    created: float
    created_by: str
    expires_at: float
    status: str
    """``open`` (asks pending), ``answered`` (no ask pending) or ``expired``."""
    counts: dict[str, int] = field(hash=False)

    def fields(self) -> dict[str, str]:
        out = {"id": self.id, "case": self.case, "justification": self.justification,
               "area": json.dumps(self.area, separators=(",", ":")),
               "area_sq_mi": repr(self.area_sq_mi), "start": repr(self.start),
               "end": repr(self.end), "created": repr(self.created),
               "created_by": self.created_by, "expires_at": repr(self.expires_at),
               "status": self.status}
        out.update({k: str(v) for k, v in self.counts.items()})
        return out

    @classmethod
    def from_fields(cls, raw: dict[str, str]) -> FootageRequest:
        return cls(raw["id"], raw["case"], raw["justification"], json.loads(raw["area"]),
                   float(raw["area_sq_mi"]), float(raw["start"]), float(raw["end"]),
                   float(raw["created"]), raw["created_by"], float(raw["expires_at"]),
                   raw["status"],
                   {k: int(raw.get(k) or 0) for k in ("asked", *ASK_STATES)})

    def view(self, audience: Audience, evidence: list[EvidenceItem] | None = None, *,
             now: float | None = None) -> dict[str, Any]:
        """The request as ``audience`` may see it: for the oversight roles every count; for
        the police :func:`police_counts` and a status that never closes before the deadline."""
        when = time.time() if now is None else now
        counts: dict[str, int | str]
        if audience.sees_everything:
            status, counts = self.status, dict(self.counts)
        else:
            status = police_status(self, when)
            counts = police_counts(self.counts, audience)
        return {
            "id": self.id, "case": self.case, "justification": self.justification,
            "area": self.area, "area_sq_mi": round(self.area_sq_mi, 6),
            "start": format_time(self.start), "end": format_time(self.end),
            "created": format_time(self.created), "created_by": self.created_by,
            "expires_at": format_time(self.expires_at), "status": status,
            "counts": counts,
            "evidence": [e.as_json() for e in evidence or []],
        }


def police_counts(counts: dict[str, int], audience: Audience) -> dict[str, int | str]:
    """What the police may know of a request's answers: how many cameras were asked, how many
    shared, and how many did not (declined, not answered yet, or expired: never told apart),
    each below k as "fewer than k"."""
    asked, shared = counts.get("asked", 0), counts.get("approved", 0)
    return {"asked": audience.count(asked), "shared": audience.count(shared),
            "not_shared": audience.count(asked - shared)}


def police_status(req: FootageRequest, now: float) -> str:
    """``open`` until the deadline, then ``closed``: closing early when every owner answered
    would tell that the clips still missing were declined."""
    return "open" if now < req.expires_at else "closed"


def ask_event(kind: str, req: FootageRequest, households: list[str | None],
              camera: str | None = None) -> str:
    """The owners' side of a change (``asked``, ``answered``, ``expired``): the households
    concerned (``""`` for cameras of no household, answered by an admin)."""
    return json.dumps({"kind": kind, "request": req.id, "case": req.case,
                       "households": sorted({h or "" for h in households}),
                       "camera": camera}, separators=(",", ":"))


def _event(kind: str, req: FootageRequest, counts: dict[str, int], k: int, now: float) -> str:
    # The police view only: this channel may be read by police-facing components.
    return json.dumps({"kind": kind, "request": req.id, "case": req.case,
                       "status": police_status(req, now),
                       "counts": police_counts(counts, Audience("operator", None, k))},
                      separators=(",", ":"))


class Requests:
    def __init__(self, redis: aredis.Redis, registry: Registry, evidence: EvidenceStore,
                 clips: ClipSource | None = None, policy: RequestPolicy | None = None) -> None:
        self.redis = redis
        self.registry = registry
        self.evidence = evidence
        self.clips = clips
        self.policy = policy or RequestPolicy()

    # --- reads ---------------------------------------------------------------------------------

    async def find(self, request_id: str) -> FootageRequest | None:
        if not isinstance(request_id, str) or not request_id:
            return None
        raw = text_map(await self.redis.hgetall(keys.request(request_id)))  # type: ignore[misc]
        return FootageRequest.from_fields(raw) if raw else None

    async def get(self, request_id: str) -> FootageRequest:
        req = await self.find(request_id)
        if req is None:
            raise NotFound(f"unknown request {request_id!r}")
        return req

    async def all(self) -> list[FootageRequest]:
        ids = [text(i) or "" for i in await self.redis.zrange(keys.REQUESTS_ALL, 0, -1)]
        out = []
        for rid in ids:
            req = await self.find(rid)
            if req is not None:
                out.append(req)
        return out

    async def asks(self, request_id: str) -> dict[str, str]:
        """camera -> ask state (for auditors' tools and tests; never shown to police)."""
        raw = await self.redis.hgetall(keys.request_asks(request_id))  # type: ignore[misc]
        return text_map(raw)

    async def collected(self, req: FootageRequest) -> list[EvidenceItem]:
        out = []
        for cam, state in sorted((await self.asks(req.id)).items()):
            if state == "approved":
                item = await self.evidence.find(evidence_id(req.id, cam))
                if item is not None:
                    out.append(item)
        return out

    async def pending_for(self, actor: Actor) -> list[dict[str, Any]]:
        """The asks waiting for this resident's household (or, for an admin, for cameras that
        belong to no household)."""
        if actor.role == "resident" and actor.household:
            members = await self.redis.smembers(keys.household_asks(actor.household))  # type: ignore[misc]
        elif actor.role == "admin":
            members = await self.redis.smembers(keys.household_asks(""))  # type: ignore[misc]
        else:
            raise Forbidden(f"role {actor.role} has no footage requests to answer")
        out = []
        for member in sorted(text(m) or "" for m in members):
            rid, _, cam = member.partition("|")
            req = await self.find(rid)
            if req is None:
                continue
            out.append({"request": rid, "camera": cam, "case": req.case,
                        "justification": req.justification, "start": format_time(req.start),
                        "end": format_time(req.end), "area": req.area,
                        "expires_at": format_time(req.expires_at), "state": "pending"})
        return out

    async def estimate(self, raw_area: object, audience: Audience, *, now: float | None = None
                       ) -> tuple[Area, AreaEstimate]:
        """Before a request is sent: how many request-tier cameras its area may hold, from the
        police view's density cells only (:func:`~rtcc.registry.police_view.area_estimate`).
        The area must be one a request may have (InvalidInput otherwise)."""
        p = self.policy
        area = parse_area(raw_area, min_sq_mi=p.min_sq_mi, max_sq_mi=p.max_sq_mi)
        when = time.time() if now is None else now
        points = [(cam.info.lon, cam.info.lat) for cam in await self.registry.cameras()
                  if effective_tier(cam.consent, when) == "request"]
        return area, area_estimate(points, area.lonlat_bounds(), area.overlap, audience)

    # --- opening a request ---------------------------------------------------------------------

    def _validate(self, body: dict[str, Any], now: float) -> tuple[str, str, Area, float, float]:
        p = self.policy
        case = body.get("case")
        if not isinstance(case, str) or not _CASE.match(case.strip()):
            raise InvalidInput("case: a case number is required (1-64 letters, digits, spaces "
                               "or ._/#:-)", "case")
        just = body.get("justification")
        if not isinstance(just, str) or len(just.strip()) < p.min_justification:
            raise InvalidInput(f"justification: a written justification of at least "
                               f"{p.min_justification} characters is required", "justification")
        if len(just) > p.max_justification:
            raise InvalidInput(f"justification: at most {p.max_justification} characters",
                               "justification")
        area = parse_area(body.get("area"), min_sq_mi=p.min_sq_mi, max_sq_mi=p.max_sq_mi)
        if body.get("start") is None:
            raise InvalidInput("start: the window's start time is required", "start")
        if body.get("end") is None:
            raise InvalidInput("end: the window's end time is required", "end")
        start = parse_time(body["start"], self.registry.tz, "start")
        end = parse_time(body["end"], self.registry.tz, "end")
        length = end - start
        if not p.min_window <= length <= p.max_window:
            raise InvalidInput(
                f"window: {length / 60:.1f} minutes; a request covers {p.min_window / 60:g} "
                f"minutes to {p.max_window / 3600:g} hours", "end")
        return case.strip(), just.strip(), area, start, end

    async def create(self, body: object, *, actor: Actor, now: float | None = None
                     ) -> FootageRequest:
        if actor.role not in ("operator", "admin"):
            raise Forbidden(f"role {actor.role} may not open footage requests")
        if not isinstance(body, dict):
            raise InvalidInput("expected a JSON object", None)
        when = time.time() if now is None else now
        case, just, area, start, end = self._validate(body, when)

        async def build() -> tuple[Txn, FootageRequest]:
            seq = int(text(await self.redis.get(keys.REQUESTS_SEQ)) or 0)
            rid = f"req-{seq + 1:06d}"
            asked = [cam for cam in await self.registry.cameras()
                     if effective_tier(cam.consent, when) == "request"
                     and area.contains(cam.info.lon, cam.info.lat)]
            # Both checks read what this batch is built on; a concurrent request changes
            # REQUESTS_SEQ, so the batch is rebuilt and checked again.
            await self._check_anonymity(actor, {cam.id for cam in asked})
            counts = {"asked": len(asked), "pending": len(asked), "approved": 0,
                      "declined": 0, "expired": 0}
            req = FootageRequest(rid, case, just, area.geojson, area.square_miles, start, end,
                                 when, actor.name, when + self.policy.expiry,
                                 "open" if asked else "answered", counts)
            txn = Txn().expect_get(keys.REQUESTS_SEQ, str(seq) if seq else None)
            txn.op("SET", keys.REQUESTS_SEQ, seq + 1)
            txn.expect_exists(keys.request(rid), False)
            for cam in asked:
                # Decided on the tier each camera had when this batch was built.
                txn.expect_hget(keys.camera(cam.id), "version", str(cam.consent.version))
                txn.op("HSET", keys.request_asks(rid), cam.id, "pending")
                txn.op("SADD", keys.household_asks(cam.household or ""), f"{rid}|{cam.id}")
            txn.hset(keys.request(rid), req.fields())
            txn.op("ZADD", keys.REQUESTS_ALL, when, rid)
            if asked:
                txn.op("ZADD", keys.REQUESTS_OPEN, req.expires_at, rid)
            writer = await begin(self.redis, txn)
            writer.append(actor, "request.created", rid, {
                "case": case, "justification": just, "area": area.geojson,
                "area_sq_mi": round(area.square_miles, 6), "start": format_time(start),
                "end": format_time(end), "asked": [c.id for c in asked]}, now=when)
            txn.publish(keys.REQUEST_EVENTS, _event("created", req, counts, self.policy.k,
                                                    when))
            if asked:
                txn.publish(keys.ASK_EVENTS, ask_event("asked", req,
                                                       [c.household for c in asked]))
            return txn, req

        try:
            req = await commit(self.redis, build, what="opening a request")
        except Refused as err:
            await AuditLog(self.redis).append(
                "request.refused", actor=actor, subject=case,
                details={"case": case, "reason": err.reason, "area": area.geojson,
                         "area_sq_mi": round(area.square_miles, 6), "earlier": err.earlier})
            raise
        log.info("request %s (case %s) asks %d cameras", req.id, req.case, req.counts["asked"])
        return req

    async def _check_anonymity(self, actor: Actor, asked: set[str]) -> None:
        """Refuse a request that would let its answers single out a camera's owner: fewer than
        k cameras asked, or 1 to k-1 cameras of difference with an earlier request of the same
        user (the difference of two requests' counts is the answer of those few)."""
        k = self.policy.k
        if len(asked) < k:
            raise Refused(
                f"area: fewer than {k} cameras in this area take footage requests; a request "
                f"must reach at least {k}, so that no owner's answer can be told apart from "
                "the others' (draw a larger area)", "too_few", None)
        for earlier in await self.all():
            if earlier.created_by != actor.name:
                continue
            before = set(await self.asks(earlier.id))
            if not before & asked:
                continue
            added, left = len(asked - before), len(before - asked)
            if 0 < added < k or 0 < left < k:
                raise Refused(
                    f"area: this request and your request {earlier.id} differ by fewer than {k} "
                    "of the cameras they ask; comparing their answers would single those "
                    f"owners out (ask the same cameras again, or an area that differs by at "
                    f"least {k})", "overlap", earlier.id)

    # --- answering -----------------------------------------------------------------------------

    async def decide(self, request_id: str, camera_id: str, decision: object, *, actor: Actor,
                     now: float | None = None) -> dict[str, Any]:
        """A camera owner's answer; an approval collects the clip into the evidence store."""
        if not isinstance(decision, str) or decision not in DECISIONS:
            raise InvalidInput("decision must be \"approve\" or \"decline\"", "decision")
        when = time.time() if now is None else now
        req = await self.get(request_id)
        cam = await self._check_answerable(req, camera_id, actor)
        clip_file: tuple[str, str, int] | None = None
        if decision == "approve" and self.clips is not None:
            clip = await self.clips.fetch(camera_id, req.start, req.end)
            if clip:
                name, digest = await self.evidence.write(evidence_id(req.id, camera_id), clip)
                clip_file = (name, digest, len(clip))
        state = DECISIONS[decision]

        async def build() -> tuple[Txn, dict[str, Any]]:
            fresh = await self.get(request_id)
            await self._check_answerable(fresh, camera_id, actor)
            counts = dict(fresh.counts)
            counts["pending"] -= 1
            counts[state] += 1
            status = "answered" if counts["pending"] == 0 else "open"
            txn = Txn().expect_hget(keys.request_asks(request_id), camera_id, "pending")
            txn.expect_hget(keys.request(request_id), "pending", str(fresh.counts["pending"]))
            txn.op("HSET", keys.request_asks(request_id), camera_id, state)
            txn.op("SREM", keys.household_asks(cam or ""), f"{request_id}|{camera_id}")
            txn.hset(keys.request(request_id), {**{k: str(v) for k, v in counts.items()},
                                                "status": status})
            if status == "answered":
                txn.op("ZREM", keys.REQUESTS_OPEN, request_id)
            writer = await begin(self.redis, txn)
            writer.append(actor, "request.decision", request_id,
                          {"case": fresh.case, "camera": camera_id, "household": cam,
                           "decision": state}, now=when)
            item = None
            if clip_file is not None:
                item = EvidenceItem(evidence_id(request_id, camera_id), request_id, fresh.case,
                                    camera_id, fresh.start, fresh.end, clip_file[2],
                                    clip_file[1], clip_file[0], when,
                                    when + self.evidence.retention)
                self.evidence.stage(txn, item)
                writer.append(actor, "evidence.created", item.id, {
                    "request": request_id, "case": fresh.case, "camera": camera_id,
                    "start": format_time(fresh.start), "end": format_time(fresh.end),
                    "bytes": item.size, "sha256": item.sha256, "format": "h264-annexb",
                    "purge_at": format_time(item.purge_at)}, now=when)
            elif state == "approved":
                writer.append(actor, "evidence.missing", request_id, {
                    "case": fresh.case, "camera": camera_id,
                    "reason": "no footage for the window in any clip source"}, now=when)
            if status == "answered":
                writer.append(SERVICE, "request.answered", request_id,
                              {"case": fresh.case, "counts": counts}, now=when)
            if state == "approved":  # a decline says nothing: police cannot tell it from silence
                txn.publish(keys.REQUEST_EVENTS, _event("shared", fresh, counts, self.policy.k,
                                                        when))
            txn.publish(keys.ASK_EVENTS, ask_event("answered", fresh, [cam], camera_id))
            return txn, {"request": request_id, "camera": camera_id, "decision": state,
                         "evidence": item.as_json() if item else None}

        try:
            return await commit(self.redis, build, what=f"answer to {request_id}")
        except BaseException:
            if clip_file is not None:
                self.evidence.discard(clip_file[0])
            raise

    async def _check_answerable(self, req: FootageRequest, camera_id: str, actor: Actor
                                ) -> str | None:
        """The camera's household, once the actor may answer this ask and it is pending."""
        state = text(await self.redis.hget(keys.request_asks(req.id), camera_id))  # type: ignore[misc]
        if state is None:
            raise NotFound(f"camera {camera_id!r} was not asked in request {req.id}")
        cam = await self.registry.find(camera_id)
        household = cam.household if cam is not None else None
        if actor.role == "resident":
            if not actor.household or household != actor.household:
                raise Forbidden(f"camera {camera_id!r} belongs to another household")
        elif actor.role == "admin":
            if household is not None:
                raise Forbidden(f"only the residents of household {household!r} may answer "
                                f"for camera {camera_id!r}")
        else:
            raise Forbidden(f"role {actor.role} may not answer footage requests")
        if state != "pending":
            raise Conflict(f"request {req.id}: camera {camera_id!r} was already {state}")
        if req.status != "open":
            raise Conflict(f"request {req.id} is {req.status}")
        return household

    # --- expiry --------------------------------------------------------------------------------

    async def expire_due(self, now: float | None = None) -> list[str]:
        """Expire open requests past their deadline: pending asks become ``expired``."""
        when = time.time() if now is None else now
        due = [text(m) or "" for m in
               await self.redis.zrangebyscore(keys.REQUESTS_OPEN, "-inf", when, start=0, num=100)]
        expired = []
        for rid in due:

            async def build(rid: str = rid) -> tuple[Txn, bool]:
                req = await self.find(rid)
                txn = Txn()
                if req is None or req.status != "open":
                    txn.op("ZREM", keys.REQUESTS_OPEN, rid)
                    return txn, False
                asks = await self.asks(rid)
                pending = sorted(c for c, s in asks.items() if s == "pending")
                counts = dict(req.counts)
                counts["expired"] += len(pending)
                counts["pending"] = 0
                txn.expect_hget(keys.request(rid), "pending", str(req.counts["pending"]))
                owners: list[str | None] = []
                for cam_id in pending:
                    cam = await self.registry.find(cam_id)
                    owners.append(cam.household if cam else None)
                    txn.expect_hget(keys.request_asks(rid), cam_id, "pending")
                    txn.op("HSET", keys.request_asks(rid), cam_id, "expired")
                    txn.op("SREM", keys.household_asks(cam.household or "" if cam else ""),
                           f"{rid}|{cam_id}")
                txn.hset(keys.request(rid), {**{k: str(v) for k, v in counts.items()},
                                             "status": "expired"})
                txn.op("ZREM", keys.REQUESTS_OPEN, rid)
                writer = await begin(self.redis, txn)
                writer.append(SERVICE, "request.expired", rid,
                              {"case": req.case, "unanswered": len(pending), "counts": counts},
                              now=when)
                txn.publish(keys.REQUEST_EVENTS, _event("closed", req, counts, self.policy.k,
                                                        when))
                if owners:
                    txn.publish(keys.ASK_EVENTS, ask_event("expired", req, owners))
                return txn, True

            if await commit(self.redis, build, what=f"expiry of {rid}"):
                expired.append(rid)
                log.info("request %s expired unanswered", rid)
        return expired
