"""Verification of the audit chain: find and name the first edited, removed, inserted or reordered
entry.

:func:`verify_chain` is pure (a list of stored texts and the head); :func:`verify` reads them from
Redis. The walk expects entry *n* at list index *n-1* with ``seq == n`` and ``prev`` equal to the
hash of entry *n-1*. At the first entry that does not fit, it tests the explanations in an order
that tells them apart:

* the entry does not parse, or its content does not match its own hash: **edited** (unless the
  chain continues right after it as if it were not there: then it was **inserted**);
* it is a valid entry that belongs elsewhere (it links to an entry found at another index):
  **reordered**;
* the chain continues right after it: **inserted**; a second entry with a seq already seen:
  **inserted** (naming the one the chain does not continue from);
* the expected seq appears later: **reordered**; it appears nowhere: **removed**;
* the right seq but a ``prev`` that is not the previous entry's hash: the previous entry was
  **edited** and re-hashed.

Finally the last entry must match the head (``keys.AUDIT_HEAD``), which catches entries removed
from, appended to, or re-hashed at the end. (Someone who can rewrite every later entry *and* the
head can forge a consistent chain: export the head hash regularly to anchor it outside Redis.)
"""

from __future__ import annotations

from dataclasses import dataclass

import redis.asyncio as aredis

from rtcc.registry.audit import GENESIS, AuditEntry, AuditLog, entry_hash, read_head

KINDS = ("edited", "removed", "inserted", "reordered")


@dataclass(frozen=True, slots=True)
class Problem:
    kind: str
    """One of :data:`KINDS`."""
    seq: int | None
    """The seq of the entry at fault (for ``removed``: the first missing seq)."""
    position: int | None
    """Its list index (0-based, as LINDEX counts), when it is in the list."""
    message: str


@dataclass(frozen=True, slots=True)
class VerifyResult:
    entries: int
    head_seq: int
    head_hash: str
    problem: Problem | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None


def _parse(text: str) -> AuditEntry | None:
    try:
        return AuditEntry.from_json(text)
    except (ValueError, TypeError):
        return None


def _valid(e: AuditEntry | None) -> bool:
    if e is None:
        return False
    try:
        return entry_hash(e.as_dict()) == e.hash
    except (TypeError, ValueError):
        return False


