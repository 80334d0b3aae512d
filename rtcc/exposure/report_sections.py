"""HTML sections of the report, written for a reader who is not a technologist.

Each function returns an HTML fragment. Sentences put the finding first and the number second;
every chart has a caption saying what to look at; jargon is defined where it first appears and
again in the glossary at the end.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

from shapely.geometry.base import BaseGeometry

from rtcc.exposure import charts
from rtcc.exposure.mapsvg import DETAIL_LIMIT, legend, render_map
from rtcc.exposure.results import BANDS, StaticResult, finer_or_equal
from rtcc.vocabulary import PERSON_ROLES
from rtcc.world.model import World


def pct(x: float | None, digits: int | None = None) -> str:
    """A share as a percentage; small non-zero shares keep a decimal (0.7%, not 1%)."""
    if x is None:
        return "n/a"
    if digits is None:
        digits = 1 if 0 < abs(x) < 0.095 else 0
    return f"{100.0 * x:.{digits}f}%"


def esc(x: Any) -> str:
    return html.escape(str(x))


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]], num: set[int],
           cls: str = "") -> str:
    head = "".join(f'<th class="num">{esc(h)}</th>' if i in num else f"<th>{esc(h)}</th>"
                   for i, h in enumerate(header))
    body = []
    for row in rows:
        cells = "".join(f'<td class="num">{c}</td>' if i in num else f"<td>{c}</td>"
                        for i, c in enumerate(row))
        body.append(f"<tr>{cells}</tr>")
    return f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody>' \
           "</table>"


def answer(r: StaticResult, head: Mapping[str, Any]) -> str:
    s = r.summary
    doors = sum(1 for h in r.households
                if not h.consenting and finer_or_equal(h.entrance_band, "observe"))
    sentence = (f"<strong>{s.exposed_non_consenting:,} of the {s.non_consenting:,} households "
                f"that never agreed</strong> to stream to the police &mdash; "
                f"<strong>{pct(s.consent_leakage)}</strong> &mdash; can be seen on the police "
                f"wall, through {s.live_cameras:,} live camera"
                f"{'s' if s.live_cameras != 1 else ''}.")
    if s.non_consenting == 0:
        sentence = "Every household has opted in to live streaming: nobody is on the wall " \
                   "without having agreed."
    cards = [
        (pct(s.consent_leakage), True,
         "of the households that never agreed are visible live (<em>consent leakage</em>)"),
        (f"{s.mean_non_consenting_per_live_camera:.1f}", False,
         "households that did not agree are in view of each live camera, on average"),
        (pct(r.trackability.share), False,
         "of the sidewalks: a walker there is in view of a live camera that can detect a "
         f"person (longest unbroken stretch {r.trackability.longest_run_m:,.0f} m)"),
        (f"{doors:,}", False,
         "front doors of households that did not agree are seen clearly enough to observe "
         "who comes and goes"),
    ]
    html_cards = "".join(
        f'<div class="card"><div class="big{" warn" if warn else ""}">{big}</div>'
        f'<div class="what">{what}</div></div>' for big, warn, what in cards)
    return f'<div class="answer">{sentence}</div><div class="cards">{html_cards}</div>'


def how_to_read(r: StaticResult) -> str:
    return (
        '<div class="howto"><strong>How to read this report</strong><ul>'
        "<li>A household <em>never agreed</em> when it has not opted in to live streaming "
        "itself &mdash; even if it registered its camera or answers police requests for clips. "
        "Passers-by, visitors and delivery drivers never agreed to anything.</li>"
        f"<li>A household is <em>on the wall</em> when a live camera's view covers at least "
        f"{r.summary.min_area_m2:g} m² of its lot or its front door.</li>"
        "<li><em>Detail levels</em> follow the CCTV standard IEC 62676-4: a camera can "
        "<em>identify</em> a stranger close up, <em>recognise</em> someone known a little "
        "further, <em>observe</em> what people do, <em>detect</em> that someone is there, and "
        "beyond that only <em>monitor</em> a crowd.</li></ul></div>")


CLOSE_UP_FROM = 400
"""Households from which the report adds a close-up around the busiest live camera."""


def credit(world: World) -> str:
    """The map data's credit line (a world imported from OpenStreetMap must show it: ODbL)."""
    text = world.properties.get("attribution")
    if not text:
        return ""
    url = world.properties.get("attribution_url")
    licence = world.properties.get("license")
    tail = f", {esc(licence)}" if licence else ""
    # The address as text: the page links to nothing outside itself.
    link = f" ({esc(url)})" if url else ""
    return f'<p class="credit">Map data {esc(text)}{tail}{link}.</p>'


