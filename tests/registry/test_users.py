"""Users, tokens (stored only hashed), scrypt passwords, and login rate limits."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
import redis.asyncio as aredis

from rtcc import keys
from rtcc.errors import AuthError, Conflict, Forbidden, InvalidInput
from rtcc.registry.audit import Actor, AuditLog
from rtcc.registry.credentials import hash_password, verify_password
from rtcc.registry.store import Registry
from rtcc.registry.users import Users
from tests.conftest import TEST_POLICY

from .conftest import ADMIN, Api, snapshot


async def every_value(redis: aredis.Redis) -> bytes:
    """All keys and string/hash/set/list values, concatenated: to search for leaked secrets."""
    out: list[Any] = []
    for key in await redis.keys("*"):
        out.append(key)
        kind = await redis.type(key)
        kind = kind.decode() if isinstance(kind, bytes) else kind
        if kind == "string":
            out.append(await redis.get(key))
        elif kind == "hash":
            for k, v in (await redis.hgetall(key)).items():
                out += [k, v]
        elif kind == "set":
            out += list(await redis.smembers(key))
        elif kind == "list":
            out += await redis.lrange(key, 0, -1)
    return b"\n".join(out)


async def test_tokens_are_stored_only_as_sha256(registry: Registry, redis: aredis.Redis) -> None:
    users = Users(redis)
    user, token = await users.add("alice", "resident", actor=ADMIN, household="h1")
    assert token.startswith("rtcc_") and len(token) == 5 + 43  # 32 random bytes, base64url
    assert (await users.authenticate(token)).name == "alice"
    digest = hashlib.sha256(token.encode()).hexdigest()
    assert await redis.hget(keys.token(digest), "user") == b"alice"
    assert token.encode() not in await every_value(redis)
    second = await users.issue_token("alice", actor=ADMIN)
    assert second != token and (await users.authenticate(second)).household == "h1"
    with pytest.raises(AuthError):
        await users.authenticate(token[:-1] + ("A" if token[-1] != "A" else "B"))


async def test_revoking_a_user_kills_every_token(registry: Registry, redis: aredis.Redis) -> None:
    users = Users(redis)
    _, token = await users.add("bob", "operator", actor=ADMIN)
    other = await users.issue_token("bob", actor=ADMIN)
    user = await users.revoke("bob", actor=ADMIN)
    assert user.revoked
    for t in (token, other):
        with pytest.raises(AuthError):
            await users.authenticate(t)
    assert await redis.exists(keys.user_tokens("bob")) == 0
    events = [e.event for e in await AuditLog(redis).entries()]
    assert events[-3:] == ["user.created", "token.issued", "user.revoked"]


@pytest.mark.parametrize("name, role, household, error, field", [
    ("x y", "operator", None, InvalidInput, "name"),
    ("carol", "chief", None, InvalidInput, "role"),
    ("carol", "resident", None, InvalidInput, "household"),
    ("carol", "resident", "h99", InvalidInput, "household"),
    ("carol", "operator", "h1", InvalidInput, "household"),
])
async def test_bad_users_are_refused(registry: Registry, redis: aredis.Redis, name: str,
                                     role: str, household: str | None, error: type,
                                     field: str) -> None:
    before = await snapshot(redis)
    with pytest.raises(error) as err:
        await Users(redis).add(name, role, actor=ADMIN, household=household)
    assert getattr(err.value, "field", None) == field
    assert await snapshot(redis) == before


async def test_duplicates_and_non_admins(registry: Registry, redis: aredis.Redis) -> None:
    users = Users(redis)
    await users.add("dave", "auditor", actor=ADMIN)
    with pytest.raises(Conflict):
        await users.add("dave", "auditor", actor=ADMIN)
    with pytest.raises(Forbidden):
        await users.add("eve", "admin", actor=Actor("dave", "auditor"))
    with pytest.raises(InvalidInput):
        await users.add("frank", "operator", actor=ADMIN, password="short")


async def test_a_stored_role_outside_the_vocabulary_names_the_user(registry: Registry,
                                                                  redis: aredis.Redis) -> None:
    users = Users(redis)
    _, token = await users.add("gina", "operator", actor=ADMIN)
    await redis.hset(keys.user("gina"), "role", "chief")  # written past the registry's checks
    with pytest.raises(ValueError, match=r"^user 'gina': unknown role 'chief' in the registry "
                       r"\(expected one of admin, operator, resident, auditor\)$"):
        await users.authenticate(token)


def test_password_hash_is_scrypt_with_salt() -> None:
    cheap = TEST_POLICY.cost
    a, b = hash_password("correct horse", cheap), hash_password("correct horse", cheap)
    assert a != b  # per-user salt
    scheme, n, r, p, salt, digest = a.split("$")
    assert (scheme, n, r, p) == ("scrypt", "1024", "8", "1")
    assert verify_password("correct horse", a) and not verify_password("Correct horse", a)
    assert not verify_password("correct horse", "md5$junk")


# --- login over HTTP ---------------------------------------------------------------------------


async def test_login_and_logout(api: Api) -> None:
    await Users(api.redis, policy=TEST_POLICY).add("gina", "operator", actor=ADMIN,
                                                   password="s3cret-words")
    status, body = await api.call("POST", "/api/login",
                                  json={"username": "gina", "password": "s3cret-words"})
    assert status == 200 and body["user"]["role"] == "operator" and body["expires"]
    token = body["token"]
    headers = {"Authorization": f"Bearer {token}"}
    status, me = await api.call("GET", "/api/me", headers=headers)
    assert status == 200 and me["name"] == "gina"
    status, _ = await api.call("POST", "/api/logout", headers=headers)
    assert status == 200
    status, err = await api.call("GET", "/api/me", headers=headers)
    assert status == 401 and err["error"] == "invalid token"
    events = [(e.event, e.actor) for e in await AuditLog(api.redis).entries()][-2:]
    assert events == [("login.ok", "gina"), ("logout", "gina")]


async def test_failed_logins_are_limited_per_user(api: Api) -> None:
    await Users(api.redis, policy=TEST_POLICY).add("hank", "operator", actor=ADMIN,
                                                   password="right-password")
    for _ in range(5):
        status, body = await api.call("POST", "/api/login",
                                      json={"username": "hank", "password": "wrong-password"})
        assert status == 401 and body == {"error": "invalid username or password",
                                          "field": None}
    resp = await api.client.post("/api/login",
                                 json={"username": "hank", "password": "right-password"})
    assert resp.status == 429
    assert 295 <= int(resp.headers["Retry-After"]) <= 300
    assert "too many login attempts" in (await resp.json())["error"]
    # Unknown users fail the same way (no user enumeration), and count too.
    status, body = await api.call("POST", "/api/login",
                                  json={"username": "nobody", "password": "whatever-1"})
    assert status == 401 and body["error"] == "invalid username or password"
    failed = [e for e in await AuditLog(api.redis).entries() if e.event == "login.failed"]
    assert len(failed) == 6 and failed[0].details == {"reason": "wrong password"}
    assert failed[-1].details == {"reason": "unknown user"} and failed[-1].ip == "127.0.0.1"


async def test_failed_logins_are_limited_per_address(api: Api) -> None:
    users = Users(api.redis, policy=TEST_POLICY)
    await users.add("ivy", "operator", actor=ADMIN, password="ivy-password")
    # 20 failures from one address over 5 different names (4 each, under the per-user limit).
    for i in range(20):
        status, _ = await api.call("POST", "/api/login",
                                   json={"username": f"guess{i % 5}", "password": "nope-nope"})
        assert status == 401
    status, _ = await api.call("POST", "/api/login",
                               json={"username": "ivy", "password": "ivy-password"})
    assert status == 429


async def test_bad_tokens(api: Api) -> None:
    for headers in ({}, {"Authorization": "Bearer"}, {"Authorization": "Basic Zm9vOmJhcg=="},
                    {"Authorization": "Bearer rtcc_not-a-real-token"}):
        resp = await api.client.get("/api/me", headers=headers)
        assert resp.status == 401
        assert resp.headers["WWW-Authenticate"].startswith("Bearer")
        body = await resp.json()
        assert set(body) == {"error", "field"} and body["error"]
