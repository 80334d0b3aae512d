"""Users, roles, API tokens and password logins with failure rate limits.

Roles: ``admin`` (users, import, any consent; cannot answer a resident's footage request),
``operator`` (the wall and footage requests; sees only cameras whose owners share them, and only
counts of answers), ``resident`` (bound to one household: its cameras' consent and its pending
requests), ``auditor`` (reads the registry, the requests and the audit log).

Redis: ``keys.user(name)`` hash (role, household, created, revoked, password hash),
``keys.USERS`` set, ``keys.token(sha256)`` hash (user, kind, created, expires; session tokens also
carry a Redis TTL), ``keys.user_tokens(name)`` set. Failed logins are sorted sets of timestamps
per user and per client address (sliding window); ``limits`` says how many failures per window
lock further attempts (HTTP 429 with Retry-After), checked before the password is even hashed.
"""

from __future__ import annotations

import logging
import math
import re
import secrets
import time
from dataclasses import dataclass

import redis.asyncio as aredis

from rtcc import keys
from rtcc.errors import AuthError, Conflict, Forbidden, InvalidInput, NotFound, RateLimited
from rtcc.registry.audit import Actor, begin
from rtcc.registry.consent import format_time
from rtcc.registry.credentials import (
    check_password,
    hash_password,
    new_token,
    token_digest,
    verify_password_async,
)
from rtcc.registry.txn import Txn, commit, text, text_map
from rtcc.vocabulary import USER_ROLES, UserRole

log = logging.getLogger(__name__)

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
SESSION_TTL = 12 * 3600


@dataclass(frozen=True, slots=True)
class LoginLimits:
    window: float = 300.0
    per_user: int = 5
    per_ip: int = 20


@dataclass(frozen=True, slots=True)
class User:
    name: str
    role: UserRole
    household: str | None = None
    created: float = 0.0
    revoked: bool = False
    has_password: bool = False

    def actor(self, ip: str = "") -> Actor:
        return Actor(self.name, self.role, ip, self.household)

    def as_json(self) -> dict[str, object]:
        return {"name": self.name, "role": self.role, "household": self.household,
                "created": format_time(self.created), "revoked": self.revoked,
                "has_password": self.has_password}


@dataclass(frozen=True, slots=True)
class Session:
    user: User
    token: str
    expires: float | None


def check_name(name: object) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise InvalidInput("user name must be 1-64 letters, digits or _.@- (starting with a "
                           "letter or digit)", "name")
    return name