def verify_chain(texts: list[str], head: tuple[int, str]) -> VerifyResult:
    """Verify stored entries (oldest first) against the head ``(seq, hash)``; (0, GENESIS) means
    the head key is absent."""
    entries = [_parse(t) for t in texts]
    n = len(entries)
    head_seq, head_hash = head

    def result(kind: str, seq: int | None, position: int | None, message: str) -> VerifyResult:
        return VerifyResult(n, head_seq, head_hash, Problem(kind, seq, position, message))

    def fits(e: AuditEntry | None, seq: int, prev: str) -> bool:
        return e is not None and _valid(e) and e.seq == seq and e.prev == prev

    def find_seq(seq: int, exclude: int) -> int | None:
        for q, other in enumerate(entries):
            if q != exclude and other is not None and other.seq == seq and _valid(other):
                return q
        return None

    expected, prev, last_prev = 1, GENESIS, GENESIS
    for p, e in enumerate(entries):
        if fits(e, expected, prev):
            assert e is not None
            last_prev, prev, expected = prev, e.hash, expected + 1
            continue
        nxt = entries[p + 1] if p + 1 < n else None
        # Would the chain be whole without this entry? (The next one fits, or this is the last
        # one and the chain before it already ends at the head.)
        skip_fits = fits(nxt, expected, prev) or (
            p == n - 1 and (head_seq, head_hash) == (expected - 1, prev))
        if e is None or not _valid(e):
            claimed = f"seq {e.seq}" if e is not None else "unparsable"
            if skip_fits:
                return result("inserted", e.seq if e else None, p,
                              f"index {p} ({claimed}) was inserted: the chain continues with "
                              f"seq {expected} right after it")
            if e is None:
                return result("edited", expected, p,
                              f"seq {expected} at index {p} was edited: it is no longer a valid "
                              "audit entry")
            return result("edited", e.seq, p,
                          f"seq {e.seq} at index {p} was edited: its content does not match its "
                          "hash")
        if e.seq == expected:  # right seq, wrong prev
            if skip_fits:
                return result("inserted", e.seq, p,
                              f"index {p} (a second seq {e.seq}) was inserted: it does not link "
                              f"to seq {expected - 1}, and the chain continues after it")
            if p == 0:
                return result("edited", e.seq, p,
                              f"seq {e.seq} at index 0 was edited: prev is not the genesis hash")
            return result("edited", expected - 1, p - 1,
                          f"seq {expected - 1} at index {p - 1} was edited (and re-hashed): "
                          f"seq {e.seq} no longer links to it")
        if e.seq < expected:
            fork = e.seq == expected - 1 and e.prev == last_prev and e.hash != prev
            continues = nxt is not None and nxt.seq == e.seq + 1 and nxt.prev == e.hash
            if fork and (continues or nxt is None):
                return result("inserted", e.seq, p - 1,
                              f"index {p - 1} (seq {e.seq}) was inserted: the real seq {e.seq} "
                              f"follows at index {p} and the chain continues from it")
            return result("inserted", e.seq, p,
                          f"index {p} (a copy of seq {e.seq}) was inserted after seq "
                          f"{expected - 1}")
        # A valid entry with a seq ahead of the expected one.
        home = find_seq(e.seq - 1, p) if e.seq > 1 else None
        belongs = (e.seq == 1 and e.prev == GENESIS) or (
            home is not None and entries[home] is not None
            and entries[home].hash == e.prev)  # type: ignore[union-attr]
        if belongs and find_seq(e.seq, p) is None:
            return result("reordered", e.seq, p,
                          f"seq {e.seq} is out of order: found at index {p} where seq {expected} "
                          "belongs")
        if skip_fits:
            return result("inserted", e.seq, p,
                          f"index {p} (seq {e.seq}) was inserted: the chain continues with "
                          f"seq {expected} right after it")
        later = find_seq(expected, p)
        if later is not None:
            return result("reordered", expected, later,
                          f"seq {expected} is out of order: found at index {later} instead of "
                          f"{p}")
        gap = f"{expected}" if e.seq - 1 == expected else f"{expected}..{e.seq - 1}"
        return result("removed", expected, None,
                      f"seq {gap} removed: index {p} holds seq {e.seq} where seq {expected} "
                      "belongs")
    last = expected - 1
    if head_seq > last:
        gap = f"{last + 1}" if head_seq == last + 1 else f"{last + 1}..{head_seq}"
        return result("removed", last + 1, None,
                      f"seq {gap} removed from the end: the log ends at seq {last} but the head "
                      f"is seq {head_seq}")
    if head_seq < last:
        return result("inserted", head_seq + 1, head_seq,
                      f"seq {head_seq + 1} at index {head_seq} was inserted: the head is seq "
                      f"{head_seq}, the log continues to seq {last}")
    if last and head_hash != prev:
        return result("edited", last, last - 1,
                      f"seq {last} at index {last - 1} was edited (and re-hashed): it does not "
                      "match the head hash")
    return VerifyResult(n, head_seq, head_hash)


async def verify(redis: aredis.Redis) -> VerifyResult:
    """Verify the audit log of a state Redis (reads the whole list)."""
    log = AuditLog(redis)
    for _ in range(10):
        head = await read_head(redis)
        texts = [text async for _, text in log.raw()]
        # A concurrent append between the two reads would look like an unrecorded insertion;
        # the snapshot is consistent when the head did not move while the list was read.
        if await read_head(redis) == head:
            break
    return verify_chain(texts, head)
