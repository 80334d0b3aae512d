"""Users, roles, API tokens with an expiry, and rate-limited password logins.

Roles: ``admin`` (users, import, any consent; cannot answer a resident's footage request),
``operator`` (the wall and footage requests; sees only cameras whose owners share them, and only
counts of answers), ``resident`` (bound to one household: its cameras' consent and its pending
requests), ``auditor`` (reads the registry, the requests and the audit log).

Redis: ``keys.user(name)`` hash (role, household, created, revoked, password hash),
``keys.USERS`` set, ``keys.token(sha256)`` hash (user, kind, created, expires; with a Redis TTL at
its expiry), ``keys.user_tokens(name)`` set.

Every token expires (:class:`UserPolicy`): a browser login (``session``) after ``session_ttl``
(12 h), an API token (``api``) after ``token_ttl`` (30 days) unless issued with its own expiry
(at most ``MAX_TOKEN_TTL``, a year). Tokens written before expiries existed count from their
creation. Revoking a user and logging out publish a :class:`~rtcc.registry.token_events.
TokenEvent` in the same batch, so live views end at once (:mod:`rtcc.registry.token_watch`).

Logins: :mod:`rtcc.registry.login_limits` reserves each password check before it runs;
:class:`~rtcc.registry.credentials.PasswordHasher` runs it off the event loop, a few at a time;
a hash made at another cost than the configured one is replaced at the next successful login.
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
import time
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any

import redis.asyncio as aredis

from rtcc import keys
from rtcc.errors import AuthError, Conflict, Forbidden, InvalidInput, NotFound, TokenExpired
from rtcc.registry import token_events
from rtcc.registry.audit import Actor, begin
from rtcc.registry.consent import format_time, parse_time
from rtcc.registry.credentials import (
    PRODUCTION_COST,
    PasswordCost,
    PasswordHasher,
    check_password,
    new_token,
    token_digest,
)
from rtcc.registry.login_limits import LoginLimits, LoginThrottle
from rtcc.registry.token_events import TokenEvent
from rtcc.registry.txn import Txn, commit, text, text_map
from rtcc.vocabulary import USER_ROLES, UserRole

log = logging.getLogger(__name__)

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")
SESSION_TTL = 12 * 3600.0
"""A browser login's lifetime: one shift."""
TOKEN_TTL = 30 * 86400.0
"""An API token's lifetime unless issued with its own."""
MAX_TOKEN_TTL = 366 * 86400.0
"""The longest lifetime a token may be issued with."""


@dataclass(frozen=True, slots=True)
class UserPolicy:
    """Token lifetimes, login limits and the password hash's cost (from the settings)."""

    session_ttl: float = SESSION_TTL
    token_ttl: float = TOKEN_TTL
    limits: LoginLimits = field(default_factory=LoginLimits)
    cost: PasswordCost = PRODUCTION_COST
    hash_concurrency: int = 2

    @classmethod
    def from_settings(cls, settings: Any) -> UserPolicy:
        s = settings
        return cls(s.session_ttl, s.token_ttl,
                   LoginLimits(s.login_attempts, s.login_window, s.login_per_source,
                               delay_cap=s.login_delay_cap),
                   PasswordCost(s.password_log2_n), s.password_concurrency)


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
    expires: float


@dataclass(frozen=True, slots=True)
class Grant:
    """What a valid token stands for: its user, its digest, its kind and when it expires."""

    user: User
    digest: str
    kind: str
    expires: float


def check_name(name: object) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise InvalidInput("user name must be 1-64 letters, digits or _.@- (starting with a "
                           "letter or digit)", "name")
    return name


