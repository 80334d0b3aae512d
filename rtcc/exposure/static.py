"""Static exposure: who each camera shows, from the world's geometry and the consent tiers alone.

For every camera: its visibility polygon (:mod:`rtcc.world.visibility`), the visible area per
DORI band (:mod:`rtcc.world.dori`), the spillover outside its owner's parcel and the households
in view (ARCHITECTURE rule: the view covers at least ``min_area`` m² of the parcel or contains
the entrance; the owner's household is always listed: the camera hangs on its door) with the band
at which each entrance is seen. For every household: the live cameras that show it and how much of
its parcel they cover. For the neighbourhood: consent leakage, street and sidewalk coverage by
band, trackability and breakdowns by household attribute.

Every camera is analysed, whatever its tier, so that a reader can see what a camera *would* show;
only ``live`` cameras count as exposing anyone (``exposed_by``, leakage, coverage). Geometry runs
vectorised over all camera-parcel pairs at once (one STRtree query, one batched intersection).
Pure: no I/O.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import shapely
from numpy.typing import NDArray
from shapely import STRtree
from shapely.geometry import Point
from shapely.geometry.base import BaseGeometry

from rtcc.exposure.bands import band_areas, cumulative_bands
from rtcc.exposure.breakdown import breakdowns
from rtcc.exposure.consent import ConsentView, from_world
from rtcc.exposure.coverage import street_coverage, trackability
from rtcc.exposure.results import (
    BANDS,
    CameraExposure,
    HouseholdExposure,
    InView,
    StaticResult,
    Summary,
    finer_or_equal,
    finest,
)
from rtcc.world import dori
from rtcc.world.model import ENTRANCE_TOLERANCE, Camera, World

log = logging.getLogger(__name__)

DEFAULT_MIN_AREA = 1.0
"""m² of a parcel a view must cover for the household to be in view (ARCHITECTURE)."""


def visibility(world: World, cameras: Mapping[str, Camera] | None = None
               ) -> dict[str, BaseGeometry]:
    """Every camera's visibility polygon (the world's fast batch computation).

    ``cameras`` may hold modified copies of the world's cameras (a counterfactual)."""
    from rtcc.world.visibility import visibility_polygons

    cams = world.cameras if cameras is None else cameras
    return dict(visibility_polygons(world, list(cams.values())))


@dataclass(frozen=True, slots=True)
class Pairs:
    """Camera-household pairs in view, as parallel arrays (positions in the world's order)."""

    cam: NDArray[np.int64]
    hh: NDArray[np.int64]
    parcel_m2: NDArray[np.float64]
    entrance_seen: NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class HouseholdIndex:
    """Parcels and entrances of a world as arrays in household order, with their trees."""

    ids: tuple[str, ...]
    parcels: NDArray[np.object_]
    parcel_tree: STRtree
    entrance_owner: NDArray[np.int64]
    entrances: NDArray[np.object_]
    entrance_tree: STRtree
    entrance_by: dict[int, Point]

    @classmethod
    def of(cls, world: World) -> HouseholdIndex:
        hs = list(world.households.values())
        parcels = np.asarray([h.parcel for h in hs], dtype=object)
        owner = np.asarray([i for i, h in enumerate(hs) if h.entrance is not None],
                           dtype=np.int64)
        entrances = np.asarray([hs[i].entrance for i in owner.tolist()], dtype=object)
        return cls(tuple(world.households), parcels, STRtree(parcels), owner, entrances,
                   STRtree(entrances),
                   dict(zip(owner.tolist(), entrances.tolist(), strict=True)))

    def entrance_of(self, h: int) -> Point | None:
        return self.entrance_by.get(h)