def map_section(world: World, r: StaticResult, views: Mapping[str, BaseGeometry]) -> str:
    svg = render_map(world, r, views=views)
    hover = ("Point at a lot or a camera to see its details. "
             if len(world.households) <= DETAIL_LIMIT else "")
    out = (
        "<h2>Where: the neighbourhood as the wall sees it</h2>"
        f"<figure>{svg}{legend()}<figcaption>Each lot is a household. Yellow fans are what the "
        "live cameras see; orange and red lots belong to households that never agreed but are "
        f"in view anyway. {hover}{_credit_text(world)}</figcaption></figure>")
    live = sorted((c for c in r.cameras if c.live and c.household is not None),
                  key=lambda c: (-len(c.non_consenting_in_view), c.id))
    if len(world.households) >= CLOSE_UP_FROM and live:
        top = live[0]
        x0, y0, x1, y1 = views[top.id].bounds
        pad = 25.0
        close = render_map(world, r, views=views, bbox=(x0 - pad, y0 - pad, x1 + pad, y1 + pad))
        out += (
            f"<h3>Close up: camera {esc(top.id)}</h3>"
            f"<figure>{close}<figcaption>The live camera that shows the most households who "
            f"never agreed: {len(top.non_consenting_in_view)} of them, for one "
            f"{esc(top.type)} on one front door. Point at a lot for its details."
            "</figcaption></figure>")
    return out


def _credit_text(world: World) -> str:
    text = world.properties.get("attribution")
    return f" Map data {esc(text)}." if text else ""


def _at(by_rate: Sequence[Mapping[str, Any]], rate: float) -> float | None:
    best = min(by_rate, key=lambda row: abs(row["rate"] - rate), default=None)
    return None if best is None else best.get("median")


def sweep_section(sweep: Mapping[str, Any], head: Mapping[str, Any]) -> str:
    by_rate = sweep["leakage_by_rate"]
    current = (head["opt_in_rate"], head["consent_leakage"]) if head["opt_in_rate"] is not None \
        else None
    fixed = sweep.get("world") is not None or sweep.get("world_seed") is not None
    svg = charts.leakage_curve(by_rate, current, sweep.get("trackability_by_rate", ()),
                               "range across random draws" if fixed else
                               "range across neighbourhoods")
    at10, at25, at50 = _at(by_rate, 0.10), _at(by_rate, 0.25), _at(by_rate, 0.5)
    n = len(sweep["seeds"])
    return (
        "<h2>If more households join</h2>"
        f"<p>When only one household in ten streams live, a median <strong>{pct(at10)}</strong> of "
        f"the households who did <em>not</em> join are already on the wall; at one in four, "
        f"<strong>{pct(at25)}</strong>; at one in two, <strong>{pct(at50)}</strong>. "
        "Each camera that joins brings its neighbours with it.</p>"
        f"<figure>{svg}<figcaption>Households opting in are drawn at random, {n} times per "
        "opt-in level" + ("" if fixed else ", each time in a newly generated neighbourhood") +
        "; the dark band holds the middle half of those draws, the light band all of them. "
        "The dot is this program today.</figcaption></figure>")


