"""What each role may know of the registry: the police view, decided here and nowhere else.

Every route, message and count an operator can reach asks this module (docs/security.md, "What
each role can see"). By the camera's **effective tier now**:

=============  ===========================================================================
audience       what it learns of a camera
=============  ===========================================================================
``admin``,     everything (the oversight picture)
``auditor``
``operator``   ``none``: nothing, the camera does not exist (404 like an unknown id, absent
(the police)   from every list, map, count and message);
               ``registry``: position, type and view geometry (what the tier shares, as
               Fusus' "Level 1"), no household, owner or source;
               ``request``: nothing individual: only how many request-tier cameras a fixed
               map cell holds, shown as "fewer than k" below ``k`` (``RTCC_REQUEST_K``);
               ``live``: position, view, tile and owner household (what the owner shares)
``resident``   their own household's cameras, in full; nothing of anyone else's
=============  ===========================================================================

Parcels on the police map carry their geometry only: no household id, tier or residents.

Why request-tier cameras are only a density: an operator who knows where they are can draw the
smallest area around one and learn from a request's counts whether its owner declined (Ring's
model: "law enforcement agencies have no visibility into which customers have received a
request"). Density cells are fixed (a global grid of :data:`DENSITY_CELL_DEG`), never an area the
operator draws, so two cells cannot be subtracted from each other.

Pure: callers pass the tiers they computed for now.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from rtcc.vocabulary import Tier, UserRole

FULL_PICTURE_ROLES: frozenset[UserRole] = frozenset({"admin", "auditor"})
"""Roles that see the whole registry: administration and oversight."""
POLICE_ROLES: frozenset[UserRole] = frozenset({"operator"})
DEFAULT_K = 3
"""Smallest number of request-tier cameras the police may see counted or asked at once."""
DENSITY_CELL_DEG = 0.0025
"""Side of a density cell in degrees: about 280 m north-south and 235 m east-west at 32°N,
roughly the smallest request area (0.025 sq mi), so a cell says no more than a request could."""


class Disclosure(enum.StrEnum):
    """How much of one camera an audience learns."""

    FULL = "full"
    """Every field (admin, auditor; a resident's own cameras)."""
    LIVE = "live"
    """Police, live camera: position, view, tile and owner household."""
    POSITION = "position"
    """Police, registry camera: position, type and view; no household, owner or source."""
    DENSITY = "density"
    """Police, request camera: counted in a density cell only, never shown on its own."""
    HIDDEN = "hidden"
    """The camera does not exist for this audience."""

    @property
    def individual(self) -> bool:
        """Whether the camera may appear on its own (id, position) in a list, map or message."""
        return self in (Disclosure.FULL, Disclosure.LIVE, Disclosure.POSITION)

    @property
    def household(self) -> bool:
        """Whether its owner's household may be shown."""
        return self in (Disclosure.FULL, Disclosure.LIVE)


class HasRole(Protocol):
    @property
    def role(self) -> UserRole: ...

    @property
    def household(self) -> str | None: ...


def fewer_than(k: int) -> str:
    return f"fewer than {k}"


def more_than(n: int) -> str:
    return f"more than {n}"


HIDDEN_COUNT = "hidden"
"""A count withheld because the group is too small for any answer to leave choices open."""


@dataclass(frozen=True, slots=True)
class Audience:
    """Who is looking: a role, their household (residents), and the suppression threshold."""

    role: UserRole
    household: str | None = None
    k: int = DEFAULT_K

    @classmethod
    def of(cls, user: HasRole, k: int = DEFAULT_K) -> Audience:
        return cls(user.role, user.household, k)

    @property
    def sees_everything(self) -> bool:
        return self.role in FULL_PICTURE_ROLES

    @property
    def is_police(self) -> bool:
        return self.role in POLICE_ROLES

    def camera(self, tier: Tier, household: str | None) -> Disclosure:
        """What this audience learns of a camera at effective ``tier`` owned by ``household``."""
        if self.sees_everything:
            return Disclosure.FULL
        if self.is_police:
            return _POLICE.get(tier, Disclosure.HIDDEN)
        if self.role == "resident" and household is not None and household == self.household:
            return Disclosure.FULL
        return Disclosure.HIDDEN

    def count(self, n: int) -> int | str:
        """A count of people's choices as this audience may see it: below ``k`` the police
        read "fewer than k" (0 included, so a suppressed count never tells 0 from 1)."""
        if self.sees_everything or n >= self.k:
            return n
        return fewer_than(self.k)

    def count_among(self, n: int, among: int) -> int | str:
        """A count of choices within a group whose members this audience can name (the
        neighbours a resident's camera sees, listed on their page). Suppressing only small
        counts is not enough there: "4 of these 4 homes have not agreed" tells each one's
        choice. So the count is shown only when it leaves every member's choice open, from
        ``k`` up to ``among - k``; otherwise "fewer than k", "more than among - k", or, for a
        group smaller than ``2k``, nothing at all ("hidden")."""
        if self.sees_everything:
            return n
        if among < 2 * self.k:
            return HIDDEN_COUNT
        if n < self.k:
            return fewer_than(self.k)
        if among - n < self.k:
            return more_than(among - self.k)
        return n

    def parcel(self, household: str, tier: Tier, residents: int) -> dict[str, Any]:
        """The properties of a household's parcel on the map."""
        if self.sees_everything or (self.role == "resident" and household == self.household):
            return {"id": household, "tier": tier, "residents": residents}
        return {}


_POLICE: dict[Tier, Disclosure] = {"none": Disclosure.HIDDEN, "registry": Disclosure.POSITION,
                                   "request": Disclosure.DENSITY, "live": Disclosure.LIVE}


def not_live_message(camera: str) -> str:
    """The one refusal for watching a camera that is not live now, whatever it is (unknown,
    hidden, request, registry): the wording must not tell them apart."""
    return f"no live video for camera {camera}: only cameras shared live can be watched"


def unknown_camera_message(camera: str) -> str:
    """The 404 of an unknown camera, also for one the audience may not know of."""
    return f"unknown camera {camera!r}"


# --- request-tier density --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DensityCell:
    west: float
    south: float
    east: float
    north: float
    count: int | str
    """Request-tier cameras in the cell, or "fewer than k"."""

    def feature(self) -> dict[str, Any]:
        w, s, e, n = (round(v, 7) for v in (self.west, self.south, self.east, self.north))
        return {"type": "Feature",
                "geometry": {"type": "Polygon",
                             "coordinates": [[[w, s], [e, s], [e, n], [w, n], [w, s]]]},
                "properties": {"kind": "request_density", "count": self.count}}


def _cell(value: float) -> int:
    return math.floor(value / DENSITY_CELL_DEG)


def density_cells(points: Iterable[tuple[float, float]],
                  bounds: tuple[float, float, float, float], audience: Audience
                  ) -> list[DensityCell]:
    """Every grid cell meeting ``bounds`` (west, south, east, north) with the number of
    request-tier camera ``points`` (lon, lat) in it, as ``audience`` may see it. Every cell is
    listed, empty ones too, so a missing cell never tells "none" from "fewer than k"; cells are
    cut to ``bounds`` (a map's box holds all its features)."""
    counts: dict[tuple[int, int], int] = {}
    for lon, lat in points:
        key = (_cell(lon), _cell(lat))
        counts[key] = counts.get(key, 0) + 1
    west, south, east, north = bounds
    out = []
    for j in range(_cell(south), _cell(north) + 1):
        for i in range(_cell(west), _cell(east) + 1):
            out.append(DensityCell(max(west, i * DENSITY_CELL_DEG),
                                   max(south, j * DENSITY_CELL_DEG),
                                   min(east, (i + 1) * DENSITY_CELL_DEG),
                                   min(north, (j + 1) * DENSITY_CELL_DEG),
                                   audience.count(counts.get((i, j), 0))))
    return out


# --- the estimate shown while an operator draws a request area ---------------------------------


@dataclass(frozen=True, slots=True)
class AreaEstimate:
    """How many request-tier cameras an area may hold, worked out from the density cells alone
    (never from the cameras themselves): the police learn nothing the map does not show."""

    about: int | str
    """Cells' counts weighted by the share of each cell in the area ("fewer than k" below k)."""
    low: int
    """Counted cameras of the cells wholly inside the area."""
    high: int
    """Every camera the cells meeting the area may hold (k-1 for a "fewer than k" cell)."""
    cells: int
    """Cells meeting the area."""

    def as_json(self) -> dict[str, Any]:
        return {"about": self.about, "low": self.low, "high": self.high, "cells": self.cells}


def area_estimate(points: Iterable[tuple[float, float]],
                  bounds: tuple[float, float, float, float],
                  overlap: Callable[[float, float, float, float], float],
                  audience: Audience) -> AreaEstimate:
    """The estimate for an area with ``bounds`` (west, south, east, north) of which
    ``overlap(west, south, east, north)`` gives the share of a whole cell inside it. Each cell's
    count is taken as ``audience`` sees it on the map (:func:`density_cells`): for the police a
    cell of fewer than k is "somewhere from 0 to k-1". The answer is a function of the public
    cell counts and the drawn area alone, so comparing the answers for two areas tells nothing
    the map does not: the differencing an exact count would allow (finding 6) is not possible."""
    counts: dict[tuple[int, int], int] = {}
    for lon, lat in points:
        key = (_cell(lon), _cell(lat))
        counts[key] = counts.get(key, 0) + 1
    west, south, east, north = bounds
    about = 0.0
    low = high = cells = 0
    half = (audience.k - 1) / 2
    for j in range(_cell(south), _cell(north) + 1):
        for i in range(_cell(west), _cell(east) + 1):
            share = overlap(i * DENSITY_CELL_DEG, j * DENSITY_CELL_DEG,
                            (i + 1) * DENSITY_CELL_DEG, (j + 1) * DENSITY_CELL_DEG)
            if share <= 1e-9:
                continue
            cells += 1
            count = audience.count(counts.get((i, j), 0))
            if isinstance(count, int):
                about += count * share
                high += count
                low += count if share >= 0.999 else 0
            else:
                about += half * share
                high += audience.k - 1
    return AreaEstimate(audience.count(round(about)), low, high, cells)
