"""The self-contained HTML report (and the same figures as JSON) for policymakers and students.

:func:`render_report` takes a :class:`ReportInputs` (a static analysis, and optionally
counterfactuals, an opt-in sweep, program phases, live person-time and an audit summary) and
returns ``(html, figures)``: one HTML page with inline SVG map and charts and an inline style
sheet (no scripts, fonts or images fetched from anywhere), and the JSON-able dict of every figure
on the page. The page answers first, in one sentence, "who is on the wall who never agreed", then
shows where, how it changes with opt-in, what would reduce it, who bears it, and ends with a
Surveillance Impact Report for an oversight ordinance. Section builders live in
:mod:`rtcc.exposure.report_sections`; the page template in ``templates/``.
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from string import Template
from typing import Any

from shapely.geometry.base import BaseGeometry

from rtcc import __version__
from rtcc.exposure import report_sections as sec
from rtcc.exposure.oversight import impact_report
from rtcc.exposure.results import BANDS, StaticResult
from rtcc.exposure.schema import to_document
from rtcc.world.model import World

REPORT_SCHEMA = "rtcc.report"
REPORT_SCHEMA_VERSION = "1.0"


@dataclass(slots=True)
class ReportInputs:
    world: World
    static: StaticResult
    views: Mapping[str, BaseGeometry] | None = None
    counterfactuals: Sequence[Mapping[str, Any]] = ()
    sweep: Mapping[str, Any] | None = None
    """``SweepResult.to_dict()``."""
    phases: Sequence[Mapping[str, Any]] = ()
    """Per program phase: phase, live_cameras, exposed_non_consenting, consent_leakage, ..."""
    live: Mapping[str, Any] | None = None
    """``rtcc.exposure.live.read_aggregates`` output."""
    audit: Mapping[str, Any] | None = None
    title: str | None = None
    lead: str | None = None
    place: str | None = None
    source: str = ""
    time_scale: float = 1.0
    """Simulated seconds per wall second of the run the live figures come from."""
    oversight: Mapping[str, Any] = field(default_factory=dict)
    costs: Mapping[str, Any] = field(default_factory=dict)
    live_window_s: float = 10.0
    generated: str = ""


def live_role_band(live: Mapping[str, Any], time_scale: float = 1.0
                   ) -> dict[str, dict[str, float]]:
    """Non-consenting person-seconds (simulated) by role and band, from live aggregates."""
    out: dict[str, dict[str, float]] = {}
    for row in live.get("streams", []):
        if row["consenting"]:
            continue
        role = out.setdefault(row["role"], {})
        role[row["band"]] = role.get(row["band"], 0.0) + row["seconds"] * time_scale
    return out


def headline(r: StaticResult) -> dict[str, Any]:
    s = r.summary
    return {
        "households": s.households, "non_consenting": s.non_consenting,
        "exposed_non_consenting": s.exposed_non_consenting,
        "consent_leakage": s.consent_leakage, "live_cameras": s.live_cameras,
        "live_private_cameras": s.live_private_cameras, "live_city_cameras": s.live_city_cameras,
        "mean_non_consenting_per_live_camera": s.mean_non_consenting_per_live_camera,
        "trackability": r.trackability.share, "longest_tracked_run_m": r.trackability.longest_run_m,
        "non_consenting_entrance_by_band": dict(s.non_consenting_entrance_by_band),
        "opt_in_rate": (sum(1 for h in r.households if h.consenting) / s.households
                        if s.households else None),
    }


def build_figures(inp: ReportInputs) -> dict[str, Any]:
    """Every figure of the report, JSON-able."""
    r = inp.static
    live = None
    if inp.live is not None:
        by = live_role_band(inp.live, inp.time_scale)
        live = {**dict(inp.live), "time_scale": inp.time_scale,
                "non_consenting_seconds_by_role_band": by,
                "non_consenting_seconds_total": sum(sum(v.values()) for v in by.values())}
    return {
        "schema": REPORT_SCHEMA,
        "schema_version": REPORT_SCHEMA_VERSION,
        "generator": f"rtcc {__version__}",
        "generated": inp.generated,
        "title": inp.title,
        "source": inp.source,
        "headline": headline(r),
        "phases": [dict(p) for p in inp.phases],
        "counterfactuals": [dict(c) for c in inp.counterfactuals],
        "sweep": None if inp.sweep is None else dict(inp.sweep),
        "live": live,
        "impact_report": impact_report(r, oversight=inp.oversight, cost_inputs=inp.costs,
                                       live_window_s=inp.live_window_s, audit=inp.audit,
                                       live=inp.live,
                                       counterfactuals=[dict(c) for c in inp.counterfactuals]),
        "exposure": to_document(r),
    }


def render_report(inp: ReportInputs) -> tuple[str, dict[str, Any]]:
    """(HTML page, figures) of a report."""
    if not inp.generated:
        inp.generated = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    if inp.views is None:
        from rtcc.exposure.static import visibility

        inp.views = visibility(inp.world)
    figures = build_figures(inp)
    r = inp.static
    body = [
        sec.answer(r, figures["headline"]),
        sec.how_to_read(r),
        sec.map_section(inp.world, r, inp.views),
    ]
    if inp.sweep is not None:
        body.append(sec.sweep_section(inp.sweep, figures["headline"]))
    body.append(sec.detail_section(r, figures["live"]))
    if inp.phases:
        body.append(sec.phases_section(inp.phases))
    if inp.counterfactuals:
        body.append(sec.policies_section(inp.counterfactuals))
    body.append(sec.groups_section(r))
    body.append(sec.cameras_section(r))
    body.append(sec.impact_section(figures["impact_report"]))
    body.append(sec.method_section(r))
    css = resources.files("rtcc.exposure").joinpath("templates/report.css").read_text("utf-8")
    page = resources.files("rtcc.exposure").joinpath("templates/report.html").read_text("utf-8")
    title = inp.title or "Who is on the police wall who never agreed?"
    lead = inp.lead or (f"{r.summary.households:,} households, {r.summary.cameras:,} cameras, "
                        f"{r.summary.live_cameras:,} of them streaming live to the police.")
    text = Template(page).substitute(
        title=html.escape(title), lead=html.escape(lead),
        place=html.escape(inp.place or str(r.world.get("name") or "a neighbourhood")),
        css=css, body="\n".join(body), generator=f"rtcc {__version__}",
        generated=html.escape(inp.generated), source=html.escape(inp.source or "a world file"),
        credit=sec.credit(inp.world))
    return text, figures


def sweep_html(result: Any) -> str:
    """A small page with only the opt-in sweep (``rtcc exposure --sweep --format html``)."""
    from rtcc.exposure.charts import leakage_curve

    doc = result.to_dict()
    svg = leakage_curve(doc["leakage_by_rate"], tracking=doc.get("trackability_by_rate", ()))
    css = resources.files("rtcc.exposure").joinpath("templates/report.css").read_text("utf-8")
    rows = "".join(
        f"<tr><td class=num>{r['rate']:.0%}</td><td class=num>{sec.pct(r['median'])}</td>"
        f"<td class=num>{sec.pct(r['min'])} - {sec.pct(r['max'])}</td></tr>"
        for r in doc["leakage_by_rate"])
    return (f"<!DOCTYPE html><html lang=en><head><meta charset=utf-8><title>Opt-in sweep</title>"
            f"<style>{css}</style></head><body><main><h1>If more households opt in</h1>"
            f"<figure>{svg}</figure><table><tr><th class=num>opt-in</th><th class=num>"
            f"leakage (median)</th><th class=num>range</th></tr>{rows}</table>"
            f"<p class=note>{len(doc['seeds'])} seeds x {len(doc['rates'])} rates in "
            f"{doc['seconds']:.1f} s.</p></main></body></html>")


__all__ = ["BANDS", "ReportInputs", "build_figures", "render_report", "sweep_html"]
