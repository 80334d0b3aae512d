"""Lots for buildings that OSM does not map lots for: a morphological tessellation.

The standard urban-morphology construction (momepy's ``morphological_tessellation`` and
``enclosed_tessellation``; Fleischmann et al., "Morphological tessellation as a way of
partitioning space", Computers, Environment and Urban Systems 80, 2020), built from shapely
alone:

1. **Enclosures**: the streets (``ENCLOSING`` classes, not in tunnels) cut the study frame into
   blocks (``shapely.polygonize``). Blocks that one building straddles (a passage under it) are
   merged, so no building is split between blocks.
2. **Generators**: every building's outline, shrunk ``SHRINK`` m inwards (so that two buildings
   sharing a wall have distinct points) and sampled every ``SEGMENT`` m.
3. **Voronoi** of the generators of one block (``shapely.voronoi_polygons``), the cells dissolved
   by building, simplified together, and clipped to the block less the streets' carriageways
   and to ``depth`` metres around the building.
4. **Clean-up**: a lot keeps its own building whole and gives up what other buildings cover,
   and only the piece touching its building stays; so lots are valid, cover their building and
   never overlap another building's lot.

The lots follow the buildings, not the cadastre: they are where a building's neighbourhood
ends, halfway to the next building, which is what a camera's "view of the lot" needs.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import shapely
from shapely import STRtree
from shapely.geometry import LineString, MultiPolygon, Polygon, box
from shapely.geometry.base import BaseGeometry

SEGMENT = 1.0
"""Metres between generator points along an outline (momepy's default is 0.5 m)."""
SHRINK = 0.4
"""Metres an outline is shrunk before sampling (momepy's default)."""
SIMPLIFY = 0.5
"""Metres: the tolerance the cells are simplified with (together, as a coverage)."""
DEPTH = 30.0
"""Metres a lot reaches beyond its building at most: open land, parks and the extract's edge
are not anyone's lot. About the depth of a US suburban lot (rtcc's synthetic lots are 36 m)."""


def enclosures(frame: Polygon, streets: Sequence[LineString]) -> list[Polygon]:
    """The blocks the streets cut ``frame`` into."""
    lines = [frame.exterior]
    if streets:
        clipped = shapely.intersection(np.asarray(streets, dtype=object), frame)
        lines += [g for g in clipped.tolist() if not g.is_empty]
    noded = shapely.union_all(lines)
    blocks = shapely.get_parts(shapely.polygonize(shapely.get_parts(noded)))
    return [b for b in blocks.tolist() if isinstance(b, Polygon) and b.area > 1e-6]


class _Groups:
    """Union-find over block indices."""

    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)


def _generators(footprint: Polygon) -> np.ndarray:
    shrunk = footprint.buffer(-SHRINK, join_style="mitre")
    if shrunk.is_empty or shrunk.area < 0.1 * footprint.area:
        shrunk = footprint
    ring = shapely.segmentize(shrunk.boundary, SEGMENT)
    pts = shapely.get_coordinates(ring)
    return pts


def tessellate(footprints: Sequence[Polygon], streets: Sequence[LineString],
               wanted: Sequence[int], depth: float = DEPTH,
               carriageways: Sequence[Polygon] = ()) -> dict[int, Polygon]:
    """The lot of each building in ``wanted`` (indices into ``footprints``).

    Every footprint is a generator, wanted or not (a shop next to a house takes its share of
    the ground); only the wanted lots are returned. ``carriageways`` (the streets' surfaces)
    belong to nobody's lot: they also part the two sides of a dead-end street, which does not
    close a block.
    """
    if not footprints or not wanted:
        return {}
    fps = np.asarray(footprints, dtype=object)
    minx, miny, maxx, maxy = shapely.total_bounds(fps)
    frame = box(minx - depth - 1.0, miny - depth - 1.0, maxx + depth + 1.0, maxy + depth + 1.0)
    blocks = enclosures(frame, streets)
    block_tree = STRtree(blocks)
    groups = _Groups(len(blocks))
    # Each building's blocks: every block its footprint reaches into (beyond a hair).
    b_i, k_i = block_tree.query(fps, predicate="intersects")
    home: dict[int, int] = {}
    if len(b_i):
        shared = shapely.area(shapely.intersection(fps[b_i], np.asarray(blocks)[k_i]))
        keep = shared > 1e-3
        for b, k in zip(b_i[keep].tolist(), k_i[keep].tolist(), strict=True):
            if b in home:
                groups.union(home[b], k)
            else:
                home[b] = k
    by_group: dict[int, list[int]] = {}
    for b, k in home.items():
        by_group.setdefault(groups.find(k), []).append(b)
    regions: dict[int, BaseGeometry] = {}
    for k in range(len(blocks)):
        root = groups.find(k)
        regions[root] = blocks[k] if root not in regions else regions[root].union(blocks[k])
    if carriageways:
        roads = shapely.union_all(np.asarray(carriageways, dtype=object))
        regions = {k: r.difference(roads) for k, r in regions.items()}
    want = set(wanted)
    cells: dict[int, BaseGeometry] = {}
    for root, members in by_group.items():
        if not want.intersection(members):
            continue
        cells.update(_cells(fps, sorted(members), regions[root], want, depth))
    tree = STRtree(fps)
    return {b: _clean(b, cells[b], fps, tree) for b in sorted(cells)}


