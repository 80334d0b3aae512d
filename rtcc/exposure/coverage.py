"""How much of the streets and sidewalks the live cameras see, by detail band, and trackability.

Coverage is computed per street feature rather than by first merging every camera's view into
one polygon: intersecting each line with the few views near it (an STRtree query) and merging the
short pieces per line is much cheaper than a union of thousands of view polygons, and it gives
the same lengths. Trackability is the share of sidewalk length inside some live camera's detect
band (the DORI distance at which a person can still be detected); the covered pieces are merged
across sidewalk features so that a stretch running over a corner counts as one continuous run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import shapely
from numpy.typing import NDArray
from shapely import STRtree
from shapely.geometry.base import BaseGeometry

from rtcc.exposure.results import BANDS, LineCoverage, Trackability
from rtcc.world.model import Street

_EMPTY_RUNS: tuple[float, ...] = ()


def covered_parts(targets: Sequence[BaseGeometry], polygons: Sequence[BaseGeometry]
                  ) -> list[BaseGeometry | None]:
    """For each target, the union of its intersections with ``polygons`` (None: untouched)."""
    out: list[BaseGeometry | None] = [None] * len(targets)
    polys = np.asarray([p for p in polygons if not p.is_empty], dtype=object)
    if len(targets) == 0 or len(polys) == 0:
        return out
    tgt = np.asarray(targets, dtype=object)
    tree = STRtree(polys)
    ti, pi = tree.query(tgt, predicate="intersects")
    if len(ti) == 0:
        return out
    pieces = shapely.intersection(tgt[ti], polys[pi])
    order = np.argsort(ti, kind="stable")
    ti, pieces = ti[order], pieces[order]
    bounds = np.flatnonzero(np.diff(ti)) + 1
    for group, chunk in zip(np.split(ti, bounds), np.split(pieces, bounds), strict=True):
        merged = shapely.union_all(chunk) if len(chunk) > 1 else chunk[0]
        out[int(group[0])] = merged
    return out


def _measure(geoms: list[BaseGeometry | None]) -> tuple[float, float]:
    """(length of the linear parts, area of the areal parts)."""
    length = area = 0.0
    for g in geoms:
        if g is None or g.is_empty:
            continue
        for part in shapely.get_parts(g):
            dim = shapely.get_dimensions(part)
            if dim == 1:
                length += float(part.length)
            elif dim == 2:
                area += float(part.area)
    return length, area


def street_coverage(streets: Sequence[Street], cumulative: Mapping[str, NDArray[np.object_]]
                    ) -> tuple[tuple[LineCoverage, ...], dict[str, list[BaseGeometry | None]]]:
    """Coverage per street kind, cumulative by band.

    ``cumulative`` maps each band to the live cameras' views cut at that band's reach ("this
    band or finer": :func:`rtcc.exposure.bands.cumulative_bands`). Returns the coverage and, per
    kind, the pieces of its features covered at detect or finer (for :func:`trackability`).
    """
    kinds = sorted({s.kind for s in streets})
    result: list[LineCoverage] = []
    detect_pieces: dict[str, list[BaseGeometry | None]] = {}
    for kind in kinds:
        geoms = [s.geometry for s in streets if s.kind == kind]
        total_len = float(sum(g.length for g in geoms if shapely.get_dimensions(g) == 1))
        total_area = float(sum(g.area for g in geoms if shapely.get_dimensions(g) == 2))
        covered_len: dict[str, float] = {}
        covered_area: dict[str, float] = {}
        for band in BANDS:
            parts = covered_parts(geoms, list(cumulative.get(band, ())))
            covered_len[band], covered_area[band] = _measure(parts)
            if band == "detect":
                detect_pieces[kind] = parts
        result.append(LineCoverage(kind, total_len, covered_len, total_area, covered_area))
    return tuple(result), detect_pieces


def trackability(streets: Sequence[Street], detect_pieces: Sequence[BaseGeometry | None]
                 ) -> Trackability:
    """Share of sidewalk length inside some live detect band, and its continuous runs.

    ``detect_pieces`` are the covered parts of the sidewalk features (in the order of the
    sidewalk features of ``streets``), as :func:`street_coverage` returns them. Sidewalk polygons
    count by their boundary length.
    """
    total = 0.0
    for s in streets:
        if s.kind == "sidewalk":
            g = s.geometry
            total += float(g.length if shapely.get_dimensions(g) == 1 else 0.0)
    lines = [p for p in detect_pieces if p is not None and not p.is_empty]
    linear = [part for g in lines for part in shapely.get_parts(g)
              if shapely.get_dimensions(part) == 1]
    if not linear:
        return Trackability(total, 0.0, (0.0 if total > 0 else None), 0.0, 0, _EMPTY_RUNS)
    merged = shapely.line_merge(shapely.union_all(np.asarray(linear, dtype=object)))
    runs = sorted((float(p.length) for p in shapely.get_parts(merged)), reverse=True)
    tracked = float(sum(runs))
    share = tracked / total if total > 0 else None
    return Trackability(total, tracked, share, runs[0], len(runs), tuple(runs))
