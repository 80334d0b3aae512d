"""The hash-chained audit log: appends, concurrency, and tampering with raw Redis commands."""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import json

import pytest
import redis.asyncio as aredis
from hypothesis import given, settings
from hypothesis import strategies as st

from rtcc import keys
from rtcc.errors import InvalidInput
from rtcc.registry.audit import (
    GENESIS,
    Actor,
    AuditEntry,
    AuditLog,
    AuditWriter,
    canonical,
    entry_hash,
)
from rtcc.registry.audit_export import export
from rtcc.registry.audit_verify import verify, verify_chain
from rtcc.registry.txn import Txn, apply

ALICE = Actor("alice", "operator", "127.0.0.1")


async def fill(redis: aredis.Redis, n: int) -> list[AuditEntry]:
    log = AuditLog(redis)
    return [await log.append(f"test.e{i}", actor=ALICE, subject=f"s{i}", details={"i": i})
            for i in range(1, n + 1)]


async def test_entries_chain_and_hash_by_hand(redis: aredis.Redis) -> None:
    entries = await fill(redis, 3)
    assert [e.seq for e in entries] == [1, 2, 3]
    assert entries[0].prev == GENESIS
    assert entries[1].prev == entries[0].hash and entries[2].prev == entries[1].hash
    first = json.loads(await at(redis, 0))
    assert set(first) == {"seq", "ts", "actor", "role", "ip", "event", "subject", "details",
                          "prev", "hash"}
    # The hash by hand: sha256 over sorted-key, no-space JSON of the entry without "hash".
    body = {k: v for k, v in first.items() if k != "hash"}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert first["hash"] == hashlib.sha256(text.encode()).hexdigest()
    assert first["actor"] == "alice" and first["role"] == "operator"
    assert first["ip"] == "127.0.0.1" and first["details"] == {"i": 1}
    assert await redis.hgetall(keys.AUDIT_HEAD) == {b"seq": b"3", b"hash": entries[2].hash.encode()}
    assert (await verify(redis)).ok


async def test_concurrent_writers_never_fork_the_chain(redis_url: str, redis: aredis.Redis
                                                       ) -> None:
    # Eight separate connections appending 25 entries each, all at once.
    clients = [aredis.Redis.from_url(redis_url) for _ in range(8)]
    try:
        async def writer(client: aredis.Redis, w: int) -> None:
            log = AuditLog(client)
            for i in range(25):
                await log.append("test.concurrent", actor=ALICE, subject=f"w{w}",
                                 details={"i": i})

        await asyncio.gather(*(writer(c, w) for w, c in enumerate(clients)))
    finally:
        for c in clients:
            await c.aclose()
    result = await verify(redis)
    assert result.ok, result.problem
    assert result.entries == 200 and result.head_seq == 200
    seqs = [json.loads(x)["seq"] for x in await redis.lrange(keys.AUDIT_LOG, 0, -1)]
    assert seqs == list(range(1, 201))


async def test_a_failed_guard_writes_nothing(redis: aredis.Redis) -> None:
    await redis.set("rtcc:test:guard", "1")
    txn = Txn().expect_get("rtcc:test:guard", "2")
    txn.op("SET", "rtcc:test:other", "x").publish("rtcc:test:chan", "hello")
    assert await apply(redis, txn) is False
    assert await redis.get("rtcc:test:other") is None
    txn = Txn().expect_get("rtcc:test:guard", "1").op("SET", "rtcc:test:other", "x")
    assert await apply(redis, txn) is True
    assert await redis.get("rtcc:test:other") == b"x"


async def test_details_must_be_json(redis: aredis.Redis) -> None:
    with pytest.raises(TypeError):
        await AuditLog(redis).append("x", actor=ALICE, details={"bad": object()})
    assert await redis.llen(keys.AUDIT_LOG) == 0


# --- tampering ---------------------------------------------------------------------------------


async def at(redis: aredis.Redis, index: int) -> str:
    value = await redis.lindex(keys.AUDIT_LOG, index)  # type: ignore[misc]
    assert isinstance(value, bytes)
    return value.decode()


async def raw(redis: aredis.Redis) -> list[dict]:
    return [json.loads(x) for x in await redis.lrange(keys.AUDIT_LOG, 0, -1)]


