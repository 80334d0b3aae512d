"""The report's neighbourhood map as one inline SVG: who is on the wall, and from which camera.

Parcels are coloured by exposure (blue: opted in; orange: never agreed and on one live stream;
vermillion: on two or more; light grey: not on the wall), live cameras' views are drawn as
translucent yellow fans, cameras as dots (live ones black, others hollow), with buildings,
streets and a scale bar. Up to ``DETAIL_LIMIT`` households every parcel is its own element with
a tooltip (id, consent, streams); beyond that parcels of one colour share one path so that a
10,000-household map stays a few hundred kilobytes. Coordinates are local metres rounded to
0.1 m, y flipped for the screen.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Mapping

import shapely
from shapely.geometry.base import BaseGeometry

from rtcc.exposure.charts import BLUE, ORANGE, VERMILLION
from rtcc.exposure.results import StaticResult
from rtcc.world.model import World

DETAIL_LIMIT = 2500
IDLE_CAMERA_LIMIT = 300
"""Cameras not streaming live are drawn (hollow) only on maps with at most this many cameras."""
COLOURS = {"consenting": BLUE, "one": ORANGE, "many": VERMILLION, "none": "#e9e9e9"}
LABELS = {"consenting": "Opted in to live streaming",
          "one": "Never agreed - on 1 live camera",
          "many": "Never agreed - on 2 or more live cameras",
          "none": "Not on any live camera"}


def _path(geom: BaseGeometry) -> str:
    """SVG path data of a (multi)polygon or (multi)line, y flipped, 0.1 m precision."""
    out: list[str] = []
    for part in shapely.get_parts(geom):
        dim = shapely.get_dimensions(part)
        rings = shapely.get_rings(part) if dim == 2 else [part]
        for ring in rings:
            coords = shapely.get_coordinates(ring)
            if len(coords) < 2:
                continue
            pts = " ".join(f"{x:.1f} {-y:.1f}" for x, y in coords)
            out.append(f"M{pts}" + ("Z" if dim == 2 else ""))
    return "".join(out)


def category(consenting: bool, streams: int) -> str:
    if consenting:
        return "consenting"
    if streams == 0:
        return "none"
    return "one" if streams == 1 else "many"


def _scale_bar(minx: float, maxy: float, width: float) -> str:
    target = width / 5
    step = 10 ** math.floor(math.log10(max(target, 1.0)))
    length = max(s for s in (step, 2 * step, 5 * step) if s <= target) if target >= 1 else 1.0
    x0, y0 = minx + width * 0.03, -maxy + width * 0.03
    h = width * 0.006
    return (f'<g class="scale"><rect x="{x0:.1f}" y="{y0:.1f}" width="{length:.1f}" '
            f'height="{h:.1f}" fill="#333"/><text x="{x0:.1f}" y="{y0 - h:.1f}" '
            f'font-size="{width * 0.018:.1f}" fill="#333">{length:g} m</text></g>')


def render_map(world: World, result: StaticResult, *, views: Mapping[str, BaseGeometry],
               focus: Iterable[str] | None = None,
               bbox: tuple[float, float, float, float] | None = None) -> str:
    """The map as an ``<svg>`` element.

    ``focus``: only draw these live cameras' views; ``bbox`` (local metres): a close-up of this
    box, drawing only what meets it.
    """
    if bbox is None:
        minx, miny, maxx, maxy = world.bounds()
        pad = max(maxx - minx, maxy - miny) * 0.02 + 1.0
        minx, miny, maxx, maxy = minx - pad, miny - pad, maxx + pad, maxy + pad
    else:
        minx, miny, maxx, maxy = bbox
    area = shapely.box(minx, miny, maxx, maxy)
    shapely.prepare(area)

    def meets(g: BaseGeometry) -> bool:
        return bool(area.intersects(g))

    width, height = maxx - minx, maxy - miny
    stroke = max(width, height) / 1500.0
    clip = f"clip-{abs(hash((minx, miny, maxx, maxy))) % 10**8}"
    parts: list[str] = [
        f'<svg class="map" viewBox="{minx:.1f} {-maxy:.1f} {width:.1f} {height:.1f}" '
        f'xmlns="http://www.w3.org/2000/svg" role="img" '
        f'aria-label="Map of the neighbourhood: households coloured by exposure">',
        f'<defs><clipPath id="{clip}"><rect x="{minx:.1f}" y="{-maxy:.1f}" width="{width:.1f}" '
        f'height="{height:.1f}"/></clipPath></defs><g clip-path="url(#{clip})">',
        f'<rect x="{minx:.1f}" y="{-maxy:.1f}" width="{width:.1f}" height="{height:.1f}" '
        f'fill="#fbfbf8"/>',
    ]
    streets = [s for s in world.streets if s.kind != "sidewalk" and meets(s.geometry)]
    sidewalks = [s for s in world.streets if s.kind == "sidewalk" and meets(s.geometry)]
    for group, colour, w in ((streets, "#d4d4d4", 10.0), (sidewalks, "#c9c9c9", 1.5)):
        lines = [s.geometry for s in group if shapely.get_dimensions(s.geometry) == 1]
        areas = [s.geometry for s in group if shapely.get_dimensions(s.geometry) == 2]
        if lines:
            parts.append(f'<path d="{"".join(_path(g) for g in lines)}" fill="none" '
                         f'stroke="{colour}" stroke-width="{w:.1f}" stroke-linecap="round"/>')
        if areas:
            parts.append(f'<path d="{"".join(_path(g) for g in areas)}" fill="{colour}"/>')
    households = {h.id: h for h in result.households}
    drawn = [hid for hid, hh in world.households.items() if meets(hh.parcel)]
    cats = {hid: category(households[hid].consenting, households[hid].streams) for hid in drawn}
    edge = f'stroke="#ffffff" stroke-width="{stroke * 1.5:.2f}"'
    detail = len(drawn) <= DETAIL_LIMIT
    if detail:
        parts.append('<g class="parcels">')
        for hid in drawn:
            h = households[hid]
            tip = (f"{hid}: consent {h.consent}; on {h.streams} live camera"
                   f"{'s' if h.streams != 1 else ''}")
            parts.append(f'<path d="{_path(world.households[hid].parcel)}" '
                         f'fill="{COLOURS[cats[hid]]}" {edge}><title>{html.escape(tip)}</title>'
                         "</path>")
        parts.append("</g>")
    else:
        for cat, colour in COLOURS.items():
            d = "".join(_path(world.households[hid].parcel) for hid in drawn
                        if cats[hid] == cat)
            if d:
                parts.append(f'<path d="{d}" fill="{colour}" {edge}/>')
    footprints = [b.footprint for b in world.buildings if meets(b.footprint)]
    if footprints:
        d = "".join(_path(g) for g in footprints)
        outline = (f' stroke="#555555" stroke-width="{stroke:.2f}"' if detail else "")
        parts.append(f'<path d="{d}" fill="#ffffff" fill-opacity="0.45"{outline}/>')
    shown = set(focus) if focus is not None else None
    live = [c for c in result.cameras if c.live and (shown is None or c.id in shown)
            and not views[c.id].is_empty and meets(views[c.id])]
    if live:
        d = "".join(_path(views[c.id]) for c in live)
        parts.append(f'<path d="{d}" fill="#F0E442" fill-opacity="0.38" stroke="#a89a00" '
                     f'stroke-width="{stroke:.2f}" stroke-opacity="0.7"/>')
    cams = [c for c in result.cameras if meets(world.cameras[c.id].position)]
    r = max(width, height) / (220.0 if detail else 150.0)
    show_idle = detail and len(cams) <= IDLE_CAMERA_LIMIT
    for cam in cams:
        if not cam.live and not show_idle:
            continue  # hundreds of hollow dots would only add noise to a wide map
        x, y = world.cameras[cam.id].xy
        tip = html.escape(f"{cam.id} ({cam.type}, {cam.consent}): "
                          f"{len(cam.non_consenting_in_view)} non-consenting households in view")
        if cam.live and cam.type == "city":
            parts.append(f'<rect x="{x - r:.1f}" y="{-y - r:.1f}" width="{2 * r:.1f}" '
                         f'height="{2 * r:.1f}" fill="#111" stroke="#fff" '
                         f'stroke-width="{stroke:.2f}"><title>{tip}</title></rect>')
        elif cam.live:
            parts.append(f'<circle cx="{x:.1f}" cy="{-y:.1f}" r="{r:.1f}" fill="#111" '
                         f'stroke="#fff" stroke-width="{stroke:.2f}"><title>{tip}</title>'
                         "</circle>")
        else:
            parts.append(f'<circle cx="{x:.1f}" cy="{-y:.1f}" r="{r * 0.6:.1f}" fill="none" '
                         f'stroke="#555" stroke-width="{stroke:.2f}"><title>{tip}</title>'
                         f"</circle>")
    parts.append("</g>")
    parts.append(_scale_bar(minx, maxy, width))
    parts.append("</svg>")
    return "".join(parts)


def legend() -> str:
    """The map's legend as HTML."""
    items = [f'<li><span class="swatch" style="background:{COLOURS[k]}"></span>{LABELS[k]}</li>'
             for k in ("consenting", "one", "many", "none")]
    items.append('<li><span class="swatch view"></span>What a live camera sees</li>')
    items.append('<li><span class="dot live"></span>Live camera (square: city)</li>')
    items.append('<li><span class="dot"></span>Camera not streaming live</li>')
    return '<ul class="legend">' + "".join(items) + "</ul>"