class Users:
    def __init__(self, redis: aredis.Redis, *, limits: LoginLimits | None = None) -> None:
        self.redis = redis
        self.limits = limits or LoginLimits()

    # --- reads ---------------------------------------------------------------------------------

    async def find(self, name: str) -> tuple[User, str | None] | None:
        """The user and their stored password hash, or None."""
        if not isinstance(name, str) or not _NAME.match(name):
            return None
        raw = text_map(await self.redis.hgetall(keys.user(name)))  # type: ignore[misc]
        if not raw:
            return None
        password = raw.get("password") or None
        role = raw.get("role", "")
        if role not in USER_ROLES:
            raise ValueError(f"user {name!r}: unknown role {role!r} in the registry "
                             f"(expected one of {', '.join(USER_ROLES)})")
        return User(name, role, raw.get("household") or None,
                    float(raw.get("created") or 0), raw.get("revoked") == "1",
                    password is not None), password

    async def get(self, name: str) -> User:
        found = await self.find(name)
        if found is None:
            raise NotFound(f"unknown user {name!r}")
        return found[0]

    async def all(self) -> list[User]:
        names = sorted(text(n) or "" for n in await self.redis.smembers(keys.USERS))  # type: ignore[misc]
        out = []
        for name in names:
            found = await self.find(name)
            if found is not None:
                out.append(found[0])
        return out

    # --- changes -------------------------------------------------------------------------------

    async def add(self, name: str, role: str, *, actor: Actor, household: str | None = None,
                  password: str | None = None, now: float | None = None) -> tuple[User, str]:
        """Create a user and their first API token; returns (user, token). The token is shown to
        the caller once and stored only as its sha256."""
        check_name(name)
        if actor.role != "admin":
            raise Forbidden("only an admin may add users")
        if role not in USER_ROLES:
            raise InvalidInput(f"unknown role {role!r} (expected one of {', '.join(USER_ROLES)})",
                               "role")
        if role == "resident" and not household:
            raise InvalidInput("a resident needs --household (the household they belong to)",
                               "household")
        if role != "resident" and household:
            raise InvalidInput(f"only residents belong to a household, not role {role}",
                               "household")
        hashed = hash_password(check_password(password)) if password is not None else ""
        when = time.time() if now is None else now
        token = new_token()
        digest = token_digest(token)

        async def build() -> tuple[Txn, User]:
            if await self.find(name) is not None:
                raise Conflict(f"user {name!r} already exists")
            if household and not await self.redis.exists(keys.household(household)):
                raise InvalidInput(f"unknown household {household!r} (import the registry "
                                   "first)", "household")
            txn = Txn().expect_exists(keys.user(name), False)
            if household:
                txn.expect_exists(keys.household(household))
            txn.hset(keys.user(name), {"name": name, "role": role, "household": household or "",
                                       "created": repr(when), "revoked": "0",
                                       "password": hashed})
            txn.op("SADD", keys.USERS, name)
            _stage_token(txn, name, digest, "api", when, None)
            writer = await begin(self.redis, txn)
            writer.append(actor, "user.created", name,
                          {"role": role, "household": household, "password": bool(hashed)},
                          now=when)
            return txn, User(name, role, household, when, False, bool(hashed))

        user = await commit(self.redis, build, what=f"adding user {name}")
        return user, token

    async def issue_token(self, name: str, *, actor: Actor, now: float | None = None) -> str:
        """A new API token for an existing user (admin only)."""
        if actor.role != "admin":
            raise Forbidden("only an admin may issue tokens")
        when = time.time() if now is None else now
        token = new_token()

        async def build() -> tuple[Txn, str]:
            user = await self.get(name)
            if user.revoked:
                raise Conflict(f"user {name!r} is revoked")
            txn = Txn().expect_hget(keys.user(name), "revoked", "0")
            _stage_token(txn, name, token_digest(token), "api", when, None)
            writer = await begin(self.redis, txn)
            writer.append(actor, "token.issued", name, {"kind": "api"}, now=when)
            return txn, token

        return await commit(self.redis, build, what=f"token for {name}")

    async def revoke(self, name: str, *, actor: Actor, now: float | None = None) -> User:
        """Disable a user and delete every token they hold (sessions included)."""
        if actor.role != "admin":
            raise Forbidden("only an admin may revoke users")

        async def build() -> tuple[Txn, User]:
            user = await self.get(name)
            digests = [text(d) or "" for d in
                       await self.redis.smembers(keys.user_tokens(name))]  # type: ignore[misc]
            txn = Txn().expect_hget(keys.user(name), "revoked", "1" if user.revoked else "0")
            for digest in digests:
                txn.expect_member(keys.user_tokens(name), digest)
                txn.op("DEL", keys.token(digest))
            txn.op("DEL", keys.user_tokens(name))
            txn.hset(keys.user(name), {"revoked": "1"})
            writer = await begin(self.redis, txn)
            writer.append(actor, "user.revoked", name, {"tokens": len(digests)}, now=now)
            return txn, User(user.name, user.role, user.household, user.created, True,
                             user.has_password)

        return await commit(self.redis, build, what=f"revoking {name}")

    # --- authentication ------------------------------------------------------------------------

    async def authenticate(self, token: str) -> User:
        """The user a bearer token belongs to; AuthError for an unknown, expired or revoked one."""
        if not token or len(token) > 200:
            raise AuthError("invalid token")
        raw = text_map(await self.redis.hgetall(keys.token(token_digest(token))))  # type: ignore[misc]
        if not raw:
            raise AuthError("invalid token")
        expires = float(raw["expires"]) if raw.get("expires") else None
        if expires is not None and time.time() >= expires:
            raise AuthError("token expired")
        found = await self.find(raw.get("user", ""))
        if found is None or found[0].revoked:
            raise AuthError("invalid token")
        return found[0]

    async def login(self, name: object, password: object, *, ip: str,
                    now: float | None = None) -> Session:
        """Check a password and open a session token (``SESSION_TTL``), rate-limited."""
        if not isinstance(name, str) or not name:
            raise InvalidInput("username is required", "username")
        if not isinstance(password, str) or not password:
            raise InvalidInput("password is required", "password")
        when = time.time() if now is None else now
        await self._check_limits(name, ip, when)
        found = await self.find(name)
        user, stored = found if found is not None else (None, None)
        ok = await verify_password_async(password, stored)
        if not ok or user is None or user.revoked:
            reason = ("unknown user" if user is None else "revoked" if user.revoked
                      else "no password" if stored is None else "wrong password")
            await self._record_failure(name, ip, reason, when)
            raise AuthError("invalid username or password")
        token = new_token()
        expires = when + SESSION_TTL

        async def build() -> tuple[Txn, Session]:
            txn = Txn().expect_hget(keys.user(name), "revoked", "0")
            _stage_token(txn, name, token_digest(token), "session", when, expires)
            txn.op("DEL", keys.login_failures_user(name))
            writer = await begin(self.redis, txn)
            writer.append(Actor(name, user.role, ip), "login.ok", name,
                          {"expires": format_time(expires)}, now=when)
            return txn, Session(user, token, expires)

        return await commit(self.redis, build, what=f"login of {name}")

    async def logout(self, token: str, *, actor: Actor) -> None:
        digest = token_digest(token)

        async def build() -> tuple[Txn, None]:
            txn = Txn().op("DEL", keys.token(digest))
            txn.op("SREM", keys.user_tokens(actor.name), digest)
            writer = await begin(self.redis, txn)
            writer.append(actor, "logout", actor.name)
            return txn, None

        await commit(self.redis, build, what="logout")

    async def _check_limits(self, name: str, ip: str, now: float) -> None:
        lim = self.limits
        checks = [(keys.login_failures_user(_bucket(name)), lim.per_user, f"user {name!r}"),
                  (keys.login_failures_ip(ip or "unknown"), lim.per_ip, f"address {ip}")]
        for key, limit, what in checks:
            async with self.redis.pipeline(transaction=True) as pipe:
                pipe.zremrangebyscore(key, "-inf", now - lim.window)
                pipe.zcard(key)
                pipe.zrange(key, 0, 0, withscores=True)
                _, count, oldest = await pipe.execute()
            if count >= limit:
                first = float(oldest[0][1]) if oldest else now
                retry = max(1, math.ceil(first + lim.window - now))
                log.warning("login: %d failed attempts for %s in %.0fs; locked for %ds", count,
                            what, lim.window, retry)
                raise RateLimited(f"too many failed logins for {what}; retry in {retry}s", retry)

    async def _record_failure(self, name: str, ip: str, reason: str, now: float) -> None:
        member = f"{now!r}:{secrets.token_hex(4)}"
        ttl = math.ceil(self.limits.window)

        async def build() -> tuple[Txn, None]:
            txn = Txn()
            for key in (keys.login_failures_user(_bucket(name)),
                        keys.login_failures_ip(ip or "unknown")):
                txn.op("ZADD", key, now, member)
                txn.op("EXPIRE", key, ttl)
            writer = await begin(self.redis, txn)
            writer.append(Actor(name, "", ip), "login.failed", name, {"reason": reason},
                          now=now)
            return txn, None

        await commit(self.redis, build, what="login failure")


def _bucket(name: str) -> str:
    """The failure counter of a login name; names no user can have share one counter, so junk
    names cannot create unbounded keys."""
    return name if _NAME.match(name) else "~invalid"


def _stage_token(txn: Txn, name: str, digest: str, kind: str, created: float,
                 expires: float | None) -> None:
    txn.hset(keys.token(digest), {"user": name, "kind": kind, "created": repr(created),
                                  "expires": "" if expires is None else repr(expires)})
    if expires is not None:
        txn.op("EXPIREAT", keys.token(digest), math.ceil(expires))
    txn.op("SADD", keys.user_tokens(name), digest)
