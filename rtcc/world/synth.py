"""A deterministic synthetic neighbourhood: streets, parcels, houses, cameras and consent.

``synthesize(households, seed)`` lays out a grid of residential blocks around a real-ish origin
(Jackson, Mississippi by default) and returns a World; the same arguments always give the same
World and so, through :func:`rtcc.world.geojson.dump_world`, the same bytes.

Layout (metres): blocks of two back-to-back rows of parcels (16 m frontage, 36 m deep), each row
facing its own street; streets are 18 m right-of-way with a 10 m carriageway and 1.5 m sidewalks
whose centre lines run 7.5 m from the street's. Houses (about 10-12 x 10-14 m, a quarter with an
attached garage that makes them L-shaped) stand 6-9 m back from the street, the entrance in the
middle of the front wall. Lots are filled street by street, both sides at once, so that even a
ten-household world has neighbours across the street. A few corner lots hold businesses with
their own cameras, and a few intersections carry city pole cameras.

Cameras follow DOMAIN.md: exactly ``round(camera_rate * households)`` households have a doorbell at
the entrance facing the street (Ring Video Doorbell 4, or a Pro 2 for 30 %), and a share of those
(``floodlight_rate``) also a floodlight camera on a front corner. ``stream_width`` caps the width
of the doorbell and floodlight streams the RTCC receives (e.g. 640 for a vendor's police feed;
business and city feeds keep their resolution). Consent tiers are dealt out by quota among camera
owners (households and businesses): ``live_rate``, ``request_rate`` and ``registry_rate`` of
them, the rest ``none``; households without a camera are ``none``. City cameras are ``live``.
Each household has residents (1-6, US-like), a census ``tract`` and a ``tenure`` (owner or
renter). Renters are drawn as camera owners half as often as owners: a modelling choice, not a
measured figure, so that breakdowns by an attribute have a difference to show.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field, replace
from typing import TypeVar

from shapely import affinity
from shapely.geometry import LineString, Point, Polygon, box
from shapely.geometry.base import BaseGeometry

from rtcc.vocabulary import Tier
from rtcc.world.geo import LocalProjection
from rtcc.world.model import Building, Camera, Household, Street, World
from rtcc.world.optics import (
    BUSINESS,
    CITY,
    FLOODLIGHT,
    RING_DOORBELL_4,
    RING_DOORBELL_PRO_2,
    CameraModel,
    delivered_size,
)

JACKSON_MS = (-90.18, 32.30)
G = TypeVar("G", bound=BaseGeometry)
_Label = TypeVar("_Label", bound=str)

FRONTAGE, DEPTH, LOTS_PER_ROW = 16.0, 36.0, 10
ROW_WIDTH = 18.0          # street right-of-way, property line to property line
CARRIAGEWAY = 10.0
SIDEWALK_OFFSET, SIDEWALK_WIDTH = 7.5, 1.5
BLOCK_H = 2 * DEPTH
PITCH_Y = BLOCK_H + ROW_WIDTH
RESIDENTS_WEIGHTS = (0.28, 0.35, 0.15, 0.13, 0.06, 0.03)  # 1..6 people, US households
_STREET_NAMES = ("Oak", "Elm", "Pine", "Cedar", "Maple", "Pecan", "Magnolia", "Willow", "Poplar",
                 "Hickory", "Cypress", "Dogwood", "Laurel", "Holly", "Birch", "Sycamore")


@dataclass(frozen=True, slots=True)
class Rates:
    """Consent shares among camera owners and camera shares among households."""

    live: float = 0.10
    request: float = 0.15
    registry: float = 0.30
    camera: float = 0.25
    floodlight: float = 0.15
    """Share of camera-owning households that also have a floodlight camera."""

    def check(self) -> None:
        for name in ("live", "request", "registry", "camera", "floodlight"):
            v = getattr(self, name)
            if not (isinstance(v, int | float) and 0.0 <= v <= 1.0):
                raise ValueError(f"{name} rate must be within 0..1, got {v!r}")
        if self.live + self.request + self.registry > 1.0 + 1e-9:
            raise ValueError("live + request + registry rates must add up to at most 1, got "
                             f"{self.live + self.request + self.registry:g}")


@dataclass(frozen=True, slots=True)
class _Grid:
    cols: int
    rows: int
    per_row: int  # lots along each side of a block

    @property
    def pitch_x(self) -> float:
        return self.per_row * FRONTAGE + ROW_WIDTH


@dataclass(slots=True)
class _Lot:
    grid: _Grid
    street: int   # index of the horizontal street the lot faces
    col: int      # block column
    row: int      # block row
    k: int        # position along the row, west to east
    north: bool   # True: the block's north row (faces north)

    @property
    def key(self) -> tuple[int, int, int, bool]:
        return (self.col, self.row, self.k, self.north)

    @property
    def x0(self) -> float:
        return self.col * self.grid.pitch_x + ROW_WIDTH / 2 + self.k * FRONTAGE

    @property
    def front_y(self) -> float:
        y_block = self.row * PITCH_Y + ROW_WIDTH / 2
        return y_block + BLOCK_H if self.north else y_block

    def parcel(self) -> Polygon:
        y = self.front_y
        y_back = y - DEPTH if self.north else y + DEPTH
        return box(self.x0, min(y, y_back), self.x0 + FRONTAGE, max(y, y_back))


@dataclass(slots=True)
class _Builder:
    rng: random.Random
    stream_width: int | None
    households: dict[str, Household] = field(default_factory=dict)
    buildings: list[Building] = field(default_factory=list)
    cameras: dict[str, Camera] = field(default_factory=dict)
    streets: list[Street] = field(default_factory=list)

    def camera(self, model: CameraModel, pos: tuple[float, float], direction: float,
               household: str | None, consent: Tier | None = None) -> str:
        cid = f"cam-{len(self.cameras) + 1:05d}"
        # The vendor's cap applies to consumer cloud cameras, not to city or business feeds.
        consumer = model.type in ("doorbell", "floodlight")
        w, h = delivered_size(model, self.stream_width if consumer else None)
        self.cameras[cid] = Camera(
            id=cid, position=Point(round(pos[0], 3), round(pos[1], 3)),
            direction=round(direction % 360.0, 1) % 360.0, fov=model.fov, range=model.range,
            household=household, width=w, height=h, lens=model.lens, type=model.type,
            consent=consent, mount_height=model.mount_height,
            attributes={"model": model.name})
        return cid


def _grid(lots_needed: int) -> _Grid:
    """Blocks about square on the ground, at least two rows; small worlds get short blocks so
    that their households share one street rather than dotting a long one."""
    per_row = min(LOTS_PER_ROW, max(3, math.ceil(lots_needed / 2)))
    pitch_x = per_row * FRONTAGE + ROW_WIDTH
    blocks = max(1, math.ceil(lots_needed / (2 * per_row)))
    cols = max(1, round(math.sqrt(blocks * PITCH_Y / pitch_x)))
    rows = max(2, math.ceil(blocks / cols))
    return _Grid(cols, rows, per_row)


def _lots(grid: _Grid) -> list[_Lot]:
    """Every lot in filling order: inner streets first, both sides of a street together."""
    order = list(range(1, grid.rows)) + [0, grid.rows]
    out = []
    for s in order:
        for c in range(grid.cols):
            for k in range(grid.per_row):
                if s >= 1:  # the north row of the block below faces street s
                    out.append(_Lot(grid, s, c, s - 1, k, True))
                if s < grid.rows:  # the south row of the block above faces it too
                    out.append(_Lot(grid, s, c, s, k, False))
    return out


def deal(rng: random.Random, n: int, shares: dict[_Label, float], rest: _Label
          ) -> list[_Label]:
    """Exactly round(share * n) of each label (largest remainders), shuffled."""
    exact = {k: v * n for k, v in shares.items()}
    counts = {k: math.floor(v) for k, v in exact.items()}
    left = min(n, round(sum(exact.values()))) - sum(counts.values())
    for k in sorted(exact, key=lambda k: (counts[k] - exact[k], k))[:max(0, left)]:
        counts[k] += 1
    labels = [k for k, c in counts.items() for _ in range(c)]
    labels += [rest] * (n - len(labels))
    rng.shuffle(labels)
    return labels


def _house(rng: random.Random, lot: _Lot) -> tuple[Polygon, Polygon, Point, float]:
    """Footprint, main body, entrance (on the front wall) and the direction the front faces."""
    w = rng.uniform(10.0, 12.0)
    d = rng.uniform(10.0, 14.0)
    setback = rng.uniform(6.0, 9.0)
    x = lot.x0 + (FRONTAGE - w) / 2 + rng.uniform(-0.8, 0.8)
    sign = -1.0 if lot.north else 1.0        # from the front line into the lot
    fy = lot.front_y + sign * setback         # the front wall
    body = box(x, min(fy, fy + sign * d), x + w, max(fy, fy + sign * d))
    footprint = body
    if rng.random() < 0.25:  # an attached garage, set back a little: an L-shaped house
        gw = min(3.5, lot.x0 + FRONTAGE - 0.5 - (x + w))
        if gw > 2.0:
            gy = fy + sign * 1.5
            garage = box(x + w, min(gy, gy + sign * 6.5), x + w + gw, max(gy, gy + sign * 6.5))
            footprint = body.union(garage).normalize()
    entrance = Point(round(x + w / 2 + rng.uniform(-1.5, 1.5), 3), fy)  # on the front wall
    return footprint, body, entrance, (0.0 if lot.north else 180.0)


def synthesize(households: int, seed: int, *, live_rate: float = 0.10,
               request_rate: float = 0.15, registry_rate: float = 0.30,
               camera_rate: float = 0.25, floodlight_rate: float = 0.15,
               stream_width: int | None = None,
               origin: tuple[float, float] = JACKSON_MS) -> World:
    """A synthetic neighbourhood of ``households`` households (see the module docstring)."""
    if households < 1:
        raise ValueError(f"households must be >= 1, got {households}")
    if stream_width is not None and stream_width < 16:
        raise ValueError(f"stream width must be >= 16 px, got {stream_width}")
    rates = Rates(live_rate, request_rate, registry_rate, camera_rate, floodlight_rate)
    rates.check()
    rng = random.Random(seed)
    n_business = max(1, round(households / 100))
    n_city = max(1, round(households / 200))
    grid = _grid(households + 2 * n_business)
    cols, rows, per_row = grid.cols, grid.rows, grid.per_row
    lots = _lots(grid)
    b = _Builder(rng, stream_width)

    # Businesses take the two east-end lots of a block's north row, on blocks along the streets
    # that households will fill.
    reached = {lt.street for lt in lots[:households + 2 * n_business]}
    candidates = [(lt.col, lt.row) for lt in lots
                  if lt.north and lt.k == 0 and lt.street in reached]
    business_blocks = set(rng.sample(candidates, min(n_business, len(candidates))))
    is_business = {lt.key: (lt.col, lt.row) in business_blocks and lt.north
                   and lt.k >= per_row - 2 for lt in lots}
    home_lots = [lt for lt in lots if not is_business[lt.key]][:households]

    # Tracts: the grid cut into about one tract per 1,500 households (at least two).
    n_tracts = max(2, round(households / 1500))
    tx = max(1, round(math.sqrt(n_tracts * cols / rows)))
    ty = max(1, math.ceil(n_tracts / tx))
    renter_share = {t: rng.uniform(0.25, 0.75) for t in range(tx * ty)}

    homes = []
    for i, lot in enumerate(home_lots):
        t = min(tx - 1, lot.col * tx // cols) + tx * min(ty - 1, lot.row * ty // rows)
        tenure = "renter" if rng.random() < renter_share[t] else "owner"
        residents = rng.choices(range(1, 7), weights=RESIDENTS_WEIGHTS)[0]
        homes.append((f"hh-{i + 1:05d}", lot, f"28049{(t + 1) * 100:06d}", tenure, residents))

    # Camera owners: exactly round(camera_rate * households) of them, renters half as likely
    # as owners to be drawn (weighted sampling without replacement, Efraimidis-Spirakis keys).
    weight = {"owner": 1.0, "renter": 0.5}
    keys = [rng.random() ** (1.0 / weight[h[3]]) for h in homes]
    n_owners = round(camera_rate * len(homes))
    chosen = set(sorted(range(len(homes)), key=lambda i: -keys[i])[:n_owners])
    owners = [i in chosen for i in range(len(homes))]
    floodlit = iter(deal(rng, n_owners, {"yes": floodlight_rate}, "no"))
    shares: dict[Tier, float] = {"live": live_rate, "request": request_rate,
                                 "registry": registry_rate}
    tiers = iter(deal(rng, sum(owners), shares, "none"))
    for (hid, lot, tract, tenure, residents), owner in zip(homes, owners, strict=True):
        footprint, body, entrance, facing = _house(rng, lot)
        consent = next(tiers) if owner else "none"
        b.households[hid] = Household(hid, lot.parcel(), entrance, residents, consent,
                                      {"tract": tract, "tenure": tenure})
        b.buildings.append(Building(f"bldg-{hid[3:]}", footprint, hid))
        if not owner:
            continue
        model = RING_DOORBELL_PRO_2 if rng.random() < 0.3 else RING_DOORBELL_4
        side = rng.choice((-0.45, 0.45))  # beside the door, 5 cm proud of the wall
        out = 0.05 if lot.north else -0.05
        b.camera(model, (entrance.x + side, entrance.y + out), facing + rng.uniform(-8, 8), hid)
        if next(floodlit) == "yes":
            minx, _, maxx, _ = body.bounds
            east = rng.random() < 0.5
            corner = (maxx + 0.05 if east else minx - 0.05, entrance.y + out)
            turn = 35.0 if east == lot.north else -35.0
            b.camera(FLOODLIGHT, corner, facing + turn + rng.uniform(-10, 10), hid)

    business_lots = [lt for lt in lots if is_business[lt.key] and lt.k == per_row - 2]
    business_consent = iter(deal(rng, len(business_lots), shares, "none"))
    for n, lot in enumerate(business_lots, start=1):
        x0, fy = lot.x0, lot.front_y
        fp = box(x0 + 4.0, fy - 3.0 - 18.0, x0 + 2 * FRONTAGE - 2.0, fy - 3.0)
        b.buildings.append(Building(f"biz-{n:04d}", fp, None, {"use": "business"}))
        consent = next(business_consent)
        b.camera(BUSINESS, ((x0 + 4.0 + x0 + 2 * FRONTAGE - 2.0) / 2, fy - 2.95),
                 rng.uniform(-10, 10), None, consent)
        b.camera(BUSINESS, (x0 + 2 * FRONTAGE - 1.95, fy - 4.0), 45.0 + rng.uniform(-10, 10),
                 None, consent)

    # City cameras on poles at sidewalk corners of intersections along the filled streets.
    streets_used = sorted({lot.street for lot in home_lots})
    corners = [(c, s) for s in streets_used for c in range(cols + 1)]
    for c, s in sorted(rng.sample(corners, min(n_city, len(corners)))):
        qx, qy = rng.choice((-1, 1)), rng.choice((-1, 1))
        pos = (c * grid.pitch_x + qx * SIDEWALK_OFFSET, s * PITCH_Y + qy * SIDEWALK_OFFSET)
        # Looking down the street (east or west), where the houses front: not off the map.
        ways = [d for d, ok in ((90.0, c < cols), (270.0, c > 0)) if ok]
        b.camera(CITY, pos, rng.choice(ways) + rng.uniform(-15, 15), None, "live")

    _streets(b, grid)
    cx, cy = cols * grid.pitch_x / 2, rows * PITCH_Y / 2
    world = World(LocalProjection(*origin), b.households, tuple(b.buildings), b.cameras,
                  tuple(b.streets), {
                      "name": f"synthetic neighbourhood ({households} households, seed {seed})",
                      "generator": "rtcc world synth", "seed": seed, "households": households,
                      "rates": {"live": live_rate, "request": request_rate,
                                "registry": registry_rate, "camera": camera_rate,
                                "floodlight": floodlight_rate},
                      "stream_width": stream_width})
    return _centred(world, cx, cy)


def _streets(b: _Builder, grid: _Grid) -> None:
    """Street centre lines and the sidewalk loop around every block."""
    cols, rows, pitch_x = grid.cols, grid.rows, grid.pitch_x
    width, height = cols * pitch_x, rows * PITCH_Y
    for s in range(rows + 1):
        y = s * PITCH_Y
        b.streets.append(Street(f"st-h{s:03d}", LineString([(0.0, y), (width, y)]), "street",
                                f"{_STREET_NAMES[s % len(_STREET_NAMES)]} St",
                                {"width": CARRIAGEWAY}))
    for c in range(cols + 1):
        x = c * pitch_x
        b.streets.append(Street(f"st-v{c:03d}", LineString([(x, 0.0), (x, height)]), "street",
                                f"{c + 1}{_ordinal(c + 1)} Ave", {"width": CARRIAGEWAY}))
    for r in range(rows):
        for c in range(cols):
            x0, y0 = c * pitch_x + SIDEWALK_OFFSET, r * PITCH_Y + SIDEWALK_OFFSET
            x1, y1 = (c + 1) * pitch_x - SIDEWALK_OFFSET, (r + 1) * PITCH_Y - SIDEWALK_OFFSET
            ring = LineString([(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)])
            b.streets.append(Street(f"sw-{r:03d}-{c:03d}", ring, "sidewalk", None,
                                    {"width": SIDEWALK_WIDTH}))


def _ordinal(n: int) -> str:
    if 10 <= n % 100 <= 20:
        return "th"
    return {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")


def _centred(world: World, cx: float, cy: float) -> World:
    """The same world shifted so that the grid's centre is the projection origin."""

    def mv(g: G) -> G:
        return affinity.translate(g, -cx, -cy)  # type: ignore[no-any-return]

    hh = {k: replace(h, parcel=mv(h.parcel), entrance=mv(h.entrance) if h.entrance else None)
          for k, h in world.households.items()}
    bl = tuple(replace(x, footprint=mv(x.footprint)) for x in world.buildings)
    cams = {k: replace(c, position=mv(c.position)) for k, c in world.cameras.items()}
    st = tuple(replace(x, geometry=mv(x.geometry)) for x in world.streets)
    return World(world.projection, hh, bl, cams, st, world.properties)
