"""The registry's background work, run inside ``rtcc serve`` (one task, on the event loop):

* at each consent expiry: rewrite the camera to tier ``none`` with a history entry, an audit entry
  and an ``expired`` event (one batch);
* at each daily schedule edge: publish a ``boundary`` event (nothing is written but the camera's
  next boundary), so the hub and the wall react at once;
* unanswered footage requests expire (:meth:`Requests.expire_due`);
* evidence past its retention is purged (:meth:`EvidenceStore.purge_due`).

Boundaries are claimed with a compare-and-set on their score in ``keys.CONSENT_BOUNDARIES``, so
several ``rtcc serve`` processes on one registry publish each boundary once. The loop sleeps until
the next boundary, at most ``max_sleep`` seconds, so an event is late by at most that (consent
caches evaluate time themselves and are right even then).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, tzinfo

import redis.asyncio as aredis
from redis.exceptions import RedisError

from rtcc import keys
from rtcc.errors import RtccError
from rtcc.registry.audit import begin
from rtcc.registry.consent import ConsentRecord, format_time, is_live
from rtcc.registry.events import ConsentEvent
from rtcc.registry.events import stage as stage_event
from rtcc.registry.evidence import SERVICE, EvidenceStore
from rtcc.registry.requests import Requests
from rtcc.registry.store import ConsentStager, Registry, stage_boundary
from rtcc.registry.txn import Txn, commit, text

log = logging.getLogger(__name__)


@dataclass(slots=True)
class TickReport:
    events: list[ConsentEvent] = field(default_factory=list)
    expired_requests: list[str] = field(default_factory=list)
    purged_evidence: list[str] = field(default_factory=list)


class RegistryService:
    def __init__(
        self,
        redis: aredis.Redis,
        *,
        registry: Registry,
        requests: Requests,
        evidence: EvidenceStore,
        tz: tzinfo = UTC,
        request_interval: float = 5.0,
        evidence_interval: float = 60.0,
        max_sleep: float = 0.25,
    ) -> None:
        self.redis = redis
        self.registry = registry
        self.requests = requests
        self.evidence = evidence
        self.tz = tz
        self.request_interval = request_interval
        self.evidence_interval = evidence_interval
        self.max_sleep = max_sleep

    async def run(self) -> None:
        """Loop until cancelled. Errors are logged and retried after a pause, never fatal."""
        last_requests = last_evidence = 0.0
        try:
            swept = await self.evidence.sweep_orphans()
            if swept:
                log.warning("removed %d evidence files that had no index entry", swept)
        except (RtccError, RedisError, OSError) as err:
            log.warning("evidence sweep failed: %s", err)
        while True:
            now = time.time()
            try:
                await self.publish_boundaries(now)
                if now - last_requests >= self.request_interval:
                    last_requests = now
                    await self.requests.expire_due(now)
                if now - last_evidence >= self.evidence_interval:
                    last_evidence = now
                    await self.evidence.purge_due(now)
                delay = await self._until_next(time.time())
            except (RtccError, RedisError, OSError) as err:
                log.warning("registry service: %s; retrying in 1s", err)
                delay = 1.0
            await asyncio.sleep(delay)

    async def tick(self, now: float | None = None) -> TickReport:
        """Everything due at ``now`` at once (tests drive time through this)."""
        when = time.time() if now is None else now
        report = TickReport()
        report.events = await self.publish_boundaries(when)
        report.expired_requests = await self.requests.expire_due(when)
        report.purged_evidence = await self.evidence.purge_due(when)
        return report

    async def _until_next(self, now: float) -> float:
        first = await self.redis.zrange(keys.CONSENT_BOUNDARIES, 0, 0, withscores=True)
        if not first:
            return self.max_sleep
        return min(max(0.0, float(first[0][1]) - now), self.max_sleep)

    async def publish_boundaries(self, now: float) -> list[ConsentEvent]:
        """Handle every consent boundary due at ``now`` (expiry or schedule edge)."""
        due = await self.redis.zrangebyscore(keys.CONSENT_BOUNDARIES, "-inf", now, start=0,
                                             num=500)
        out = []
        for member in due:
            camera_id = text(member) or ""
            event = await commit(self.redis, functools.partial(self._boundary, camera_id, now),
                                 what=f"boundary of {camera_id}")
            if event is not None:
                out.append(event)
        return out

    async def _boundary(self, camera_id: str, now: float) -> tuple[Txn, ConsentEvent | None]:
        txn = Txn()
        score = await self.redis.zscore(keys.CONSENT_BOUNDARIES, camera_id)
        if score is None or float(score) > now:
            return txn, None  # someone else handled it, or it moved
        txn.expect_zscore(keys.CONSENT_BOUNDARIES, camera_id, float(score))
        cam = await self.registry.find(camera_id)
        if cam is None:
            txn.op("ZREM", keys.CONSENT_BOUNDARIES, camera_id)
            return txn, None
        rec = cam.consent
        if rec.tier != "none" and rec.expires is not None and rec.expires <= now:
            stager = ConsentStager(txn, await self.registry.version(), self.tz)
            after = ConsentRecord(camera_id, cam.household, "none", None, None, 0, now,
                                  SERVICE.name, rec.seed, rec.origin)
            reason = f"consent at tier {rec.tier} expired at {format_time(rec.expires)}"
            event = stager.change(cam, after, kind="expired", actor=SERVICE, reason=reason,
                                  now=now)
            writer = await begin(self.redis, txn)
            writer.append(SERVICE, "consent.expired", camera_id,
                          {"household": cam.household, "prev_tier": rec.tier,
                           "expired_at": format_time(rec.expires), "version": event.version},
                          now=now)
            log.info("consent of %s (tier %s) expired", camera_id, rec.tier)
            return txn, event
        # A schedule edge: nothing to write but the next boundary; tell subscribers.
        txn.expect_hget(keys.camera(camera_id), "version", str(rec.version))
        stage_boundary(txn, rec, now, self.tz)
        event = ConsentEvent(await self.registry.version(), "boundary", camera_id, now,
                             is_live(rec, now, self.tz), rec)
        stage_event(txn, event)
        return txn, event
