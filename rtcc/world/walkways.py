"""The walkable network of a world: where simulated people walk, and routes along it.

Built once per scene from the world's streets: sidewalks when the world has them (people walk on
sidewalks), else the street centrelines (or a street polygon's outline). Lines are noded at their
crossings with shapely, vertices become graph nodes, and disconnected pieces are joined by short
"crosswalk" edges to the largest piece so every entrance can reach every exit.

Routing is Dijkstra from a few *exit* nodes only (where people enter and leave the mapped area:
dead ends near the map's border), cached per exit; a household's entrance is attached to the
nearest point of the network. Dog walks are persistent random walks along the network and back.
Pure: numpy + shapely, no I/O. The simulators walk their people along it (``simulators/trips.py``)
and the exposure analyzer estimates from it how many passers-by a camera would show
(:mod:`rtcc.exposure.footfall`), so both use one model of where people walk.
"""

from __future__ import annotations

import heapq
import logging
import math
from dataclasses import dataclass
from threading import Lock

import numpy as np
import shapely
from shapely.geometry import LineString, MultiLineString, Point, Polygon
from shapely.geometry.base import BaseGeometry

from rtcc.world.model import World

log = logging.getLogger(__name__)

_SNAP = 0.01  # metres: vertices closer than this are one node
MAX_EXITS = 32
PASSERS_BY_PER_HOUR = 0.02
"""Passers-by per household of the world and hour on an ordinary day (walkers crossing the area
from one exit to another): the simulators' default, and the exposure analyzer's."""
CROSSWALK = 20.0
"""Metres: the longest crosswalk drawn between separate pieces of sidewalk (a street's width)."""


@dataclass(frozen=True, slots=True)
class Attachment:
    """Where a point (an entrance) joins the network: the nearest point ``p`` on edge (u, v)."""

    u: int
    v: int
    p: tuple[float, float]


def _lines_of(geom: BaseGeometry) -> list[LineString]:
    if isinstance(geom, LineString):
        return [geom]
    if isinstance(geom, Polygon):
        return [LineString(geom.exterior.coords)]
    if hasattr(geom, "geoms"):
        return [line for part in geom.geoms for line in _lines_of(part)]
    return []


