"""The figures of a Surveillance Impact Report, in the form CCOPS-style ordinances ask for.

Ordinances such as San Francisco Admin Code 19B and Seattle SMC 14.18 (DOMAIN.md) require,
before deployment and every year: what is collected, how long it is kept, with whom it is shared
and under what legal standard, an audit summary, exposure and disparate impact, and total cost.
:func:`impact_report` gathers those from the analysis, the scenario's ``[costs]`` and
``[oversight]`` tables, the settings and (when given) the registry's audit log. Nothing is made
up: an item without an input says so, so that the gap is visible to the council.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from rtcc.exposure.results import StaticResult

HOURS_PER_YEAR = 8760.0
FTE_HOURS_PER_YEAR = 2080.0
"""A full-time position: 40 h x 52 weeks."""
MISSING = "Not provided - the ordinance requires it; supply it in the scenario's [oversight] table."


async def audit_summary(redis: Any) -> dict[str, Any]:
    """Counts of audit events by kind, time span, actors, and whether the hash chain verifies."""
    from rtcc.registry.audit import AuditLog
    from rtcc.registry.audit_verify import verify

    entries = await AuditLog(redis).entries()
    result = await verify(redis)
    by_event = Counter(e.event for e in entries)
    return {
        "entries": len(entries),
        "events": dict(sorted(by_event.items())),
        "actors": len({e.actor for e in entries}),
        "first": entries[0].ts if entries else None,
        "last": entries[-1].ts if entries else None,
        "chain_verified": result.ok,
        "problem": None if result.problem is None else result.problem.message,
    }


def costs(inputs: Mapping[str, Any], live_cameras: int) -> dict[str, Any]:
    """Cost inputs as given, plus what follows from them arithmetically."""
    out: dict[str, Any] = {"inputs": dict(inputs), "derived": {}}
    d = out["derived"]
    contract, years = _num(inputs.get("vendor_contract_usd")), _num(inputs.get("contract_years"))
    cap = _num(inputs.get("contract_camera_cap"))
    if contract is not None and years is not None:
        d["vendor_cost_per_year_usd"] = contract / years
        if cap is not None:
            d["vendor_cost_per_camera_year_at_cap_usd"] = contract / years / cap
        if live_cameras:
            d["vendor_cost_per_live_camera_year_usd"] = contract / years / live_cameras
    staff = _num(inputs.get("wall_staff_on_duty"))
    if staff is not None:
        d["wall_positions_full_time_equivalent"] = staff * HOURS_PER_YEAR / FTE_HOURS_PER_YEAR
    return out


def _num(x: Any) -> float | None:
    """A positive number from the inputs, else None (text inputs are shown, not computed)."""
    if isinstance(x, int | float) and not isinstance(x, bool) and x > 0:
        return float(x)
    return None


def impact_report(result: StaticResult, *, oversight: Mapping[str, Any],
                  cost_inputs: Mapping[str, Any], live_window_s: float,
                  audit: Mapping[str, Any] | None, live: Mapping[str, Any] | None,
                  counterfactuals: list[dict[str, Any]]) -> dict[str, Any]:
    s = result.summary
    live_cams = [c for c in result.cameras if c.live]
    widths = sorted({c.width for c in live_cams})
    worst: dict[str, Any] | None = None
    for key, groups in result.breakdowns.items():
        for g in groups:
            if g.leakage_ratio is not None and g.households >= 5 and (
                    worst is None or g.leakage_ratio > float(worst["leakage_ratio"])):
                worst = {"attribute": key, "value": g.value, "leakage_ratio": g.leakage_ratio,
                         "consent_leakage": g.consent_leakage}
    mitigations = [{"name": c["name"], "consent_leakage": c["summary"].get("consent_leakage"),
                    "description": c["description"]} for c in counterfactuals
                   if c["name"] != "baseline"]
    return {
        "collected": {
            "live_cameras": s.live_cameras,
            "private_live_cameras": s.live_private_cameras,
            "city_live_cameras": s.live_city_cameras,
            "stream_widths_px": widths,
            "non_consenting_households_in_view": s.exposed_non_consenting,
            "audio": "not modelled (doorbell audio carries 12-20 m, beyond the video: DOMAIN.md)",
            "person_seconds_counted": (None if live is None else live.get("frames")),
        },
        "retention": {
            "live_window_seconds": live_window_s,
            "live_storage": "memory-only Redis; nothing older than the live window is kept",
            "evidence_retention_days": oversight.get("evidence_retention_days", MISSING),
            "owner_cloud_retention": "set by each owner's vendor (Ring: 30 days by default, "
                                     "1-180)",
        },
        "sharing": oversight.get("sharing", MISSING),
        "legal_standard": oversight.get("legal_standard", MISSING),
        "audit": audit if audit is not None else
        {"note": "No audit log was read for this report (run `rtcc report --registry`)."},
        "exposure": {
            "consent_leakage": s.consent_leakage,
            "exposed_non_consenting": s.exposed_non_consenting,
            "non_consenting": s.non_consenting,
            "largest_disparity": worst,
        },
        "mitigations": mitigations,
        "costs": costs(cost_inputs, s.live_cameras),
        "complaints_and_violations": "Not recorded by this simulator; the annual report must "
                                     "list them.",
        "other": {k: v for k, v in oversight.items()
                  if k not in ("evidence_retention_days", "sharing", "legal_standard")},
    }
