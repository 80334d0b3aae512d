"""Exposure broken down by household attribute: the disparate-impact tables of a report.

Any extra property of a household feature in the world file (a census ``tract``, an income band,
tenure...) is an attribute. Text and boolean values, and numbers with few distinct values, are
grouped as they are; numbers with many distinct values are cut into quartiles so that a table
stays readable. Households that lack the attribute form the group ``(missing)``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from rtcc.exposure.results import Group, HouseholdExposure, finer_or_equal

MISSING = "(missing)"
MAX_CATEGORIES = 12
"""More distinct numeric values than this are binned into quartiles."""


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _label(v: Any) -> str:
    if v is None:
        return MISSING
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, str | int | float):
        return str(v)
    return str(v)


def _quartile_labels(values: list[float]) -> list[tuple[float, float, str]]:
    ordered = sorted(values)
    n = len(ordered)
    cuts = [ordered[min(n - 1, (n * q) // 4)] for q in range(1, 4)]
    edges = [ordered[0], *cuts, ordered[-1]]
    bins: list[tuple[float, float, str]] = []
    for i in range(4):
        lo, hi = edges[i], edges[i + 1]
        if bins and lo == bins[-1][0] and hi == bins[-1][1]:
            continue
        bins.append((lo, hi, f"Q{i + 1} {lo:g}–{hi:g}"))
    return bins


def group_values(households: Sequence[HouseholdExposure], key: str) -> list[str]:
    """The group label of every household for attribute ``key``."""
    raw = [h.attributes.get(key) for h in households]
    present = [v for v in raw if v is not None]
    numeric = bool(present) and all(_is_number(v) for v in present)
    if numeric and len(set(present)) > MAX_CATEGORIES:
        bins = _quartile_labels([float(v) for v in present])
        labels = []
        for v in raw:
            if v is None:
                labels.append(MISSING)
                continue
            x = float(v)
            label = bins[-1][2]
            for lo, hi, name in bins:
                if lo <= x <= hi:
                    label = name
                    break
            labels.append(label)
        return labels
    return [_label(v) for v in raw]


def groups(households: Sequence[HouseholdExposure], labels: Sequence[str]) -> tuple[Group, ...]:
    """Exposure per group, largest group first (ties by label)."""
    members: dict[str, list[HouseholdExposure]] = {}
    for h, label in zip(households, labels, strict=True):
        members.setdefault(label, []).append(h)
    non_all = [h for h in households if not h.consenting]
    overall = (sum(1 for h in non_all if h.exposed_by) / len(non_all)) if non_all else None
    out = []
    for label, hs in members.items():
        non = [h for h in hs if not h.consenting]
        exposed = sum(1 for h in non if h.exposed_by)
        leak = exposed / len(non) if non else None
        out.append(Group(
            value=label,
            households=len(hs),
            non_consenting=len(non),
            exposed_non_consenting=exposed,
            consent_leakage=leak,
            mean_streams=sum(len(h.exposed_by) for h in hs) / len(hs),
            entrance_identifiable=sum(1 for h in hs
                                      if finer_or_equal(h.entrance_band, "recognise")),
            leakage_ratio=(leak / overall if leak is not None and overall else None),
        ))
    out.sort(key=lambda g: (-g.households, g.value))
    return tuple(out)


def attribute_keys(households: Sequence[HouseholdExposure]) -> tuple[str, ...]:
    keys: set[str] = set()
    for h in households:
        keys.update(h.attributes)
    return tuple(sorted(keys))


def breakdowns(households: Sequence[HouseholdExposure], keys: tuple[str, ...] | None = None
               ) -> dict[str, tuple[Group, ...]]:
    """Groups for every attribute in ``keys`` (default: every attribute any household has)."""
    chosen = attribute_keys(households) if keys is None else keys
    return {key: groups(households, group_values(households, key)) for key in chosen}
