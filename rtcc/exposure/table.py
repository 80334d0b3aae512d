"""Plain-text tables of an exposure analysis (``rtcc exposure --format table``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rtcc.exposure.results import BANDS, StaticResult


def pct(x: float | None, digits: int = 1) -> str:
    return "n/a" if x is None else f"{100.0 * x:.{digits}f} %"


def _grid(header: Sequence[str], rows: Sequence[Sequence[Any]], right: set[int] | None = None
          ) -> list[str]:
    right = right if right is not None else set(range(1, len(header)))
    cells = [[str(c) for c in header]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]

    def fmt(row: list[str]) -> str:
        return "  ".join(c.rjust(w) if i in right else c.ljust(w)
                         for i, (c, w) in enumerate(zip(row, widths, strict=True))).rstrip()

    return [fmt(cells[0]), "  ".join("-" * w for w in widths)] + [fmt(r) for r in cells[1:]]


def render(result: StaticResult, *, source: str = "", top: int = 20,
           counterfactuals: Sequence[dict[str, Any]] = ()) -> str:
    s = result.summary
    w = result.world
    out: list[str] = []
    out.append(f"Exposure analysis of {source or w.get('name') or 'the world'}: "
               f"{w['households']} households, {w['cameras']} cameras; consent from "
               f"{w['consent_source']}; in view = at least {s.min_area_m2:g} m² of the parcel "
               "or the entrance")
    out.append("")
    out.append("Who is on the wall who never agreed")
    rows = [
        ("households", s.households, ""),
        ("non-consenting (not opted in to live)", s.non_consenting, ""),
        ("non-consenting in view of a live camera", s.exposed_non_consenting,
         f"consent leakage {pct(s.consent_leakage)}"),
        ("live cameras", s.live_cameras,
         f"{s.live_private_cameras} private, {s.live_city_cameras} city"),
        ("non-consenting households per live camera",
         f"{s.mean_non_consenting_per_live_camera:.1f}", ""),
        ("view outside the owner's parcel (private)", pct(s.mean_spillover_share), "mean"),
    ]
    for label, value, note in rows:
        out.append(f"  {label:<44} {value!s:>8}  {note}".rstrip())
    out.append("")
    out.append("Non-consenting entrances seen live, at their finest detail band:")
    out.append("  " + " | ".join(f"{b} {s.non_consenting_entrance_by_band[b]}" for b in BANDS))

    live = sorted((c for c in result.cameras if c.live),
                  key=lambda c: (-len(c.non_consenting_in_view), c.id))
    if live:
        out.append("")
        shown = live[:top]
        out.append(f"Live cameras ({len(shown)} of {len(live)}, most non-consenting first)")
        out += ["  " + line for line in _grid(
            ["camera", "owner", "type", "view m²", "outside owner", "in view", "non-consenting",
             "entrances seen"],
            [(c.id, c.household or "-", c.type + ("*" if c.modelled else ""),
              f"{c.visible_area_m2:.0f}",
              pct(c.spillover_share, 0), len(c.households_in_view),
              len(c.non_consenting_in_view),
              sum(1 for iv in c.in_view if iv.entrance_band is not None))
             for c in shown], right={3, 4, 5, 6, 7})]
        if any(c.modelled for c in shown):
            out.append("  * modelled: a camera the world assumes (not mapped or surveyed)")

    exposed = sorted((h for h in result.households if h.exposed_by and not h.consenting),
                     key=lambda h: (-len(h.exposed_by), h.id))
    if exposed:
        out.append("")
        shown_h = exposed[:top]
        out.append(f"Non-consenting households on the wall ({len(shown_h)} of {len(exposed)}, "
                   "most streams first)")
        out += ["  " + line for line in _grid(
            ["household", "consent", "live streams", "entrance seen at", "parcel in view",
             "cameras"],
            [(h.id, h.consent, len(h.exposed_by), h.entrance_band or "-",
              pct(h.parcel_exposed_share, 0), ", ".join(h.exposed_by[:4]) +
              (" ..." if len(h.exposed_by) > 4 else "")) for h in shown_h],
            right={2, 4})]

    if result.coverage:
        out.append("")
        out.append("Street coverage by live cameras (share of length seen at this band or finer)")
        out += ["  " + line for line in _grid(
            ["kind", "length m", *BANDS],
            [(c.kind, f"{c.length_m:.0f}",
              *(pct(c.covered_m[b] / c.length_m if c.length_m else None) for b in BANDS))
             for c in result.coverage])]
    t = result.trackability
    out.append("")
    out.append(f"Trackability: {pct(t.share)} of {t.sidewalk_m:.0f} m of sidewalk is inside some "
               f"live camera's detect band ({t.runs} stretches, longest {t.longest_run_m:.0f} m)")

    for key, all_groups in result.breakdowns.items():
        groups = all_groups[:top]
        out.append("")
        more = f" (the {top} largest of {len(all_groups)} groups)" if len(all_groups) > top \
            else ""
        out.append(f"By {key}{more}")
        out += ["  " + line for line in _grid(
            [key, "households", "non-consenting", "exposed", "leakage", "vs overall",
             "mean streams"],
            [(g.value, g.households, g.non_consenting, g.exposed_non_consenting,
              pct(g.consent_leakage),
              "n/a" if g.leakage_ratio is None else f"{g.leakage_ratio:.2f}x",
              f"{g.mean_streams:.2f}") for g in groups])]

    if counterfactuals:
        out.append("")
        out.append("What if")
        out += ["  " + line for line in _grid(
            ["policy", "leakage", "exposed", "doors recognisable", "sidewalk detect"],
            [(c["name"], pct(c["summary"]["consent_leakage"]),
              c["summary"]["exposed_non_consenting"],
              c["summary"]["non_consenting_entrance_recognisable"],
              pct(c["summary"]["sidewalk_detect_share"])) for c in counterfactuals])]
        for c in counterfactuals:
            out.append(f"  {c['name']}: {c['description']}")
    for note in result.notes:
        out.append(f"note: {note}")
    modelled = w.get("modelled_cameras") or 0
    if modelled:
        out.append(f"note: {modelled} of the {w['cameras']} cameras are modelled (assumed), "
                   "the others mapped")
    if w.get("attribution"):
        out.append(f"Map data {w['attribution']}")
    return "\n".join(out) + "\n"