class Walkways:
    """Graph of walkable lines with cached shortest-path trees rooted at exits."""

    def __init__(self, world: World) -> None:
        sidewalks = [s.geometry for s in world.streets if s.kind == "sidewalk"]
        streets = [s.geometry for s in world.streets if s.kind != "sidewalk"]
        self._streets = [line for g in streets for line in _lines_of(g)]
        self._street_polys = [g for g in streets if isinstance(g, Polygon)]
        lines = [line for g in (sidewalks or streets) for line in _lines_of(g)]
        self.nodes = np.zeros((0, 2))
        self._xy: list[tuple[float, float]] = []
        self.adj: list[list[tuple[int, float]]] = []
        self.exits: list[int] = []
        self._edges = np.zeros((0, 2), dtype=np.int64)
        self._edge_tree: shapely.STRtree | None = None
        self._street_tree = shapely.STRtree(self._streets) if self._streets else None
        self._trees: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self._lock = Lock()
        if lines:
            self._build(lines)
        if not self.exits:
            log.warning("world has no walkable streets: the scene will have no walkers")

    @property
    def empty(self) -> bool:
        return len(self.exits) == 0

    # -- construction -------------------------------------------------------------------------
    def _build(self, lines: list[LineString]) -> None:
        noded = shapely.union_all(lines)
        parts = _lines_of(noded) if not isinstance(noded, MultiLineString) else list(noded.geoms)
        index: dict[tuple[int, int], int] = {}
        coords: list[tuple[float, float]] = []
        edges: set[tuple[int, int]] = set()

        def node(x: float, y: float) -> int:
            key = (round(x / _SNAP), round(y / _SNAP))
            if key not in index:
                index[key] = len(coords)
                coords.append((x, y))
            return index[key]

        for part in parts:
            pts = list(part.coords)
            ids = [node(x, y) for x, y, *_ in pts]
            for a, b in zip(ids, ids[1:], strict=False):
                if a != b:
                    edges.add((min(a, b), max(a, b)))
        self.nodes = np.array(coords, dtype=float).reshape(-1, 2)
        edge_list = sorted(edges)
        # Exits are judged on the drawn network, before crosswalks join its pieces (a crosswalk
        # at the end of a street must not turn the street's two dead ends into a corner).
        drawn_degree = np.bincount(np.array(edge_list, dtype=np.int64).ravel(),
                                   minlength=len(coords)) if edge_list else np.zeros(len(coords))
        edge_list += self._crosswalks(edge_list)
        edge_list += self._join_components(len(coords), edge_list)
        self._edges = np.array(edge_list, dtype=np.int64).reshape(-1, 2)
        self._xy = [(float(x), float(y)) for x, y in self.nodes]
        self.adj = [[] for _ in range(len(coords))]
        for a, b in edge_list:
            length = float(np.hypot(*(self.nodes[a] - self.nodes[b])))
            self.adj[a].append((b, length))
            self.adj[b].append((a, length))
        self._edge_tree = shapely.STRtree(
            shapely.linestrings(self.nodes[self._edges].reshape(-1, 2, 2)))
        self.exits = self._find_exits(drawn_degree)

    def _crosswalks(self, edges: list[tuple[int, int]]) -> list[tuple[int, int]]:
        """Edges from each node to the nearest node of every other sidewalk piece within
        ``CROSSWALK`` metres: sidewalks drawn as separate lines (one ring per block, one line per
        side of a street) meet across the street at their corners and ends."""
        n = len(self.nodes)
        label = self._components(n, edges)
        if len(np.unique(label)) <= 1:
            return []
        pts = shapely.points(self.nodes)
        tree = shapely.STRtree(pts)
        src, dst = tree.query(pts, predicate="dwithin", distance=CROSSWALK)
        other = label[src] != label[dst]
        src, dst = src[other], dst[other]
        dist = np.hypot(*(self.nodes[src] - self.nodes[dst]).T)
        best: dict[tuple[int, int], tuple[float, int]] = {}
        for a, b, d in zip(src.tolist(), dst.tolist(), dist.tolist(), strict=True):
            key = (a, int(label[b]))
            if key not in best or d < best[key][0]:
                best[key] = (d, b)
        found = {(min(a, b), max(a, b)) for (a, _), (_, b) in best.items()}
        return sorted(found)

    @staticmethod
    def _components(n: int, edges: list[tuple[int, int]]) -> np.ndarray:
        parent = list(range(n))

        def find(a: int) -> int:
            while parent[a] != a:
                parent[a] = parent[parent[a]]
                a = parent[a]
            return a

        for a, b in edges:
            parent[find(a)] = find(b)
        return np.array([find(i) for i in range(n)], dtype=np.int64)

    def _join_components(self, n: int, edges: list[tuple[int, int]]) -> list[tuple[int, int]]:
        roots = self._components(n, edges)
        labels, counts = np.unique(roots, return_counts=True)
        if len(labels) <= 1:
            return []
        main = labels[np.argmax(counts)]
        main_idx = np.flatnonzero(roots == main)
        tree = shapely.STRtree(shapely.points(self.nodes[main_idx]))
        extra: list[tuple[int, int]] = []
        for label in labels:
            if label == main:
                continue
            comp = np.flatnonzero(roots == label)
            pairs, dist = tree.query_nearest(shapely.points(self.nodes[comp]), return_distance=True)
            best = int(np.argmin(dist))
            a, b = int(comp[pairs[0, best]]), int(main_idx[pairs[1, best]])
            extra.append((min(a, b), max(a, b)))
        return extra

    def _find_exits(self, degree: np.ndarray) -> list[int]:
        if len(self.nodes) == 0:
            return []
        lo, hi = self.nodes.min(axis=0), self.nodes.max(axis=0)
        margin = np.maximum(0.1 * (hi - lo), 5.0)
        border = ((self.nodes < lo + margin) | (self.nodes > hi - margin)).any(axis=1)
        cands = np.flatnonzero((degree == 1) & border)
        if len(cands) < 2:  # closed sidewalk rings: people enter at the map's outer corners
            cands = np.flatnonzero(border)
        if len(cands) < 2:
            cands = np.flatnonzero(degree == 1)
        if len(cands) < 2:
            cands = np.unique([int(np.argmin(self.nodes[:, 0])), int(np.argmax(self.nodes[:, 0])),
                               int(np.argmin(self.nodes[:, 1])), int(np.argmax(self.nodes[:, 1]))])
        if len(cands) > MAX_EXITS:
            # Spread the kept exits around the map: order by bearing from the centre.
            centre = self.nodes.mean(axis=0)
            d = self.nodes[cands] - centre
            order = cands[np.argsort(np.arctan2(d[:, 1], d[:, 0]), kind="stable")]
            cands = order[np.linspace(0, len(order) - 1, MAX_EXITS).round().astype(int)]
        return [int(c) for c in cands]

    # -- queries --------------------------------------------------------------------------------
    def attach(self, points: np.ndarray) -> list[Attachment | None]:
        """Nearest network point for each (x, y) in ``points``."""
        pts = np.asarray(points, dtype=float).reshape(-1, 2)
        if self._edge_tree is None or len(pts) == 0:
            return [None] * len(pts)
        pairs = self._edge_tree.query_nearest(shapely.points(pts), all_matches=False)
        found: list[Attachment | None] = [None] * len(pts)
        for i, e in zip(pairs[0], pairs[1], strict=True):
            u, v = (int(k) for k in self._edges[e])
            a, b = self.nodes[u], self.nodes[v]
            ab = b - a
            denom = float(ab @ ab)
            f = 0.0 if denom == 0 else min(1.0, max(0.0, float((pts[i] - a) @ ab) / denom))
            p = a + f * ab
            found[int(i)] = Attachment(u, v, (float(p[0]), float(p[1])))
        return found

    def curb_point(self, xy: tuple[float, float]) -> tuple[float, float]:
        """Nearest point on a street (where a delivery van stops); falls back to the network."""
        pt = Point(xy)
        if self._street_tree is not None:
            idx = self._street_tree.nearest(pt)
            line = self._streets[int(idx)]
            q = line.interpolate(line.project(pt))
            return (q.x, q.y)
        att = self.attach(np.array([xy]))[0]
        return att.p if att is not None else xy

    def tree(self, root: int) -> tuple[np.ndarray, np.ndarray]:
        """(distance, parent) arrays of the shortest-path tree rooted at node ``root``."""
        with self._lock:
            cached = self._trees.get(root)
        if cached is not None:
            return cached
        n = len(self.nodes)
        dist = np.full(n, math.inf)
        parent = np.full(n, -1, dtype=np.int64)
        dist[root] = 0.0
        heap = [(0.0, root)]
        d_list = dist.tolist()
        while heap:
            d, a = heapq.heappop(heap)
            if d > d_list[a]:
                continue
            for b, w in self.adj[a]:
                nd = d + w
                if nd < d_list[b]:
                    d_list[b] = nd
                    parent[b] = a
                    heapq.heappush(heap, (nd, b))
        dist = np.array(d_list)
        with self._lock:
            self._trees[root] = (dist, parent)
        return dist, parent

    def path_to_exit(self, start: Attachment | int, exit_node: int) -> np.ndarray | None:
        """Polyline (k, 2) from an attachment point (or a node) to an exit node."""
        dist, parent = self.tree(exit_node)
        if isinstance(start, int):
            first, head = start, [self.nodes[start]]
        else:
            p = np.array(start.p)
            cu = float(np.hypot(*(p - self.nodes[start.u]))) + dist[start.u]
            cv = float(np.hypot(*(p - self.nodes[start.v]))) + dist[start.v]
            first = start.u if cu <= cv else start.v
            head = [p]
        if not math.isfinite(dist[first]):
            return None
        chain = [first]
        while chain[-1] != exit_node:
            chain.append(int(parent[chain[-1]]))
        return np.vstack([*head, self.nodes[chain]])

    def random_loop(self, start: Attachment, length: float,
                    rng: np.random.Generator) -> np.ndarray:
        """An out-and-back stroll from ``start``: a persistent random walk of ``length / 2``
        metres along the network, then home by the same streets with any loops cut out."""
        p = np.array(start.p)
        xy = self._xy
        node = start.u if rng.random() < 0.5 else start.v
        came = start.v if node == start.u else start.u
        walk = [node]
        hx, hy = xy[node][0] - start.p[0], xy[node][1] - start.p[1]
        travelled = math.hypot(hx, hy)
        # Plain floats: these steps are many and tiny, where numpy's per-call cost dominates.
        while travelled < length / 2 and len(walk) < 10_000:
            options = [(b, w) for b, w in self.adj[node] if b != came] or self.adj[node]
            if not options:
                break
            # Prefer going straight on (dog walkers follow the street, not a drunkard's walk).
            hn = max(math.hypot(hx, hy), 1e-9)
            weights = []
            for b, _ in options:
                dx, dy = xy[b][0] - xy[node][0], xy[b][1] - xy[node][1]
                straight = (dx * hx + dy * hy) / max(math.hypot(dx, dy) * hn, 1e-9)
                weights.append(math.exp(2.0 * straight))
            pick = rng.random() * sum(weights)
            k = 0
            while k < len(weights) - 1 and pick > weights[k]:
                pick -= weights[k]
                k += 1
            nxt, w = options[k]
            hx, hy = xy[nxt][0] - xy[node][0], xy[nxt][1] - xy[node][1]
            came, node = node, nxt
            walk.append(node)
            travelled += w
        # Loop-erase the way back so the return leg is the direct version of the outward one.
        back: list[int] = []
        seen: dict[int, int] = {}
        for n_ in walk:
            if n_ in seen:
                del back[seen[n_] + 1:]
                seen = {m: i for i, m in enumerate(back)}
            else:
                seen[n_] = len(back)
                back.append(n_)
        out = self.nodes[walk]
        ret = self.nodes[back[::-1]]
        return np.vstack([p, out, ret[1:], p])
