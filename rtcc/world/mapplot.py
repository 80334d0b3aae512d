"""A static map of a world: parcels by consent tier, buildings, streets and camera views.

``render_map(world, path)`` draws with matplotlib's Agg backend on its own Figure (no pyplot
state, safe to call from any thread) and writes a PNG. The palette is the Okabe-Ito set, which
stays distinguishable under the common colour-vision deficiencies; ``live`` is the one strong
colour so that the reader's eye goes to what reaches the police wall: live cameras' views are
drawn vermillion with an outline, other cameras' views as a faint blue wash.
"""

from __future__ import annotations

import math
import os
from collections import Counter
from collections.abc import Iterable, Mapping

import numpy as np
from matplotlib.artist import Artist
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import PathCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle
from matplotlib.path import Path
from shapely.geometry import LineString, MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

from rtcc.vocabulary import TIERS, Tier
from rtcc.world.model import World

TIER_COLOURS: dict[Tier, str] = {
    "none": "#E4E4E4",      # light grey: not shared
    "registry": "#56B4E9",  # sky blue
    "request": "#E69F00",   # orange
    "live": "#009E73",      # bluish green
}
LIVE_VIEW = "#D55E00"       # vermillion
OTHER_VIEW = "#0072B2"      # blue
BUILDING = "#4A4A4A"
BUSINESS = "#8E6C8A"
STREET = "#BDBDBD"
SIDEWALK = "#D5D5CF"
BACKGROUND = "#F7F7F2"


def _paths(geoms: Iterable[BaseGeometry]) -> list[Path]:
    """matplotlib paths for polygons (holes kept) and multipolygons."""
    out = []
    for g in geoms:
        polys = g.geoms if isinstance(g, MultiPolygon) else [g]
        for p in polys:
            if not isinstance(p, Polygon) or p.is_empty:
                continue
            rings = [np.asarray(p.exterior.coords)[:, :2]]
            rings += [np.asarray(r.coords)[:, :2] for r in p.interiors]
            out.append(Path.make_compound_path(*[Path(r, closed=True) for r in rings]))
    return out


def _add(ax, geoms: Iterable[BaseGeometry], **style) -> None:  # type: ignore[no-untyped-def]
    paths = _paths(geoms)
    if paths:
        ax.add_collection(PathCollection(paths, **style))


def _nice_length(span: float) -> float:
    """A round scale-bar length near a fifth of the map width."""
    target = span / 5.0
    base = 10 ** math.floor(math.log10(max(target, 1e-9)))
    for m in (5, 2, 1):
        if m * base <= target:
            return float(m * base)
    return float(base)


def _scale_bar(ax, bounds: tuple[float, float, float, float]) -> None:  # type: ignore[no-untyped-def]
    minx, miny, maxx, maxy = bounds
    length = _nice_length(maxx - minx)
    x0 = minx + (maxx - minx) * 0.03
    y0 = miny + (maxy - miny) * 0.03
    h = (maxy - miny) * 0.008
    ax.add_patch(Rectangle((x0, y0), length, h, facecolor="black", edgecolor="white", lw=0.8,
                           zorder=10))
    label = f"{length / 1000:g} km" if length >= 1000 else f"{length:g} m"
    ax.text(x0 + length / 2, y0 + 2.5 * h, label, ha="center", va="bottom", fontsize=9,
            bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8, "pad": 1.5})
    # North arrow in the top-right corner.
    nx, ny = maxx - (maxx - minx) * 0.04, maxy - (maxy - miny) * 0.10
    ax.annotate("N", xy=(nx, ny + (maxy - miny) * 0.06), xytext=(nx, ny), ha="center",
                va="top", fontsize=11, fontweight="bold",
                arrowprops={"arrowstyle": "-|>", "color": "black", "lw": 1.5})


def _street_polygons(world: World, kind: str) -> list[BaseGeometry]:
    out = []
    for s in world.streets:
        if s.kind != kind:
            continue
        if isinstance(s.geometry, LineString):
            default = 10.0 if kind == "street" else 1.5
            width = s.attributes.get("width", default)
            width = float(width) if isinstance(width, int | float) else default
            out.append(s.geometry.buffer(width / 2.0, cap_style="flat", join_style="mitre"))
        else:
            out.append(s.geometry)
    return out


def _extent(world: World) -> tuple[float, float, float, float]:
    """What the map frames: parcels, buildings and cameras (streets run on past the edge)."""
    geoms: list[BaseGeometry] = [h.parcel for h in world.households.values()]
    geoms += [b.footprint for b in world.buildings]
    geoms += [c.position for c in world.cameras.values()]
    if not geoms:
        return world.bounds()
    b = np.array([g.bounds for g in geoms])
    return (float(b[:, 0].min()), float(b[:, 1].min()), float(b[:, 2].max()),
            float(b[:, 3].max()))


def summary_title(world: World) -> str:
    tiers = Counter(h.consent for h in world.households.values())
    live = sum(1 for c in world.cameras.values() if world.camera_consent(c) == "live")
    name = world.properties.get("name") or "world"
    tier_txt = ", ".join(f"{tiers.get(t, 0)} {t}" for t in TIERS)
    return (f"{name}\n{len(world.households)} households ({tier_txt}) · "
            f"{len(world.cameras)} cameras, {live} live · {len(world.buildings)} buildings")


