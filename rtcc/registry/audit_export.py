"""Audit log export for an annual oversight report (CCOPS-style ordinances): CSV or JSON.

CSV has one row per entry (``details`` as compact JSON) and is what a spreadsheet wants. JSON adds
what a report needs around the entries: the period, the chain's verification result and head
hash (so the export can be checked against the live log later), counts by event, by actor and
role, and the footage requests opened and evidence collected in the period. Every export is itself
recorded as an ``audit.export`` entry (after the export, so it is not part of it).
"""

from __future__ import annotations

import csv
import io
import json
import time
from collections import Counter
from typing import Any

import redis.asyncio as aredis

from rtcc.errors import InvalidInput
from rtcc.registry.audit import FIELDS, Actor, AuditEntry, AuditLog, iso_micro
from rtcc.registry.audit_verify import verify

FORMATS = ("csv", "json")


def to_csv(entries: list[AuditEntry]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(FIELDS)
    for e in entries:
        row = e.as_dict()
        row["details"] = json.dumps(e.details, sort_keys=True, separators=(",", ":"),
                                    ensure_ascii=False)
        writer.writerow([row[f] for f in FIELDS])
    return out.getvalue()


def summary(entries: list[AuditEntry]) -> dict[str, Any]:
    requests = [
        {"request": e.subject, "ts": e.ts, "by": e.actor, "case": e.details.get("case"),
         "justification": e.details.get("justification"),
         "asked": len(e.details.get("asked") or [])}
        for e in entries if e.event == "request.created"
    ]
    evidence = [
        {"evidence": e.subject, "ts": e.ts, "case": e.details.get("case"),
         "camera": e.details.get("camera"), "bytes": e.details.get("bytes"),
         "sha256": e.details.get("sha256")}
        for e in entries if e.event == "evidence.created"
    ]
    decisions = Counter(str(e.details.get("decision")) for e in entries
                        if e.event == "request.decision")
    return {
        "entries": len(entries),
        "by_event": dict(sorted(Counter(e.event for e in entries).items())),
        "by_role": dict(sorted(Counter(e.role or "-" for e in entries).items())),
        "by_actor": dict(sorted(Counter(e.actor for e in entries).items())),
        "requests": requests,
        "decisions": dict(sorted(decisions.items())),
        "evidence": evidence,
        "failed_logins": sum(1 for e in entries if e.event == "login.failed"),
    }


async def export(
    redis: aredis.Redis,
    fmt: str,
    *,
    actor: Actor,
    since: float | None = None,
    until: float | None = None,
) -> tuple[bytes, str, int]:
    """The export as (bytes, content type, number of entries); records ``audit.export``."""
    if fmt not in FORMATS:
        raise InvalidInput(f"format must be one of {', '.join(FORMATS)}", "format")
    if since is not None and until is not None and since > until:
        raise InvalidInput("since is after until", "since")
    log = AuditLog(redis)
    entries = await log.entries(since, until)
    if fmt == "csv":
        data = to_csv(entries).encode()
        ctype = "text/csv"
    else:
        result = await verify(redis)
        doc = {
            "format": "rtcc-audit/1",
            "generated": iso_micro(time.time()),
            "since": iso_micro(since) if since is not None else None,
            "until": iso_micro(until) if until is not None else None,
            "chain": {"verified": result.ok, "entries": result.entries,
                      "head_seq": result.head_seq, "head_hash": result.head_hash,
                      "problem": result.problem.message if result.problem else None},
            "summary": summary(entries),
            "entries": [e.as_dict() for e in entries],
        }
        data = (json.dumps(doc, indent=1, ensure_ascii=False) + "\n").encode()
        ctype = "application/json"
    await log.append("audit.export", actor=actor, subject=fmt,
                     details={"format": fmt, "entries": len(entries),
                              "since": iso_micro(since) if since is not None else None,
                              "until": iso_micro(until) if until is not None else None})
    return data, ctype, len(entries)