def detail_section(r: StaticResult, live: Mapping[str, Any] | None) -> str:
    parts = ["<h2>How clearly, and whom</h2>"]
    if live is not None and live.get("non_consenting_seconds_by_role_band"):
        by = live["non_consenting_seconds_by_role_band"]
        total = live["non_consenting_seconds_total"]
        unit = "hours" if total >= 3 * 3600 else "minutes"
        scale = 3600.0 if unit == "hours" else 60.0
        parts.append(
            f"<p>During the simulated run the wall showed <strong>{total / scale:,.1f} "
            f"person-{unit}</strong> of people who never agreed "
            f"({live.get('frames', 0):,} delivered frames counted; people hidden by privacy "
            "masks are left out).</p>"
            f"<figure>{charts.role_band_chart(by, unit)}<figcaption>Who was on the wall, and at "
            "what level of detail. Red and orange mean faces were clear enough to identify or "
            "recognise.</figcaption></figure>")
        cols = (*BANDS, "beyond")
        rows = [(esc(charts.ROLE_LABELS[role]),
                 *(f"{by.get(role, {}).get(b, 0.0) / scale:,.1f}" for b in cols))
                for role in PERSON_ROLES if role in by]
        parts.append(_table([f"person-{unit}", *cols], rows, set(range(1, len(cols) + 1))))
    else:
        counts = dict(r.summary.non_consenting_entrance_by_band)
        parts.append(
            "<p>Front doors matter most: who comes and goes shows there. For the households that "
            "never agreed, this is the finest level of detail at which a live camera sees their "
            "front door.</p>"
            f"<figure>{charts.band_counts_chart(counts, 'Households')}"
            "<figcaption>Front doors of households that never agreed, by the finest detail at "
            "which a live camera sees them. Live person-time by role (residents, visitors, "
            "delivery drivers, dog walkers, passers-by) appears here when the report is made "
            "after a live run "
            "(<code>rtcc report --live</code>).</figcaption></figure>")
    rows = [(esc(c.kind), f"{c.length_m:,.0f}",
             *(pct(c.covered_m[b] / c.length_m if c.length_m else None) for b in BANDS))
            for c in r.coverage]
    if rows:
        parts.append("<h3>Streets and sidewalks in view, by level of detail</h3>")
        parts.append(_table(["", "length (m)", *(f"{b} or finer" for b in BANDS)], rows,
                            set(range(1, 7))))
    return "".join(parts)


def phases_section(phases: Sequence[Mapping[str, Any]]) -> str:
    svg = charts.phases_chart(phases)
    rows = [(esc(p["phase"]), esc(p.get("note", "")), f"{p['live_cameras']:,}",
             f"{p['exposed_non_consenting']:,}", pct(p.get("consent_leakage"), 1),
             pct(p.get("trackability"), 1)) for p in phases]
    first, last = phases[0], phases[-1]
    return (
        "<h2>As the program grows</h2>"
        f"<p>From {esc(first['phase'])} ({first['live_cameras']:,} live cameras) to "
        f"{esc(last['phase'])} ({last['live_cameras']:,}), the households on the wall without "
        f"having agreed go from <strong>{first['exposed_non_consenting']:,}</strong> to "
        f"<strong>{last['exposed_non_consenting']:,}</strong>.</p>"
        f"<figure>{svg}</figure>"
        + _table(["stage", "", "live cameras", "never agreed, on the wall", "consent leakage",
                  "sidewalk trackable"], rows, {2, 3, 4, 5}))


def policies_section(cfs: Sequence[Mapping[str, Any]]) -> str:
    labels = {"baseline": "As it is", "masks-ring": "Privacy masks (Ring-style)",
              "masks-world": "The cameras' own masks", "request-only": "Requests only, no live"}
    rows_chart = []
    rows = []
    for c in cfs:
        s = c["summary"]
        label = labels.get(c["name"], c["name"].replace("cap-", "Stream capped at ") +
                           (" px" if c["name"].startswith("cap-") else ""))
        rows_chart.append({"label": label, "leakage": s.get("consent_leakage")})
        rows.append((esc(label), pct(s.get("consent_leakage")),
                     f"{s.get('exposed_non_consenting', 0):,}",
                     f"{s.get('non_consenting_entrance_recognisable', 0):,}",
                     pct(s.get("sidewalk_detect_share")), esc(c["description"])))
    extra = ""
    req = next((c for c in cfs if c["name"] == "request-only"), None)
    if req is not None:
        s = req["summary"]
        extra = (f"<p class=note>Requests only: a single request covering the whole area could "
                 f"reach {s.get('non_consenting_a_request_could_expose', 0):,} households that "
                 f"never agreed; with {pct(s.get('approval_rate_assumed'))} of owners approving "
                 f"(an assumption), about {s.get('expected_exposed_per_area_wide_request', 0):,.0f}"
                 " would appear in the clips &mdash; for the requested window only, not around "
                 "the clock.</p>")
    return (
        "<h2>What would reduce it</h2>"
        "<p>The same neighbourhood under other rules. Masks and resolution caps change what "
        "the wall can see; only taking private cameras off live streaming removes most of the "
        "exposure.</p>"
        f"<figure>{charts.policy_bars(rows_chart)}</figure>"
        + _table(["policy", "consent leakage", "households", "doors recognisable",
                  "sidewalk detectable", "what changes"], rows, {1, 2, 3, 4}) + extra)


