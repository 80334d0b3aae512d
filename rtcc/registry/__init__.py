"""The opt-in registry: consent tiers per camera, footage requests, evidence, audit log, users.

Everything here lives in the durable ``state`` Redis. Modules, from the bottom up:

* :mod:`~rtcc.registry.consent` - pure consent evaluation (tiers, expiry, daily schedules).
* :mod:`~rtcc.registry.txn` - guarded all-or-nothing writes (one Lua script per change).
* :mod:`~rtcc.registry.audit` / :mod:`~rtcc.registry.audit_verify` - the hash-chained audit log.
* :mod:`~rtcc.registry.store` - households, cameras, consent changes and their history.
* :mod:`~rtcc.registry.events` / :mod:`~rtcc.registry.cache` - change events and the
  "is camera X live now?" cache for the hub's per-frame path.
* :mod:`~rtcc.registry.importer` - import from a world file, export to JSON.
* :mod:`~rtcc.registry.area`, :mod:`~rtcc.registry.requests`, :mod:`~rtcc.registry.evidence` -
  the doorbell-request model and the evidence store.
* :mod:`~rtcc.registry.credentials`, :mod:`~rtcc.registry.users` - users, roles, tokens.
* :mod:`~rtcc.registry.api` (+ ``api_*``) - the HTTP API; :mod:`~rtcc.registry.service` - the
  background tasks (boundary events, request expiry, evidence retention).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rtcc.registry.api import setup

__all__ = ["setup"]


def __getattr__(name: str) -> object:
    # ``setup`` is imported when asked for, so that the commands reading this package's pure
    # modules do not load the web layer.
    if name == "setup":
        from rtcc.registry.api import setup

        return setup
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
