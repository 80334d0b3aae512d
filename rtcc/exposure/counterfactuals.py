"""What-if analyses: the same neighbourhood under a different policy.

Each counterfactual reruns the static analysis on changed inputs and reports the headline
figures next to the baseline's:

* ``masks-world`` - the privacy masks the cameras already have in the world file, burned in.
* ``masks-ring`` - every live private camera masks its neighbours' parcels the way Ring Privacy
  Zones allow (at most two full-height strips, each >= 15 % of the frame: :mod:`masks`).
* ``cap-WIDTH`` - the vendor caps the stream delivered to the police at WIDTH pixels (e.g. 640),
  which shrinks every DORI band: fewer doors seen at a usable level of detail. Who is *in view*
  does not change (the in-view rule is geometric); what they can be recognised at does.
* ``request-only`` - private cameras are no longer live: the police ask for clips instead
  (Ring-style requests). Continuous exposure then comes from city cameras only; the figures add
  the households a request *could* expose and, for an assumed owner approval rate, the expected
  number exposed by one request covering the whole area.

Pure: no I/O.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from shapely.geometry.base import BaseGeometry

from rtcc.exposure.consent import ConsentView, from_world
from rtcc.exposure.masks import apply_policy
from rtcc.exposure.results import StaticResult
from rtcc.exposure.schema import summary_dict
from rtcc.exposure.static import Prepared, analyze, identifiable, visibility
from rtcc.world.model import Camera, World

DEFAULT_CAP_WIDTH = 640
"""A vendor cap on the police stream (DOMAIN.md: e.g. 640x480)."""
DEFAULT_APPROVAL_RATE = 0.5
"""Assumed share of owners approving a request. An assumption, not a measured figure: set it."""


@dataclass(frozen=True, slots=True)
class Counterfactual:
    name: str
    description: str
    result: StaticResult
    extra: Mapping[str, Any] = field(default_factory=dict)


def headline(result: StaticResult) -> dict[str, Any]:
    """The figures a counterfactual is compared on."""
    s = result.summary
    non = [h for h in result.households if not h.consenting]
    side = next((c for c in result.coverage if c.kind == "sidewalk"), None)
    return {
        **summary_dict(result),
        "non_consenting_entrance_recognisable": sum(1 for h in non if identifiable(h)),
        "sidewalk_detect_share": (side.covered_m["detect"] / side.length_m
                                  if side is not None and side.length_m > 0 else None),
        "sidewalk_recognise_share": (side.covered_m["recognise"] / side.length_m
                                     if side is not None and side.length_m > 0 else None),
        "trackability": result.trackability.share,
        "live_visible_area_m2": sum(c.visible_area_m2 for c in result.cameras if c.live),
        "consent_leakage": s.consent_leakage,
    }


def _private_live(world: World, consent: ConsentView) -> set[str]:
    """Live cameras of residents and businesses (not the city's own)."""
    return {cid for cid, cam in world.cameras.items()
            if cam.type != "city" and consent.camera_live(cid)}


def with_masks(world: World, consent: ConsentView, views: Mapping[str, BaseGeometry],
               policy: str = "ring", min_area: float = 1.0) -> Counterfactual:
    only = _private_live(world, consent) if policy == "ring" else None
    masked, counts = apply_policy(world, world.cameras, views, policy,
                                  lambda hid: not consent.consenting(hid), only=only)
    result = analyze(world, consent, min_area=min_area, views=masked)
    if policy == "ring":
        desc = ("Every live private camera masks its neighbours' parcels as Ring Privacy Zones "
                "allow: at most two full-height strips, each at least 15% of the frame.")
    else:
        desc = "The privacy masks the cameras have in the world file are burned into the stream."
    masked_cams = sum(1 for n in counts.values() if n)
    return Counterfactual(f"masks-{policy}", desc, result,
                          {"cameras_masked": masked_cams,
                           "masks": sum(counts.values())})


def with_resolution_cap(world: World, consent: ConsentView, views: Mapping[str, BaseGeometry],
                        max_width: int = DEFAULT_CAP_WIDTH, min_area: float = 1.0
                        ) -> Counterfactual:
    capped: dict[str, Camera] = {}
    changed = 0
    for cid, cam in world.cameras.items():
        if cam.width > max_width:
            height = max(1, round(cam.height * max_width / cam.width))
            capped[cid] = dataclasses.replace(cam, width=max_width, height=height)
            changed += 1
        else:
            capped[cid] = cam
    result = analyze(world, consent, min_area=min_area, views=views, cameras=capped)
    desc = (f"The vendor caps the stream delivered to the police at {max_width} pixels wide: "
            "every detail band shrinks in proportion.")
    return Counterfactual(f"cap-{max_width}", desc, result, {"cameras_capped": changed})


def request_only(world: World, consent: ConsentView, views: Mapping[str, BaseGeometry],
                 approval_rate: float = DEFAULT_APPROVAL_RATE, min_area: float = 1.0,
                 prepared: Prepared | None = None) -> Counterfactual:
    private = _private_live(world, consent)
    cams = dict(consent.cameras)
    for cid in private:
        cams[cid] = "request"
    hh = dict(consent.households)
    for hid, tier in hh.items():
        if tier == "live":
            hh[hid] = "request"
    cf_consent = consent.replace(households=hh, cameras=cams,
                                 source=f"{consent.source}, private live -> request")
    result = analyze(world, cf_consent, min_area=min_area, views=views, prepared=prepared)
    request_cams = {cid for cid, tier in cams.items() if tier == "request"}
    could = 0
    expected = 0.0
    for h in result.households:
        if h.consenting:
            continue
        k = sum(1 for cid in h.in_view_of if cid in request_cams)
        if k:
            could += 1
            expected += 1.0 - (1.0 - approval_rate) ** k
    non = result.summary.non_consenting
    desc = ("Private cameras stop streaming live; police ask owners for clips instead "
            "(15 minutes to 12 hours, owners may decline). Only city cameras stay live.")
    return Counterfactual("request-only", desc, result, {
        "request_cameras": len(request_cams),
        "approval_rate_assumed": approval_rate,
        "non_consenting_a_request_could_expose": could,
        "request_potential_leakage": could / non if non else None,
        "expected_exposed_per_area_wide_request": expected,
        "expected_request_leakage": expected / non if non else None,
    })


def standard(world: World, consent: ConsentView | None = None, *,
             views: Mapping[str, BaseGeometry] | None = None, min_area: float = 1.0,
             cap_width: int = DEFAULT_CAP_WIDTH, approval_rate: float = DEFAULT_APPROVAL_RATE,
             include: tuple[str, ...] = ("masks-ring", "masks-world", "cap", "request-only"),
             prepared: Prepared | None = None) -> list[Counterfactual]:
    """The usual set, sharing one visibility computation (and ``prepared`` geometry)."""
    consent = consent or from_world(world)
    views = dict(views) if views is not None else visibility(world)
    out: list[Counterfactual] = []
    if "masks-ring" in include:
        out.append(with_masks(world, consent, views, "ring", min_area))
    if "masks-world" in include and any(c.masks for c in world.cameras.values()):
        out.append(with_masks(world, consent, views, "world", min_area))
    if "cap" in include:
        out.append(with_resolution_cap(world, consent, views, cap_width, min_area))
    if "request-only" in include:
        out.append(request_only(world, consent, views, approval_rate, min_area, prepared))
    return out


def to_dicts(baseline: StaticResult, cfs: list[Counterfactual]) -> list[dict[str, Any]]:
    """Counterfactuals for the JSON: each with its headline figures and the baseline's."""
    base = headline(baseline)
    rows = [{"name": "baseline", "description": "The tiers as they are.", "summary": base}]
    for cf in cfs:
        rows.append({"name": cf.name, "description": cf.description,
                     "summary": {**headline(cf.result), **dict(cf.extra)}})
    return rows