def in_view_pairs(world: World, camera_ids: list[str], views: list[BaseGeometry],
                  min_area: float = DEFAULT_MIN_AREA, *, include_owner: bool = True,
                  index: HouseholdIndex | None = None) -> Pairs:
    """All (camera, household) pairs in view per the ARCHITECTURE rule, vectorised.

    Positions refer to ``camera_ids`` and to the world's household order.
    """
    idx = index or HouseholdIndex.of(world)
    hh_pos = {hid: i for i, hid in enumerate(idx.ids)}
    v = np.asarray(views, dtype=object)
    if len(v) == 0 or len(idx.ids) == 0:
        return _no_pairs()
    shapely.prepare(v)
    ci, hi = idx.parcel_tree.query(v, predicate="intersects")
    area = shapely.area(shapely.intersection(v[ci], idx.parcels[hi])) if len(ci) else np.zeros(0)
    found: dict[tuple[int, int], list[float]] = {}
    for c, h, a in zip(ci.tolist(), hi.tolist(), area.tolist(), strict=True):
        found[(c, h)] = [a, 0.0]
    # Entrances may lie outside their parcel (on a shared facade): query them on their own.
    if len(idx.entrances):
        ec, eh = idx.entrance_tree.query(v, predicate="dwithin", distance=ENTRANCE_TOLERANCE)
        for c, h in zip(ec.tolist(), idx.entrance_owner[eh].tolist(), strict=True):
            found.setdefault((c, h), [0.0, 0.0])[1] = 1.0
    owners: set[tuple[int, int]] = set()
    if include_owner:
        for c, cid in enumerate(camera_ids):
            owner = world.cameras[cid].household if cid in world.cameras else None
            if owner is not None and owner in hh_pos:
                owners.add((c, hh_pos[owner]))
                found.setdefault((c, hh_pos[owner]), [0.0, 0.0])
    keep = sorted((c, h, a, s) for (c, h), (a, s) in found.items()
                  if a >= min_area or s > 0 or (c, h) in owners)
    if not keep:
        return _no_pairs()
    arr = np.asarray(keep, dtype=np.float64)
    return Pairs(arr[:, 0].astype(np.int64), arr[:, 1].astype(np.int64), arr[:, 2],
                 arr[:, 3] > 0)


def _no_pairs() -> Pairs:
    empty = np.zeros(0, dtype=np.int64)
    return Pairs(empty, empty, np.zeros(0), np.zeros(0, dtype=bool))


@dataclass(frozen=True, slots=True)
class Prepared:
    """The consent-independent geometry of an analysis, reusable across consent scenarios
    (program phases, request-only, sweeps of who opts in) of the same cameras and views."""

    cams: Mapping[str, Camera]
    views: Mapping[str, BaseGeometry]
    min_area: float
    cam_ids: list[str]
    hidx: HouseholdIndex
    pairs: Pairs
    cumulative: dict[str, NDArray[np.object_]]
    band_area: dict[str, dict[str, float]]
    entrance_band: list[str | None]
    spill_area: dict[int, float]


def prepare(world: World, *, min_area: float = DEFAULT_MIN_AREA,
            views: Mapping[str, BaseGeometry] | None = None,
            cameras: Mapping[str, Camera] | None = None) -> Prepared:
    """Everything geometric :func:`analyze` needs (see its arguments)."""
    cams = dict(world.cameras if cameras is None else cameras)
    if views is None:
        views = visibility(world, cams)
    cam_ids = list(cams)
    view_list = [views[cid] for cid in cam_ids]
    hidx = HouseholdIndex.of(world)
    pairs = in_view_pairs(world, cam_ids, view_list, min_area, index=hidx)
    cumulative = cumulative_bands([cams[cid] for cid in cam_ids], view_list)
    areas = band_areas(cumulative)
    band_area = {cid: {b: float(areas[b][i]) for b in BANDS} for i, cid in enumerate(cam_ids)}
    entrance_band = _entrance_bands(hidx, cams, cam_ids, pairs)
    return Prepared(cams, views, min_area, cam_ids, hidx, pairs, cumulative, band_area,
                    entrance_band, _spillover(world, cams, cam_ids, views))


