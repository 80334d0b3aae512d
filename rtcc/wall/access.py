"""Who may watch, and the audit trail of what they watched.

The wall does not keep users or an audit log of its own: tokens are the registry's bearer tokens
and every view start, stop and refusal goes to the registry's tamper-evident audit log. This module
holds the small interfaces the wall's handlers use, so they can be read (and tested) without the
registry's internals; :class:`RegistryAccess` implements both with the real registry
(``rtcc.registry.users.Users`` for tokens, ``rtcc.registry.audit.AuditLog`` for the log).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Protocol

from rtcc.registry.audit import Actor, AuditLog, begin
from rtcc.registry.txn import Txn, commit
from rtcc.registry.users import Users
from rtcc.vocabulary import UserRole

VIEW_ROLES: frozenset[UserRole] = frozenset({"admin", "operator"})
"""Roles that may watch live video (auditors read the log; residents manage their own consent)."""

EVENT_VIEW_START = "live.start"
EVENT_VIEW_STOP = "live.stop"
EVENT_VIEW_REFUSED = "live.refused"
"""Audit events of the wall; the subject is the camera id, details say how (``via`` ws or whep),
why it ended (``reason``), for how long (``seconds``) and what was delivered."""


@dataclass(frozen=True, slots=True)
class Viewer:
    name: str
    role: UserRole
    ip: str
    token_digest: str = ""
    """The sha256 of the token the viewer authenticated with ("" when unknown)."""
    expires: float = float("inf")
    """When that token expires (unix time)."""

    @property
    def may_view(self) -> bool:
        return self.role in VIEW_ROLES


class Authenticator(Protocol):
    async def authenticate(self, token: str, ip: str) -> Viewer:
        """The viewer a bearer token belongs to; raises rtcc.errors.AuthError when invalid."""
        ...


class AuditTrail(Protocol):
    async def record(self, viewer: Viewer, event: str, camera: str,
                     details: dict[str, Any]) -> None:
        """Append one entry (actor, role, IP, event, camera, details) to the audit log."""
        ...


def bearer_token(header: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header (None when absent/other)."""
    if not header:
        return None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


class RegistryAccess:
    """Viewers from the registry's bearer tokens; audit entries into the registry's log.

    Audit appends that arrive together (a page opening 16 tiles at once) are written as one
    batch: one compare-and-set on the chain's head and one fsync of the durable Redis instead
    of sixteen in a row, so the last tile is not 16 round trips late. Each caller still waits
    until its own entry is durable, so no frame leaves before its view is on record."""

    def __init__(self, users: Users, audit: AuditLog) -> None:
        self.users = users
        self.log = audit
        self._pending: list[tuple[Actor, str, str, dict[str, Any], asyncio.Future[None]]] = []
        self._flusher: asyncio.Task[None] | None = None
        self.batches = 0

    async def authenticate(self, token: str, ip: str) -> Viewer:
        grant = await self.users.grant(token)
        return Viewer(grant.user.name, grant.user.role, ip, grant.digest, grant.expires)

    async def record(self, viewer: Viewer, event: str, camera: str,
                     details: dict[str, Any]) -> None:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((Actor(viewer.name, viewer.role, viewer.ip), event, camera,
                              dict(details), future))
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush(), name="wall-audit")
        await asyncio.shield(future)

    async def _flush(self) -> None:
        while self._pending:
            await asyncio.sleep(0)  # let the entries of this moment join the batch
            batch, self._pending = self._pending, []

            async def build(batch: list[Any] = batch) -> tuple[Txn, None]:
                txn = Txn()
                writer = await begin(self.log.redis, txn)
                for actor, event, camera, details, _ in batch:
                    writer.append(actor, event, camera, details)
                return txn, None

            try:
                await commit(self.log.redis, build, what="wall audit")
            except Exception as err:  # the callers decide; each gets the error
                for *_, future in batch:
                    if not future.done():
                        future.set_exception(err)
                        future.exception()  # a caller that went away must not warn later
                continue
            self.batches += 1
            for *_, future in batch:
                if not future.done():
                    future.set_result(None)
