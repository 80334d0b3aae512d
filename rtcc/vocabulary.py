"""The words rtcc's parts share, spelled once: consent tiers, roles and camera worker states.

Each closed set of words is a ``Literal`` type (so mypy checks every field, argument and
comparison that carries one) with the tuple of its values beside it, in the order the project
lists them (a test keeps each tuple equal to its type's arguments). Camera worker states are an
``enum.StrEnum``: a member *is* its string (``CameraState.LIVE == "live"``, ``f"{state}"`` and
``json.dumps`` give ``live``), so the Redis hashes, JSON and Prometheus labels keep the same
bytes; only ``repr`` differs.

Values read from outside (JSON, Redis, flags) are checked against these tuples once, where they
come in; ``if value in TIERS:`` is enough for mypy to treat ``value`` as a ``Tier`` after it.
A module that allows only some of the words (which roles may watch the wall) keeps that policy
as its own named set built from these types.

Floor 0: this module imports nothing from the project.
"""

from __future__ import annotations

import enum
from typing import Literal

Tier = Literal["none", "registry", "request", "live"]
TIERS: tuple[Tier, ...] = ("none", "registry", "request", "live")
"""CONTRACT consent tiers, from least to most shared."""

UserRole = Literal["admin", "operator", "resident", "auditor"]
USER_ROLES: tuple[UserRole, ...] = ("admin", "operator", "resident", "auditor")
"""Roles of the registry's users (:mod:`rtcc.registry.users` says what each may do)."""

ServeRole = Literal["all", "hub", "wall", "analyzer"]
SERVE_ROLES: tuple[ServeRole, ...] = ("all", "hub", "wall", "analyzer")
"""What one ``rtcc serve`` process runs (``--role``): everything, or one part of a scaled-out
deployment (docs/architecture.md, "Scaling out")."""

PersonRole = Literal["resident", "visitor", "delivery", "dog_walker", "passer_by"]
PERSON_ROLES: tuple[PersonRole, ...] = ("resident", "visitor", "delivery", "dog_walker",
                                        "passer_by")
"""CONTRACT roles of the people in a scene (the ``role`` of a subject in the ground-truth SEI)."""

HOUSEHOLD_ROLES: frozenset[PersonRole] = frozenset({"resident", "dog_walker"})
"""People who belong to a household and so share its consent (a resident walking the dog
included); every other person (visitors, deliveries, passers-by) never agreed to be seen."""


class CameraState(enum.StrEnum):
    """CONTRACT states of a camera's ingest worker (the ``state`` of ``rtcc:{cam}:state``)."""

    CONNECTING = "connecting"
    LIVE = "live"
    """Playing, and consent open: frames reach the channels."""
    BACKING_OFF = "backing_off"
    """Waiting before the next attempt (the reason says why and for how long)."""
    GATED = "gated"
    """Playing, consent closed: frames are dropped at the gate."""
    FAILED = "failed"
    """A permanent error (rejected credentials), or retries disabled."""
    STOPPED = "stopped"


CAMERA_STATES: tuple[CameraState, ...] = tuple(CameraState)
"""Every worker state, in the contract's order."""