def groups_section(r: StaticResult) -> str:
    if not r.breakdowns:
        return ""
    parts = ["<h2>Who bears it</h2><p>Exposure is not spread evenly. A ratio above 1 means the "
             "households of that group who did not agree are on the wall more often than "
             "households overall.</p>"]
    overall = r.summary.consent_leakage
    for key, groups in r.breakdowns.items():
        gdicts = [{"value": g.value, "consent_leakage": g.consent_leakage} for g in groups]
        parts.append(f"<h3>By {esc(key)}</h3>")
        if len(groups) <= 12:
            parts.append(f"<figure>{charts.group_chart(key, gdicts, overall)}</figure>")
        rows = [(esc(g.value), f"{g.households:,}", f"{g.non_consenting:,}",
                 f"{g.exposed_non_consenting:,}", pct(g.consent_leakage),
                 "n/a" if g.leakage_ratio is None else f"{g.leakage_ratio:.2f}",
                 f"{g.mean_streams:.2f}") for g in groups[:20]]
        parts.append(_table([key, "households", "never agreed", "on the wall",
                             "consent leakage", "ratio to overall", "live cameras per home"],
                            rows, {1, 2, 3, 4, 5, 6}))
    return "".join(parts)


def cameras_section(r: StaticResult, top: int = 15) -> str:
    live = sorted((c for c in r.cameras if c.live),
                  key=lambda c: (-len(c.non_consenting_in_view), c.id))[:top]
    if not live:
        return ""
    rows = [(esc(c.id), esc(c.type) + (" (modelled)" if c.modelled else ""),
             esc(c.household or ("city" if c.type == "city" else "-")),
             f"{len(c.non_consenting_in_view)}",
             sum(1 for iv in c.in_view if iv.entrance_band and not iv.consenting),
             pct(c.spillover_share) if c.spillover_share is not None else "&ndash;",
             f"{c.visible_area_m2:,.0f}") for c in live]
    return ("<h2>The cameras that show the most neighbours</h2>"
            + _table(["camera", "type", "owner", "households who never agreed",
                      "their front doors", "view outside the owner's lot", "view (m²)"],
                     rows, {3, 4, 5, 6}))


def _label(key: str) -> str:
    """``vendor_cost_per_year_usd`` -> ``Vendor cost per year ($)``."""
    text = key.replace("_usd", " ($)").replace("_", " ")
    return text[:1].upper() + text[1:]


def _fmt(v: Any, key: str = "") -> str:
    if key.endswith("_usd") and isinstance(v, int | float) and not isinstance(v, bool):
        return f"${v:,.0f}" if v >= 100 else f"${v:,.2f}"
    if isinstance(v, float):
        return f"{v:,.2f}"
    if isinstance(v, int) and not isinstance(v, bool):
        return f"{v:,}"
    if isinstance(v, Mapping):
        return "; ".join(f"{esc(_label(str(k)))}: {_fmt(x, str(k))}"
                         for k, x in v.items()) or "&ndash;"
    if isinstance(v, list):
        return ", ".join(_fmt(x) for x in v) or "&ndash;"
    return esc(v)