def _cells(fps: np.ndarray, members: list[int], region: BaseGeometry, want: set[int],
           depth: float) -> dict[int, BaseGeometry]:
    """Voronoi cells of one block's buildings, dissolved per building and clipped."""
    if len(members) == 1:
        b = members[0]
        return {b: region.intersection(fps[b].buffer(depth, quad_segs=4))}
    pts, owner = [], []
    for b in members:
        g = _generators(fps[b])
        pts.append(g)
        owner.append(np.full(len(g), b, dtype=np.int64))
    xy = np.vstack(pts)
    own = np.concatenate(owner)
    # One point per location (two buildings' outlines may still touch): the first owner keeps it.
    _, first = np.unique(np.round(xy, 6), axis=0, return_index=True)
    first.sort()
    xy, own = xy[first], own[first]
    env = box(*region.bounds).buffer(1.0)
    voronoi = shapely.voronoi_polygons(shapely.multipoints(xy), extend_to=env, ordered=True)
    polys = shapely.get_parts(voronoi)
    dissolved: list[BaseGeometry] = []
    for b in members:
        mine = polys[own == b]
        if len(mine) == 0:  # every generator point also another building's: a duplicate
            dissolved.append(shapely.Polygon())
            continue
        dissolved.append(shapely.coverage_union_all(mine) if len(mine) > 1 else mine[0])
    # The bisectors between sampled outlines zigzag: simplify the cells together, so that
    # neighbours keep one shared edge.
    simple = shapely.coverage_simplify(np.asarray(dissolved, dtype=object), SIMPLIFY,
                                       simplify_boundary=False)
    out: dict[int, BaseGeometry] = {}
    for b, cell in zip(members, simple.tolist(), strict=True):
        if b not in want:
            continue
        if cell.is_empty:
            out[b] = fps[b]
            continue
        reach = fps[b].buffer(depth, quad_segs=4)
        out[b] = shapely.intersection(shapely.intersection(cell, region), reach)
    return out


def _clean(b: int, cell: BaseGeometry, fps: np.ndarray, tree: STRtree) -> Polygon:
    """The lot: the cell without other buildings, with its own building whole, in one piece."""
    fp = fps[b]
    near = [i for i in tree.query(cell).tolist() if i != b]
    others = [fps[i] for i in near if fps[i].intersects(cell)]
    lot = cell.difference(shapely.union_all(others)) if others else cell
    lot = shapely.union(lot, fp)
    if not lot.is_valid:
        lot = shapely.make_valid(lot)
    parts = [p for p in _polygons(lot) if p.area > 0]
    if not parts:
        return fp  # type: ignore[no-any-return]
    best = max(parts, key=lambda p: (p.intersection(fp).area, p.area))
    return _no_slivers(best)


def _polygons(geom: BaseGeometry) -> list[Polygon]:
    if isinstance(geom, Polygon):
        return [geom]
    if isinstance(geom, MultiPolygon):
        return list(geom.geoms)
    return [p for g in getattr(geom, "geoms", []) for p in _polygons(g)]


def _no_slivers(lot: Polygon) -> Polygon:
    """Drop holes smaller than 1 cm² (left where two cuts nearly met)."""
    holes = [r for r in lot.interiors if Polygon(r).area >= 1e-4]
    if len(holes) == len(lot.interiors):
        return lot
    return Polygon(lot.exterior, holes)
