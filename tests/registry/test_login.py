"""Password logins under attack, over real HTTP from distinct loopback addresses (127.0.0.2,
127.0.0.3... are loopback too): concurrent guesses cannot pass the limit, a stranger cannot lock
the owner out, hashes run at OWASP's cost in production, off the event loop, a few at a time, and
old hashes are replaced at the next login (issue #16, finding 2)."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aredis
from aiohttp.test_utils import TestClient

from rtcc import keys
from rtcc.app import create_app
from rtcc.config import Settings
from rtcc.redis_server import RedisUrls
from rtcc.registry.audit import AuditLog
from rtcc.registry.credentials import PRODUCTION_COST, PasswordCost, hash_password
from rtcc.registry.store import Registry
from rtcc.registry.users import UserPolicy, Users
from rtcc.registry.webutil import USERS
from tests.conftest import TEST_POLICY

from .conftest import ADMIN

Client = Callable[..., Awaitable[TestClient]]


@pytest.fixture
async def serve(aiohttp_client: Any, redis: aredis.Redis, redis_url: str, registry: Registry,
                settings: Settings) -> Client:
    """A running app with ``settings`` changed by the keyword arguments."""

    async def make(**changes: Any) -> TestClient:
        app = create_app(settings.replace(**changes), RedisUrls(redis_url, redis_url))
        return await aiohttp_client(app)

    return make


@pytest.fixture
async def from_address() -> AsyncIterator[Callable[[str], aiohttp.ClientSession]]:
    """HTTP sessions whose connections leave from a given loopback address."""
    sessions: list[aiohttp.ClientSession] = []

    def make(ip: str) -> aiohttp.ClientSession:
        session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(
            local_addr=(ip, 0), limit=0, force_close=True))
        sessions.append(session)
        return session

    yield make
    for session in sessions:
        await session.close()


async def login(session: aiohttp.ClientSession, client: TestClient, name: str,
                password: str) -> tuple[int, dict[str, Any]]:
    async with session.post(client.make_url("/api/login"),
                            json={"username": name, "password": password}) as resp:
        return resp.status, await resp.json()


async def failed_logins(redis: aredis.Redis) -> list[Any]:
    return [e for e in await AuditLog(redis).entries() if e.event == "login.failed"]


async def test_forty_concurrent_guesses_from_one_address_get_exactly_five_checks(
        serve: Client, redis: aredis.Redis, from_address: Any) -> None:
    client = await serve()
    await Users(redis, policy=TEST_POLICY).add("olive", "operator", actor=ADMIN,
                                              password="the-right-one")
    attacker = from_address("127.0.0.2")
    answers = await asyncio.gather(*(login(attacker, client, "olive", f"guess-{i:03d}")
                                     for i in range(40)))
    statuses = Counter(status for status, _ in answers)
    assert statuses == {401: 5, 429: 35}, statuses
    limited = next(body for status, body in answers if status == 429)
    assert "too many login attempts" in limited["error"]
    assert len(await failed_logins(redis)) == 5
    assert client.app[USERS].hasher.evaluations == 5  # no hash ran for the 35 refused
    assert {e.ip for e in await failed_logins(redis)} == {"127.0.0.2"}


async def test_a_stranger_on_other_addresses_cannot_lock_the_owner_out(
        serve: Client, redis: aredis.Redis, from_address: Any) -> None:
    client = await serve(login_delay_cap=1.0)
    await Users(redis, policy=TEST_POLICY).add("olive", "operator", actor=ADMIN,
                                              password="the-right-one")
    # Guesses from three addresses: 15 failures of the account in the window.
    for ip in ("127.0.0.2", "127.0.0.4", "127.0.0.5"):
        answers = await asyncio.gather(*(login(from_address(ip), client, "olive", f"no-{i}")
                                         for i in range(10)))
        assert Counter(s for s, _ in answers) == {401: 5, 429: 5}
    # The owner, from her own address, still gets in: after the capped delay, not a lock.
    t0 = time.monotonic()
    status, body = await login(from_address("127.0.0.3"), client, "olive", "the-right-one")
    took = time.monotonic() - t0
    assert status == 200, body
    assert body["user"]["name"] == "olive" and body["token"]
    assert 1.0 <= took < 5.0, took  # 15 failures would mean 2^10 s uncapped
    # ... and the attacker's address stays limited for this account.
    status, body = await login(from_address("127.0.0.2"), client, "olive", "the-right-one")
    assert status == 429


async def test_the_production_default_is_owasp_scrypt() -> None:
    settings = Settings.load({}, environ={})
    assert settings.password_log2_n == 17
    policy = UserPolicy.from_settings(settings)
    assert policy.cost == PRODUCTION_COST == PasswordCost(17, 8, 1)
    assert UserPolicy().cost == PRODUCTION_COST  # also when built without settings
    stored = await asyncio.to_thread(hash_password, "correct horse battery", policy.cost)
    assert stored.startswith("scrypt$131072$8$1$")  # N = 2^17, r = 8, p = 1
    assert policy.limits.attempts == 5 and policy.limits.delay_cap == 30.0


async def test_an_old_hash_is_replaced_at_the_next_login(serve: Client,
                                                         redis: aredis.Redis) -> None:
    client = await serve()
    await Users(redis, policy=TEST_POLICY).add("olive", "operator", actor=ADMIN)
    old = await asyncio.to_thread(hash_password, "an old password", PasswordCost(14))
    await redis.hset(keys.user("olive"), "password", old)  # as rtcc stored it before
    resp = await client.post("/api/login", json={"username": "olive",
                                                 "password": "an old password"})
    assert resp.status == 200
    stored = (await redis.hget(keys.user("olive"), "password")).decode()
    assert stored != old and stored.startswith("scrypt$1024$8$1$")  # the configured cost
    ok = [e for e in await AuditLog(redis).entries() if e.event == "login.ok"]
    assert ok[-1].details.get("rehashed") is True
    again = await client.post("/api/login", json={"username": "olive",
                                                  "password": "an old password"})
    assert again.status == 200
    ok = [e for e in await AuditLog(redis).entries() if e.event == "login.ok"]
    assert "rehashed" not in ok[-1].details


async def test_password_checks_run_off_the_loop_two_at_a_time(
        serve: Client, redis: aredis.Redis, from_address: Any) -> None:
    cost = PasswordCost(16)  # ~0.2-0.5 s per check: a stalled loop would show it
    client = await serve(password_log2_n=cost.log2_n)
    stored = await asyncio.to_thread(hash_password, "password-0", cost)
    for i in range(6):  # six users, one hash computed (the tests' own setup stays cheap)
        await Users(redis, policy=TEST_POLICY).add(f"op{i}", "operator", actor=ADMIN)
        await redis.hset(keys.user(f"op{i}"), "password", stored)
    gaps: list[float] = []
    stop = False

    async def ticker() -> None:
        last = time.monotonic()
        while not stop:
            await asyncio.sleep(0.01)
            now = time.monotonic()
            gaps.append(now - last)
            last = now

    tick = asyncio.create_task(ticker())
    t0 = time.monotonic()
    answers = await asyncio.gather(*(login(from_address(f"127.0.1.{i + 1}"), client, f"op{i}",
                                           "password-0") for i in range(6)))
    elapsed = time.monotonic() - t0
    stop = True
    await tick
    assert [s for s, _ in answers] == [200] * 6
    hasher = client.app[USERS].hasher
    assert hasher.peak == 2  # RTCC_PASSWORD_CONCURRENCY: at most 2 checks at once
    assert hasher.evaluations == 6
    # Six checks two at a time: three rounds. Had a check run on the loop, the loop would have
    # stood still for a whole check at least once; it never stopped for half of one.
    one_check = elapsed / 3
    assert max(gaps) < one_check / 2, (max(gaps), one_check)