class Users:
    def __init__(self, redis: aredis.Redis, *, policy: UserPolicy | None = None) -> None:
        self.redis = redis
        self.policy = policy or UserPolicy()
        self.hasher = PasswordHasher(self.policy.cost,
                                     concurrency=self.policy.hash_concurrency)
        self.throttle = LoginThrottle(redis, self.policy.limits)

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
                  password: str | None = None, expires: object = None,
                  now: float | None = None) -> tuple[User, str]:
        """Create a user and their first API token; returns (user, token). The token is shown to
        the caller once and stored only as its sha256; it expires at ``expires`` (a time or a
        duration such as ``"7d"``; default: the policy's ``token_ttl`` from now)."""
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
        when = time.time() if now is None else now
        until = self.token_expiry(expires, when)
        hashed = await self.hasher.hash(check_password(password)) if password is not None else ""
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
            _stage_token(txn, name, digest, "api", when, until)
            writer = await begin(self.redis, txn)
            writer.append(actor, "user.created", name,
                          {"role": role, "household": household, "password": bool(hashed),
                           "token_expires": format_time(until)}, now=when)
            return txn, User(name, role, household, when, False, bool(hashed))

        user = await commit(self.redis, build, what=f"adding user {name}")
        return user, token

    async def issue_token(self, name: str, *, actor: Actor, expires: object = None,
                          now: float | None = None) -> str:
        """A new API token for an existing user (admin only), expiring at ``expires`` (as in
        :meth:`add`)."""
        if actor.role != "admin":
            raise Forbidden("only an admin may issue tokens")
        when = time.time() if now is None else now
        until = self.token_expiry(expires, when)
        token = new_token()

        async def build() -> tuple[Txn, str]:
            user = await self.get(name)
            if user.revoked:
                raise Conflict(f"user {name!r} is revoked")
            txn = Txn().expect_hget(keys.user(name), "revoked", "0")
            _stage_token(txn, name, token_digest(token), "api", when, until)
            writer = await begin(self.redis, txn)
            writer.append(actor, "token.issued", name,
                          {"kind": "api", "expires": format_time(until)}, now=when)
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
            token_events.stage(txn, TokenEvent("revoked", name, None,
                                               time.time() if now is None else now))
            return txn, User(user.name, user.role, user.household, user.created, True,
                             user.has_password)

        return await commit(self.redis, build, what=f"revoking {name}")

    def token_expiry(self, expires: object, now: float) -> float:
        """When a new API token expires: ``expires`` (a time or a duration from ``now``) or,
        when None, ``token_ttl`` from now; at most :data:`MAX_TOKEN_TTL` ahead."""
        if expires is None or expires == "":
            return now + self.policy.token_ttl
        until = parse_time(expires, UTC, "expires", now=now)
        if until <= now:
            raise InvalidInput(f"expires {format_time(until)} is not in the future", "expires")
        if until > now + MAX_TOKEN_TTL:
            raise InvalidInput(f"expires: a token may live at most "
                               f"{MAX_TOKEN_TTL / 86400:.0f} days", "expires")
        return until

    # --- authentication ------------------------------------------------------------------------

    async def lookup(self, digest: str, now: float | None = None) -> Grant:
        """The grant of a token digest; AuthError for an unknown, expired or revoked one."""
        raw = text_map(await self.redis.hgetall(keys.token(digest)))  # type: ignore[misc]
        if not raw:
            raise AuthError("invalid token")
        kind = raw.get("kind") or "api"
        if raw.get("expires"):
            expires = float(raw["expires"])
        else:  # written before tokens expired: it lives as long as a new one would
            ttl = self.policy.session_ttl if kind == "session" else self.policy.token_ttl
            expires = float(raw.get("created") or 0) + ttl
        if (time.time() if now is None else now) >= expires:
            raise TokenExpired("token expired")
        found = await self.find(raw.get("user", ""))
        if found is None or found[0].revoked:
            raise AuthError("invalid token")
        return Grant(found[0], digest, kind, expires)

    async def grant(self, token: str) -> Grant:
        """The grant of a bearer token; AuthError for an unknown, expired or revoked one."""
        if not token or len(token) > 200:
            raise AuthError("invalid token")
        return await self.lookup(token_digest(token))

    async def authenticate(self, token: str) -> User:
        """The user a bearer token belongs to; AuthError for an unknown, expired or revoked one."""
        return (await self.grant(token)).user

    async def login(self, name: object, password: object, *, ip: str,
                    now: float | None = None) -> Session:
        """Check a password and open a session token (``session_ttl``), throttled
        (:mod:`rtcc.registry.login_limits`)."""
        if not isinstance(name, str) or not name:
            raise InvalidInput("username is required", "username")
        if not isinstance(password, str) or not password:
            raise InvalidInput("password is required", "password")
        valid = bool(_NAME.match(name))
        when = time.time() if now is None else now
        delay = await self.throttle.reserve(name, valid, ip, when)
        if delay > 0:
            log.info("login: %s has failed logins from elsewhere; checking after %.0fs", name,
                     delay)
            await asyncio.sleep(delay)
        found = await self.find(name)
        user, stored = found if found is not None else (None, None)
        ok = await self.hasher.verify(password, stored)
        if not ok or user is None or user.revoked:
            reason = ("unknown user" if user is None else "revoked" if user.revoked
                      else "no password" if stored is None else "wrong password")
            await self._record_failure(name, valid, ip, reason, when)
            raise AuthError("invalid username or password")
        assert stored is not None
        rehashed = None if self.policy.cost.matches(stored) else await self.hasher.hash(password)
        await self.throttle.succeeded(name, ip)
        token = new_token()
        expires = when + self.policy.session_ttl

        async def build() -> tuple[Txn, Session]:
            txn = Txn().expect_hget(keys.user(name), "revoked", "0")
            if rehashed is not None:  # the old hash is still the one we checked
                txn.expect_hget(keys.user(name), "password", stored)
                txn.hset(keys.user(name), {"password": rehashed})
            _stage_token(txn, name, token_digest(token), "session", when, expires)
            writer = await begin(self.redis, txn)
            details: dict[str, Any] = {"expires": format_time(expires)}
            if rehashed is not None:
                details["rehashed"] = True
            writer.append(Actor(name, user.role, ip), "login.ok", name, details, now=when)
            return txn, Session(user, token, expires)

        return await commit(self.redis, build, what=f"login of {name}")

    async def logout(self, token: str, *, actor: Actor) -> None:
        digest = token_digest(token)

        async def build() -> tuple[Txn, None]:
            txn = Txn().op("DEL", keys.token(digest))
            txn.op("SREM", keys.user_tokens(actor.name), digest)
            writer = await begin(self.redis, txn)
            writer.append(actor, "logout", actor.name)
            token_events.stage(txn, TokenEvent("logout", actor.name, digest, time.time()))
            return txn, None

        await commit(self.redis, build, what="logout")

    async def _record_failure(self, name: str, valid: bool, ip: str, reason: str,
                              now: float) -> None:
        async def build() -> tuple[Txn, None]:
            txn = Txn()
            self.throttle.stage_failure(txn, name, valid, now)
            writer = await begin(self.redis, txn)
            writer.append(Actor(name, "", ip), "login.failed", name, {"reason": reason},
                          now=now)
            return txn, None

        await commit(self.redis, build, what="login failure")


def _stage_token(txn: Txn, name: str, digest: str, kind: str, created: float,
                 expires: float) -> None:
    txn.hset(keys.token(digest), {"user": name, "kind": kind, "created": repr(created),
                                  "expires": repr(expires)})
    txn.op("EXPIREAT", keys.token(digest), math.ceil(expires))
    txn.op("SADD", keys.user_tokens(name), digest)