def render_map(world: World, path: str | os.PathLike[str], *,
               views: Mapping[str, BaseGeometry] | None = None, show_views: str = "all",
               title: str | None = None, width_in: float = 12.0, dpi: int = 150) -> None:
    """Draw the world to a PNG file.

    ``views`` are visibility polygons by camera id (computed when not given and
    ``show_views`` is not ``none``); ``show_views`` is ``all``, ``live`` or ``none``.
    """
    minx, miny, maxx, maxy = _extent(world)
    pad = max(maxx - minx, maxy - miny, 20.0) * 0.06
    minx, miny, maxx, maxy = minx - pad, miny - pad, maxx + pad, maxy + pad
    aspect = (maxy - miny) / max(maxx - minx, 1e-9)
    map_h = min(max(width_in * aspect, 3.0), 18.0)
    fig = Figure(figsize=(width_in, map_h + 1.9), dpi=dpi, facecolor="white")
    FigureCanvasAgg(fig)
    ax = fig.add_axes((0.01, 1.3 / (map_h + 1.9), 0.98, map_h / (map_h + 1.9)))
    ax.set_facecolor(BACKGROUND)
    ax.set_xlim(minx, maxx)
    ax.set_ylim(miny, maxy)
    ax.set_aspect("equal", adjustable="box")
    ax.set_xticks([])
    ax.set_yticks([])

    n = max(len(world.households), 1)
    edge_w = 0.6 if n <= 50 else 0.3 if n <= 500 else 0.1
    _add(ax, _street_polygons(world, "street"), facecolor=STREET, edgecolor="none", zorder=1)
    _add(ax, _street_polygons(world, "sidewalk"), facecolor=SIDEWALK, edgecolor="none", zorder=1)
    for tier in TIERS:
        parcels = [h.parcel for h in world.households.values() if h.consent == tier]
        _add(ax, parcels, facecolor=TIER_COLOURS[tier], edgecolor="white", linewidths=edge_w,
             zorder=2)

    cams = list(world.cameras.values())
    live_ids = {c.id for c in cams if world.camera_consent(c) == "live"}
    if show_views != "none":
        if views is None:
            from rtcc.world.visibility import visibility_polygons

            wanted = cams if show_views == "all" else [c for c in cams if c.id in live_ids]
            views = visibility_polygons(world, wanted)
        if show_views == "all":
            _add(ax, [v for k, v in views.items() if k not in live_ids], facecolor=OTHER_VIEW,
                 alpha=0.14, edgecolor=OTHER_VIEW, linewidths=0.0 if n > 500 else 0.3, zorder=3)
        _add(ax, [v for k, v in views.items() if k in live_ids], facecolor=LIVE_VIEW,
             alpha=0.30, edgecolor=LIVE_VIEW, linewidths=0.4 if n > 500 else 0.9, zorder=4)

    homes = [b.footprint for b in world.buildings if b.attributes.get("use") != "business"]
    shops = [b.footprint for b in world.buildings if b.attributes.get("use") == "business"]
    _add(ax, homes, facecolor=BUILDING, edgecolor="none", zorder=5)
    _add(ax, shops, facecolor=BUSINESS, edgecolor="none", zorder=5)

    size = 28.0 if n <= 50 else 10.0 if n <= 500 else 4.0
    if cams:
        xy = np.array([c.xy for c in cams])
        live = np.array([c.id in live_ids for c in cams])
        if (~live).any():
            ax.scatter(xy[~live, 0], xy[~live, 1], s=size, c=OTHER_VIEW, edgecolors="white",
                       linewidths=0.4, zorder=6)
        if live.any():
            ax.scatter(xy[live, 0], xy[live, 1], s=size * 2.5, c=LIVE_VIEW, marker="^",
                       edgecolors="black", linewidths=0.5, zorder=7)
    _scale_bar(ax, (minx, miny, maxx, maxy))
    credit = world.properties.get("attribution")
    if credit:
        # Map data under the ODbL must be credited wherever the map is shown.
        ax.text(0.995, 0.006, f"Map data {credit}", transform=ax.transAxes, ha="right",
                va="bottom", fontsize=8, color="#333333", zorder=9,
                bbox={"facecolor": "white", "alpha": 0.8, "edgecolor": "none", "pad": 1.5})

    tiers = Counter(h.consent for h in world.households.values())
    handles: list[Artist] = [Patch(facecolor=TIER_COLOURS[t], edgecolor="#999999",
                     label=f"household: {t} ({tiers.get(t, 0)})") for t in TIERS]
    if show_views != "none":
        handles.append(Patch(facecolor=LIVE_VIEW, alpha=0.45, edgecolor=LIVE_VIEW,
                             label=f"live camera view ({len(live_ids)})"))
    if show_views == "all":
        handles.append(Patch(facecolor=OTHER_VIEW, alpha=0.25, label="other camera view"))
    handles += [
        Line2D([], [], marker="^", linestyle="none", markerfacecolor=LIVE_VIEW,
               markeredgecolor="black", markersize=8, label="live camera"),
        Line2D([], [], marker="o", linestyle="none", markerfacecolor=OTHER_VIEW,
               markeredgecolor="white", markersize=7, label="other camera"),
        Patch(facecolor=BUILDING, label="house"),
        Patch(facecolor=BUSINESS, label="business"),
        Patch(facecolor=STREET, label="street"),
        Patch(facecolor=SIDEWALK, label="sidewalk"),
    ]
    fig.legend(handles=handles, loc="lower center", ncol=4, fontsize=9, frameon=False,
               bbox_to_anchor=(0.5, 0.0))
    fig.suptitle(title or summary_title(world), fontsize=11, y=0.995, va="top")
    fig.savefig(os.fspath(path), dpi=dpi, facecolor="white", format="png")