def analyze(world: World, consent: ConsentView | None = None, *,
            min_area: float = DEFAULT_MIN_AREA,
            views: Mapping[str, BaseGeometry] | None = None,
            cameras: Mapping[str, Camera] | None = None,
            breakdown_by: tuple[str, ...] | None = None,
            notes: tuple[str, ...] = (),
            prepared: Prepared | None = None) -> StaticResult:
    """The full static analysis.

    ``views`` (camera id -> polygon) replaces the visibility polygons (counterfactual masks);
    ``cameras`` replaces camera records (counterfactual resolution caps); ``breakdown_by``
    limits the household attributes grouped on (default: every attribute in the world);
    ``prepared`` (from :func:`prepare` on the same world) skips the geometry, and then
    ``min_area``, ``views`` and ``cameras`` are the prepared ones.
    """
    consent = consent or from_world(world)
    if prepared is None:
        prepared = prepare(world, min_area=min_area, views=views, cameras=cameras)
    p = prepared
    min_area = p.min_area
    hidx, cam_ids = p.hidx, p.cam_ids
    live = np.array([consent.camera_live(cid) for cid in cam_ids], dtype=bool)
    consenting = np.array([consent.consenting(hid) for hid in hidx.ids], dtype=bool)
    camera_results = _cameras(hidx, consent, p, consenting)
    household_results = _households(world, hidx, consent, cam_ids, p.views, p.pairs, live,
                                    p.entrance_band, consenting)
    coverage, detect_pieces = street_coverage(
        world.streets, {b: polys[live] for b, polys in p.cumulative.items()})
    track = trackability(world.streets, detect_pieces.get("sidewalk", []))
    groups = breakdowns(household_results, breakdown_by)
    summary = _summary(world, camera_results, household_results, min_area)
    meta = {
        "name": world.properties.get("name"),
        "origin": [world.projection.lon0, world.projection.lat0],
        "households": len(world.households),
        "cameras": len(world.cameras),
        "buildings": len(world.buildings),
        "streets": len(world.streets),
        "consent_source": consent.source,
        "attribution": world.properties.get("attribution"),
        "modelled_cameras": sum(1 for c in world.cameras.values()
                                if c.attributes.get("modelled") is True),
    }
    return StaticResult(meta, camera_results, household_results, coverage, track, groups,
                        summary, tuple(consent.notes) + tuple(notes))


def _spillover(world: World, cams: Mapping[str, Camera], cam_ids: list[str],
               views: Mapping[str, BaseGeometry]) -> dict[int, float]:
    """Visible area outside the owner's parcel, for cameras with a household."""
    owned = [(i, cams[cid].household) for i, cid in enumerate(cam_ids)]
    with_owner = [(i, o) for i, o in owned if o is not None and o in world.households]
    if not with_owner:
        return {}
    vs = np.asarray([views[cam_ids[i]] for i, _ in with_owner], dtype=object)
    ps = np.asarray([world.households[o].parcel for _, o in with_owner], dtype=object)
    spill = shapely.area(shapely.difference(vs, ps))
    return dict(zip([i for i, _ in with_owner], spill.tolist(), strict=True))


def _entrance_bands(idx: HouseholdIndex, cams: Mapping[str, Camera], cam_ids: list[str],
                    pairs: Pairs) -> list[str | None]:
    """Per pair, the band at which the camera sees the household's entrance (None: not seen)."""
    out: list[str | None] = []
    for c, h, seen in zip(pairs.cam.tolist(), pairs.hh.tolist(), pairs.entrance_seen.tolist(),
                          strict=True):
        if not seen:
            out.append(None)
            continue
        cam = cams[cam_ids[c]]
        ent = idx.entrance_of(h)
        assert ent is not None
        out.append(dori.band_at(cam, float(cam.position.distance(ent))))
    return out


def _cameras(idx: HouseholdIndex, consent: ConsentView, p: Prepared,
             consenting: NDArray[np.bool_]) -> tuple[CameraExposure, ...]:
    by_cam: dict[int, list[InView]] = {}
    for k, (c, h) in enumerate(zip(p.pairs.cam.tolist(), p.pairs.hh.tolist(), strict=True)):
        by_cam.setdefault(c, []).append(InView(idx.ids[h], float(p.pairs.parcel_m2[k]),
                                               p.entrance_band[k], bool(consenting[h])))
    out: list[CameraExposure] = []
    for c, cid in enumerate(p.cam_ids):
        cam = p.cams[cid]
        area = float(p.views[cid].area)
        seen = sorted(by_cam.get(c, []), key=lambda iv: iv.household)
        spill_m2 = p.spill_area.get(c)
        out.append(CameraExposure(
            id=cid,
            household=cam.household,
            type=cam.type,
            consent=consent.cameras.get(cid, "none"),
            live=consent.camera_live(cid),
            visible_area_m2=area,
            area_by_band_m2=p.band_area[cid],
            band_distance_m={b: min(d, cam.range) for b, d in dori.band_distances(cam).items()},
            spillover_m2=spill_m2,
            spillover_share=(spill_m2 / area if spill_m2 is not None and area > 0 else
                             (0.0 if spill_m2 is not None else None)),
            households_in_view=tuple(iv.household for iv in seen),
            non_consenting_in_view=tuple(iv.household for iv in seen if not iv.consenting),
            in_view=tuple(seen),
            width=cam.width,
            modelled=cam.attributes.get("modelled") is True,
        ))
    return tuple(out)