def dumps(entry: dict) -> str:
    return canonical(entry).decode()


def rehash(entry: dict) -> dict:
    entry = dict(entry)
    entry["hash"] = entry_hash(entry)
    return entry


async def test_edit_is_named(redis: aredis.Redis) -> None:
    await fill(redis, 6)
    e = (await raw(redis))[3]
    e["details"] = {"i": 999}
    await redis.lset(keys.AUDIT_LOG, 3, dumps(e))
    p = (await verify(redis)).problem
    assert p is not None and (p.kind, p.seq, p.position) == ("edited", 4, 3), p
    assert "seq 4" in p.message


async def test_edit_with_fresh_hash_is_named(redis: aredis.Redis) -> None:
    await fill(redis, 6)
    e = (await raw(redis))[2]
    e["actor"] = "mallory"
    await redis.lset(keys.AUDIT_LOG, 2, dumps(rehash(e)))
    p = (await verify(redis)).problem
    assert p is not None and (p.kind, p.seq) == ("edited", 3), p


async def test_edit_of_last_entry_with_fresh_hash_is_named(redis: aredis.Redis) -> None:
    await fill(redis, 4)
    e = (await raw(redis))[3]
    e["subject"] = "nothing to see"
    await redis.lset(keys.AUDIT_LOG, 3, dumps(rehash(e)))
    p = (await verify(redis)).problem
    assert p is not None and (p.kind, p.seq) == ("edited", 4), p


async def test_removal_is_named(redis: aredis.Redis) -> None:
    await fill(redis, 6)
    third = await at(redis, 2)
    await redis.lrem(keys.AUDIT_LOG, 1, third)
    p = (await verify(redis)).problem
    assert p is not None and (p.kind, p.seq) == ("removed", 3), p


async def test_removal_of_several_is_named(redis: aredis.Redis) -> None:
    await fill(redis, 8)
    for _ in range(3):
        await redis.lrem(keys.AUDIT_LOG, 1, await at(redis, 2))
    p = (await verify(redis)).problem
    assert p is not None and (p.kind, p.seq) == ("removed", 3) and "3..5" in p.message, p


async def test_removal_of_the_last_is_named(redis: aredis.Redis) -> None:
    await fill(redis, 5)
    await redis.rpop(keys.AUDIT_LOG)
    p = (await verify(redis)).problem
    assert p is not None and (p.kind, p.seq) == ("removed", 5), p


async def test_reorder_is_named(redis: aredis.Redis) -> None:
    await fill(redis, 6)
    a, b = await at(redis, 2), await at(redis, 3)
    await redis.lset(keys.AUDIT_LOG, 2, b)
    await redis.lset(keys.AUDIT_LOG, 3, a)
    p = (await verify(redis)).problem
    assert p is not None and p.kind == "reordered" and p.seq == 4 and p.position == 2, p


async def test_moving_an_entry_far_is_named(redis: aredis.Redis) -> None:
    await fill(redis, 8)
    moved = await at(redis, 6)  # seq 7 moved before seq 2
    await redis.lrem(keys.AUDIT_LOG, 1, moved)
    await redis.linsert(keys.AUDIT_LOG, "BEFORE", await at(redis, 1), moved)
    p = (await verify(redis)).problem
    assert p is not None and p.kind == "reordered" and p.seq == 7, p


async def test_insert_of_a_forged_entry_is_named(redis: aredis.Redis) -> None:
    entries = await fill(redis, 5)
    forged = rehash({"seq": 3, "ts": entries[1].ts, "actor": "mallory", "role": "admin",
                     "ip": "", "event": "consent.set", "subject": "c1", "details": {},
                     "prev": entries[1].hash})
    await redis.linsert(keys.AUDIT_LOG, "AFTER", await at(redis, 1),
                        dumps(forged))
    p = (await verify(redis)).problem
    assert p is not None and (p.kind, p.seq, p.position) == ("inserted", 3, 2), p


