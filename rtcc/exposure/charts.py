"""The report's charts as inline SVG (matplotlib, no pyplot, no files, no external fonts).

Each function returns an ``<svg>`` string ready to paste into the HTML. Text stays text
(``svg.fonttype = none``) so it is crisp and uses the page's font; clip-path ids are salted with
the chart's name so several charts on one page never clash and the output is deterministic.
Colours are the Okabe-Ito colour-blind-safe palette.
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping, Sequence
from typing import Any

import matplotlib
from matplotlib.figure import Figure

from rtcc.vocabulary import PersonRole

BLUE, ORANGE, VERMILLION, GREEN = "#0072B2", "#E69F00", "#D55E00", "#009E73"
SKY, YELLOW, PURPLE, GREY = "#56B4E9", "#F0E442", "#CC79A7", "#888888"
ROLE_COLOURS: dict[PersonRole, str] = {
    "resident": BLUE, "visitor": ORANGE, "delivery": GREEN, "dog_walker": PURPLE, "passer_by": SKY}
ROLE_LABELS: dict[PersonRole, str] = {
    "resident": "Residents", "visitor": "Visitors", "delivery": "Delivery drivers",
    "dog_walker": "Dog walkers", "passer_by": "Passers-by"}
BAND_LABELS = {"identify": "Identify (a stranger's face)", "recognise": "Recognise (someone known)",
               "observe": "Observe (what they do)", "detect": "Detect (a person is there)",
               "monitor": "Monitor (a crowd)", "beyond": "Beyond monitor"}
BAND_ORDER = ("identify", "recognise", "observe", "detect", "monitor", "beyond")
_TEXT = "#222222"


def _figure(width: float = 7.0, height: float = 3.6) -> Figure:
    fig = Figure(figsize=(width, height), dpi=100)
    fig.patch.set_alpha(0.0)
    return fig


def _style(ax: Any) -> None:
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.tick_params(colors=_TEXT, labelsize=10)
    ax.yaxis.label.set_color(_TEXT)
    ax.xaxis.label.set_color(_TEXT)
    ax.grid(axis="y", color="#dddddd", linewidth=0.8)
    ax.set_axisbelow(True)


def to_svg(fig: Figure, name: str) -> str:
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": f"rtcc-{name}",
                                "font.family": "sans-serif"}):
        buf = io.StringIO()
        fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
    svg = buf.getvalue()
    svg = svg[svg.index("<svg"):]
    # Responsive: keep the viewBox, let CSS size it.
    svg = re.sub(r'<svg([^>]*?) width="[^"]*" height="[^"]*"', r"<svg\1", svg, count=1)
    return svg.replace("<svg", f'<svg role="img" aria-label="{name}" class="chart"', 1)


def _pct_axis(ax: Any, axis: str = "y") -> None:
    from matplotlib.ticker import PercentFormatter

    (ax.yaxis if axis == "y" else ax.xaxis).set_major_formatter(PercentFormatter(1.0, decimals=0))


def leakage_curve(by_rate: Sequence[Mapping[str, Any]],
                  current: tuple[float, float | None] | None = None,
                  tracking: Sequence[Mapping[str, Any]] = (),
                  spread: str = "range across neighbourhoods") -> str:
    """Consent leakage against opt-in rate: median line, quartile band and min-max band."""
    rows = [r for r in by_rate if r.get("median") is not None]
    fig = _figure(7.0, 4.2)
    ax = fig.add_subplot()
    _style(ax)
    if rows:
        x = [r["rate"] for r in rows]
        ax.fill_between(x, [r["min"] for r in rows], [r["max"] for r in rows], color=VERMILLION,
                        alpha=0.12, linewidth=0, label=spread)
        ax.fill_between(x, [r["q1"] for r in rows], [r["q3"] for r in rows], color=VERMILLION,
                        alpha=0.28, linewidth=0, label="middle half")
        ax.plot(x, [r["median"] for r in rows], color=VERMILLION, linewidth=2.2,
                label="non-consenting households on the wall (median)")
    trows = [r for r in tracking if r.get("median") is not None]
    if trows:
        ax.plot([r["rate"] for r in trows], [r["median"] for r in trows], color=BLUE,
                linewidth=1.8, linestyle="--", label="sidewalk a walker can be followed on")
    if current is not None and current[1] is not None:
        ax.plot([current[0]], [current[1]], marker="o", markersize=9, color="black",
                linestyle="none", label="this program today")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    _pct_axis(ax, "x")
    _pct_axis(ax, "y")
    ax.set_xlabel("Households that opt in to live streaming")
    ax.set_ylabel("Share of those who did not opt in")
    ax.legend(frameon=False, fontsize=9, loc="upper center", bbox_to_anchor=(0.5, -0.2),
              ncol=2)
    return to_svg(fig, "leakage-curve")


def role_band_chart(seconds: Mapping[str, Mapping[str, float]], unit: str = "hours") -> str:
    """Stacked horizontal bars: person-time of non-consenting people by role, split by band."""
    roles = [r for r in ROLE_LABELS if r in seconds]
    fig = _figure(7.0, 0.55 * max(3, len(roles)) + 1.2)
    ax = fig.add_subplot()
    _style(ax)
    ax.grid(axis="x", color="#dddddd", linewidth=0.8)
    ax.grid(axis="y", visible=False)
    scale = 3600.0 if unit == "hours" else 60.0 if unit == "minutes" else 1.0
    left = [0.0] * len(roles)
    shades = {"identify": VERMILLION, "recognise": ORANGE, "observe": YELLOW, "detect": SKY,
              "monitor": "#bbbbbb", "beyond": "#dddddd"}
    for band in BAND_ORDER:
        vals = [seconds[r].get(band, 0.0) / scale for r in roles]
        if not any(vals):
            continue
        ax.barh(range(len(roles)), vals, left=left, color=shades[band],
                label=BAND_LABELS[band], edgecolor="white", linewidth=0.6)
        left = [a + b for a, b in zip(left, vals, strict=True)]
    ax.set_yticks(range(len(roles)), [ROLE_LABELS[r] for r in roles])
    ax.invert_yaxis()
    ax.set_xlabel(f"Person-{unit} on the wall (people who never agreed)")
    ax.legend(frameon=False, fontsize=8.5, loc="lower right")
    return to_svg(fig, "role-band")


def band_counts_chart(counts: Mapping[str, int], title: str) -> str:
    """Vertical bars: households per finest band at which their entrance is seen."""
    bands = [b for b in BAND_ORDER if b in counts]
    fig = _figure(6.0, 2.6)
    ax = fig.add_subplot()
    _style(ax)
    colours = [VERMILLION, ORANGE, YELLOW, SKY, "#bbbbbb", "#dddddd"]
    ax.bar(range(len(bands)), [counts[b] for b in bands],
           color=colours[:len(bands)], edgecolor="#666666", linewidth=0.5)
    ax.set_xticks(range(len(bands)), [b.capitalize() for b in bands])
    for i, b in enumerate(bands):
        ax.annotate(str(counts[b]), (i, counts[b]), ha="center", va="bottom", fontsize=10,
                    xytext=(0, 2), textcoords="offset points")
    ax.set_ylabel(title)
    return to_svg(fig, "band-counts")


def policy_bars(rows: Sequence[Mapping[str, Any]]) -> str:
    """Consent leakage under each policy (baseline first)."""
    names = [r["label"] for r in rows]
    vals = [r["leakage"] or 0.0 for r in rows]
    fig = _figure(7.0, 0.5 * len(rows) + 1.0)
    ax = fig.add_subplot()
    _style(ax)
    ax.grid(axis="x", color="#dddddd", linewidth=0.8)
    ax.grid(axis="y", visible=False)
    colours = [VERMILLION if i == 0 else BLUE for i in range(len(rows))]
    ax.barh(range(len(names)), vals, color=colours)
    ax.set_yticks(range(len(names)), names)
    for i, v in enumerate(vals):
        ax.annotate(f"{100 * v:.0f}%", (v, i), va="center", fontsize=10, xytext=(4, 0),
                    textcoords="offset points")
    ax.invert_yaxis()
    ax.set_xlim(0, max(0.05, max(vals) * 1.2))
    _pct_axis(ax, "x")
    ax.set_xlabel("Non-consenting households visible on the wall")
    return to_svg(fig, "policies")


def phases_chart(rows: Sequence[Mapping[str, Any]]) -> str:
    """As a program grows: live cameras against non-consenting households on the wall."""
    fig = _figure(7.0, 3.4)
    ax = fig.add_subplot()
    _style(ax)
    x = list(range(len(rows)))
    ax.bar(x, [r["exposed_non_consenting"] for r in rows], color=VERMILLION, width=0.55,
           label="households on the wall that never agreed")
    for i, r in enumerate(rows):
        ax.annotate(f"{r['exposed_non_consenting']:,}", (i, r["exposed_non_consenting"]),
                    ha="center", va="bottom", fontsize=10, xytext=(0, 2),
                    textcoords="offset points")
    ax.set_xticks(x, [f"{r['phase']}\n{r['live_cameras']:,} live cameras" for r in rows],
                  fontsize=9)
    ax.set_ylabel("Households")
    ax.legend(frameon=False, fontsize=9, loc="upper left")
    return to_svg(fig, "phases")


def group_chart(key: str, groups: Sequence[Mapping[str, Any]], overall: float | None) -> str:
    """Leakage per group of an attribute, with the overall figure as a line."""
    rows = [g for g in groups if g.get("consent_leakage") is not None][:12]
    fig = _figure(7.0, 0.45 * max(2, len(rows)) + 1.1)
    ax = fig.add_subplot()
    _style(ax)
    ax.grid(axis="x", color="#dddddd", linewidth=0.8)
    ax.grid(axis="y", visible=False)
    pos = list(range(len(rows)))
    ax.barh(pos, [g["consent_leakage"] for g in rows], color=ORANGE)
    ax.set_yticks(pos, [str(g["value"]) for g in rows])
    if overall is not None:
        ax.axvline(overall, color="black", linewidth=1.2, linestyle="--", label="everyone")
        ax.legend(frameon=False, fontsize=9, loc="lower right")
    ax.invert_yaxis()
    _pct_axis(ax, "x")
    ax.set_xlabel(f"Non-consenting households on the wall, by {key}")
    return to_svg(fig, f"group-{key}")