def impact_section(ir: Mapping[str, Any]) -> str:
    c, ret, exp = ir["collected"], ir["retention"], ir["exposure"]
    worst = exp.get("largest_disparity")
    disparity = ("no group stands out" if worst is None else
                 f"households with {esc(worst['attribute'])} = {esc(worst['value'])}: "
                 f"{worst['leakage_ratio']:.2f} times the overall rate")
    audit = ir["audit"]
    if "entries" in audit:
        chain = ("verified" if audit["chain_verified"] else
                 f"BROKEN: {esc(audit['problem'])}")
        audit_text = (f"{audit['entries']:,} entries by {audit['actors']} users from "
                      f"{esc(audit['first'])} to {esc(audit['last'])}; hash chain {chain}. "
                      f"Events: {_fmt(audit['events'])}")
    else:
        audit_text = esc(audit["note"])
    mit = "; ".join(f"{esc(m['name'])}: leakage {pct(m['consent_leakage'])}"
                    for m in ir["mitigations"]) or "none evaluated"
    costs = ir["costs"]
    rows = [
        ("What is collected", f"Live video from {c['live_cameras']:,} cameras "
         f"({c['private_live_cameras']:,} private, {c['city_live_cameras']:,} city) at "
         f"{_fmt(c['stream_widths_px'])} pixels wide; it shows "
         f"{c['non_consenting_households_in_view']:,} households that never agreed. "
         f"Audio: {esc(c['audio'])}."),
        ("How long it is kept", f"Live channel: {ret['live_window_seconds']:g} seconds, "
         f"{esc(ret['live_storage'])}. Evidence clips: {_fmt(ret['evidence_retention_days'])} "
         f"days. Owners' own recordings: {esc(ret['owner_cloud_retention'])}."),
        ("Who it is shared with", _fmt(ir["sharing"])),
        ("Legal standard", _fmt(ir["legal_standard"])),
        ("Audit", audit_text),
        ("Exposure", f"Consent leakage {pct(exp['consent_leakage'])}: "
         f"{exp['exposed_non_consenting']:,} of {exp['non_consenting']:,} non-consenting "
         "households."),
        ("Disparate impact", disparity),
        ("Mitigations evaluated", mit),
        ("Cost inputs", _fmt(costs["inputs"]) or "none given"),
        ("Cost, derived", _fmt(costs["derived"]) or "nothing can be derived from the inputs"),
        ("Complaints and violations", esc(ir["complaints_and_violations"])),
    ]
    if ir.get("other"):
        rows.append(("Other program terms", _fmt(ir["other"])))
    body = "".join(f"<tr><th>{esc(k)}</th><td>{v}</td></tr>" for k, v in rows)
    return ("<h2>Surveillance Impact Report</h2><p>In the form oversight ordinances ask for "
            "(for example San Francisco Administrative Code 19B, Seattle SMC 14.18): what is "
            "collected, how long it is kept, with whom it is shared and under what authority, "
            "the audit record, exposure and disparate impact, and cost. Items the program has "
            "not specified are marked so.</p>"
            f'<table class="sir"><tbody>{body}</tbody></table>')


def method_section(r: StaticResult) -> str:
    widths = sorted({c.width for c in r.cameras if c.live})
    return (
        "<h2>Method and definitions</h2><dl class=gloss>"
        "<dt>Consent tiers</dt><dd><em>none</em> (not shared); <em>registry</em> (the police "
        "know where the camera is); <em>request</em> (police may ask the owner for a clip); "
        "<em>live</em> (the camera streams to the police wall).</dd>"
        "<dt>On the wall / in view</dt><dd>A live camera's view &mdash; its field of view out "
        "to its range, with every building blocking it except the one it hangs on &mdash; "
        f"covers at least {r.summary.min_area_m2:g} m² of the lot, or the front door. A "
        "camera's owner always counts as in view of it.</dd>"
        "<dt>Consent leakage</dt><dd>Households that never agreed but are on the wall, divided "
        "by all households that never agreed.</dd>"
        "<dt>Detail levels (DORI)</dt><dd>Pixels per metre at the person: identify 250, "
        "recognise 125, observe 62.5, detect 25, monitor 12.5. They depend on the lens and on "
        f"the picture the police receive (here {_fmt(widths)} pixels wide): a vendor that caps "
        "the police stream at 640 pixels cuts every distance to a third.</dd>"
        "<dt>Trackability</dt><dd>The share of sidewalk length where a walker is inside some "
        "live camera's detect range: along those stretches a person can be followed.</dd>"
        "<dt>Limits</dt><dd>The map is flat: trees, fences, hedges, windows and night are not "
        "modelled, so views are upper bounds; audio is not counted. Unless a real world file "
        "was used, the neighbourhood is synthetic and its rates are stated assumptions.</dd>"
        f"{_real_place(r)}"
        "</dl>")


def _real_place(r: StaticResult) -> str:
    """What is real and what is assumed, for a world imported from map data."""
    w = r.world
    if not w.get("attribution"):
        return ""
    modelled = sum(1 for c in r.cameras if c.modelled)
    mapped = len(r.cameras) - modelled
    return (
        "<dt>Real place, assumed cameras</dt><dd>The streets and buildings are real map data "
        f"({esc(w['attribution'])}). Of the {len(r.cameras):,} cameras, {mapped:,} are mapped "
        f"(real positions, from the map) and {modelled:,} are <em>modelled</em>: doorbells, "
        "floodlights and business cameras placed at published adoption rates, because nobody "
        "maps them. Who consents is modelled for every camera. Lots are derived from the "
        "buildings and streets (the map has no property lines), and each household is one "
        "dwelling: the dwellings of one building share its lot.</dd>")