def _households(world: World, idx: HouseholdIndex, consent: ConsentView, cam_ids: list[str],
                views: Mapping[str, BaseGeometry], pairs: Pairs, live: NDArray[np.bool_],
                entrance_band: list[str | None], consenting: NDArray[np.bool_]
                ) -> tuple[HouseholdExposure, ...]:
    seen_by: dict[int, list[int]] = {}
    live_by: dict[int, list[int]] = {}
    bands: dict[int, list[str | None]] = {}
    for k, (c, h) in enumerate(zip(pairs.cam.tolist(), pairs.hh.tolist(), strict=True)):
        seen_by.setdefault(h, []).append(c)
        if live[c]:
            live_by.setdefault(h, []).append(c)
            bands.setdefault(h, []).append(entrance_band[k])
    # Share of each exposed parcel inside the union of its live views.
    exposed_share: dict[int, float] = {}
    for h, cs in live_by.items():
        parcel = idx.parcels[h]
        if parcel.area <= 0:
            exposed_share[h] = 0.0
            continue
        cover = [views[cam_ids[c]] for c in cs]
        union = cover[0] if len(cover) == 1 else shapely.union_all(cover)
        exposed_share[h] = float(shapely.intersection(parcel, union).area / parcel.area)
    out: list[HouseholdExposure] = []
    for h, hid in enumerate(idx.ids):
        hh = world.households[hid]
        out.append(HouseholdExposure(
            id=hid,
            consent=consent.households.get(hid, "none"),
            consenting=bool(consenting[h]),
            exposed_by=tuple(sorted(cam_ids[c] for c in live_by.get(h, []))),
            in_view_of=tuple(sorted(cam_ids[c] for c in seen_by.get(h, []))),
            entrance_band=finest(bands.get(h, [])),
            parcel_m2=float(hh.parcel.area),
            parcel_exposed_share=min(1.0, exposed_share.get(h, 0.0)),
            residents=hh.residents,
            attributes=hh.attributes,
        ))
    return tuple(out)


def leakage(non_consenting: int, exposed_non_consenting: int) -> float | None:
    return exposed_non_consenting / non_consenting if non_consenting else None


def _summary(world: World, cams: tuple[CameraExposure, ...],
             households: tuple[HouseholdExposure, ...], min_area: float) -> Summary:
    non = [h for h in households if not h.consenting]
    exposed_non = [h for h in non if h.exposed_by]
    live = [c for c in cams if c.live]
    private = [c for c in live if c.type != "city"]
    by_band = {b: sum(1 for h in exposed_non if h.entrance_band == b) for b in BANDS}
    spills = [c.spillover_share for c in private if c.spillover_share is not None]
    return Summary(
        households=len(households),
        non_consenting=len(non),
        exposed_non_consenting=len(exposed_non),
        consent_leakage=leakage(len(non), len(exposed_non)),
        cameras=len(cams),
        live_cameras=len(live),
        live_private_cameras=len(private),
        live_city_cameras=sum(1 for c in live if c.type == "city"),
        exposed_households=sum(1 for h in households if h.exposed_by),
        non_consenting_entrance_by_band=by_band,
        mean_non_consenting_per_live_camera=(
            sum(len(c.non_consenting_in_view) for c in live) / len(live) if live else 0.0),
        mean_spillover_share=sum(spills) / len(spills) if spills else None,
        min_area_m2=min_area,
    )


def identifiable(h: HouseholdExposure) -> bool:
    """A live camera sees the entrance at recognise or finer: faces at the door are usable."""
    return finer_or_equal(h.entrance_band, "recognise")