async def test_insert_of_junk_and_of_a_copy_is_named(redis: aredis.Redis) -> None:
    await fill(redis, 5)
    await redis.linsert(keys.AUDIT_LOG, "AFTER", await at(redis, 2),
                        "not json at all")
    p = (await verify(redis)).problem
    assert p is not None and (p.kind, p.position) == ("inserted", 3), p
    await redis.lrem(keys.AUDIT_LOG, 1, "not json at all")
    assert (await verify(redis)).ok
    copy = await at(redis, 1)
    await redis.linsert(keys.AUDIT_LOG, "AFTER", await at(redis, 3), copy)
    p = (await verify(redis)).problem
    assert p is not None and (p.kind, p.seq, p.position) == ("inserted", 2, 4), p


async def test_appended_without_head_is_named(redis: aredis.Redis) -> None:
    entries = await fill(redis, 3)
    extra = rehash({"seq": 4, "ts": entries[2].ts, "actor": "mallory", "role": "admin",
                    "ip": "", "event": "x", "subject": "", "details": {},
                    "prev": entries[2].hash})
    await redis.rpush(keys.AUDIT_LOG, dumps(extra))
    p = (await verify(redis)).problem
    assert p is not None and (p.kind, p.seq) == ("inserted", 4), p


def test_verify_chain_of_nothing() -> None:
    assert verify_chain([], (0, GENESIS)).ok


# --- export ------------------------------------------------------------------------------------


async def test_export_csv_and_json_with_bounds(redis: aredis.Redis) -> None:
    log = AuditLog(redis)
    await fill(redis, 3)
    entries = await log.entries()
    t2 = entries[1].timestamp
    data, ctype, count = await export(redis, "csv", actor=ALICE, since=t2)
    assert ctype == "text/csv" and count == 2
    rows = list(csv.DictReader(io.StringIO(data.decode())))
    assert [r["seq"] for r in rows] == ["2", "3"]
    assert json.loads(rows[0]["details"]) == {"i": 2}
    # The export itself is audited (after the export).
    last = (await log.entries())[-1]
    assert last.event == "audit.export" and last.details["entries"] == 2
    data, ctype, count = await export(redis, "json", actor=ALICE, until=t2)
    doc = json.loads(data)
    assert ctype == "application/json" and count == 2
    assert [e["seq"] for e in doc["entries"]] == [1, 2]
    assert doc["chain"]["verified"] is True and doc["chain"]["head_seq"] == 4
    assert doc["summary"]["by_event"] == {"test.e1": 1, "test.e2": 1}
    with pytest.raises(InvalidInput):
        await export(redis, "xml", actor=ALICE)


# --- every single tampering of a chain is caught and classified --------------------------------


def make_chain(n: int) -> tuple[list[str], tuple[int, str]]:
    txn = Txn()
    writer = AuditWriter(txn, 0, GENESIS)
    texts = [writer.append(ALICE, "e", f"s{i}", {"i": i}, now=1.7e9 + i).to_json()
             for i in range(n)]
    return texts, (writer.seq, writer.head)


@settings(max_examples=150, deadline=None, derandomize=True)
@given(n=st.integers(2, 12), op=st.sampled_from(["edit", "rehash", "delete", "swap", "junk",
                                                   "copy"]), data=st.data())
def test_any_single_tampering_is_named(n: int, op: str, data: st.DataObject) -> None:
    texts, head = make_chain(n)
    assert verify_chain(texts, head).ok
    k = data.draw(st.integers(0, n - 1), label="index")
    expect: set[str]
    if op in ("edit", "rehash"):
        e = json.loads(texts[k])
        e["subject"] = "forged"
        texts[k] = dumps(rehash(e) if op == "rehash" else e)
        expect, seqs = {"edited"}, {k + 1}
    elif op == "delete":
        del texts[k]
        expect, seqs = {"removed"}, {k + 1}
    elif op == "swap":
        k = min(k, n - 2)
        texts[k], texts[k + 1] = texts[k + 1], texts[k]
        expect, seqs = {"reordered"}, {k + 1, k + 2}
    elif op == "junk":
        texts.insert(k, "{}")
        expect, seqs = {"inserted"}, set()
    else:
        j = data.draw(st.integers(0, n - 1), label="copied")
        texts.insert(k, texts[j])
        expect, seqs = {"inserted"}, {j + 1}
    result = verify_chain(texts, head)
    assert result.problem is not None
    assert result.problem.kind in expect, (op, k, result.problem)
    if seqs:
        assert result.problem.seq in seqs, (op, k, result.problem)
