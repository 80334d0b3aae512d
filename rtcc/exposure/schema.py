"""The documented, versioned JSON of ``rtcc exposure --format json`` (docs/exposure-schema.md).

``SCHEMA`` is a JSON Schema (draft 2020-12) of the document; ``to_document`` builds the document
from a :class:`~rtcc.exposure.results.StaticResult`. Stability rule: within a major version
fields are only ever added, never renamed, removed or retyped; ``schema_version`` is
``MAJOR.MINOR`` and a reader should accept any minor version of the major it knows.

Numbers: areas (m²) and lengths (m) are rounded to 1e-6 and geometric shares to 1e-12 (to drop
float noise such as 12.499999999998); ratios of counts (consent leakage) are not rounded.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rtcc import __version__
from rtcc.exposure.results import BANDS, Group, StaticResult
from rtcc.vocabulary import TIERS

SCHEMA_ID = "rtcc.exposure"
SCHEMA_VERSION = "1.1"
"""1.1 (issue #19): ``world.attribution`` (the data's credit line, null for a synthetic world),
``world.modelled_cameras`` and each camera's ``modelled`` flag."""

_TIER = {"enum": list(TIERS)}
_BAND = {"enum": list(BANDS)}
_BAND_OR_NULL = {"enum": [*BANDS, None]}
_NUM = {"type": "number"}
_NUM_OR_NULL = {"type": ["number", "null"]}
_SHARE = {"type": "number", "minimum": 0, "maximum": 1}
_SHARE_OR_NULL = {"type": ["number", "null"], "minimum": 0, "maximum": 1}
_IDS = {"type": "array", "items": {"type": "string"}}
_COUNT = {"type": "integer", "minimum": 0}


def _by_band(value: Mapping[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": {b: value for b in BANDS},
            "required": list(BANDS), "additionalProperties": False}


def _obj(props: dict[str, Any], required: Sequence[str] | None = None) -> dict[str, Any]:
    return {"type": "object", "properties": props,
            "required": list(props if required is None else required)}


_GROUP = _obj({
    "value": {"type": "string"}, "households": _COUNT, "non_consenting": _COUNT,
    "exposed_non_consenting": _COUNT, "consent_leakage": _SHARE_OR_NULL,
    "mean_streams": _NUM, "entrance_identifiable": _COUNT, "leakage_ratio": _NUM_OR_NULL,
})

SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "urn:rtcc:schema:exposure:1",
    "title": "rtcc exposure analysis",
    "type": "object",
    "required": ["schema", "schema_version", "world", "parameters", "summary", "cameras",
                 "households", "coverage", "trackability", "breakdowns"],
    "properties": {
        "schema": {"const": SCHEMA_ID},
        "schema_version": {"type": "string", "pattern": r"^1\.\d+$"},
        "generator": {"type": "string"},
        "world": _obj({
            "name": {"type": ["string", "null"]},
            "origin": {"type": "array", "items": _NUM, "minItems": 2, "maxItems": 2},
            "households": _COUNT, "cameras": _COUNT, "buildings": _COUNT, "streets": _COUNT,
            "consent_source": {"type": "string"},
            "attribution": {"type": ["string", "null"]},
            "modelled_cameras": _COUNT,
        }, required=["name", "origin", "households", "cameras", "buildings", "streets",
                     "consent_source"]),
        "parameters": _obj({"min_area_m2": _NUM, "consent_source": {"type": "string"}}),
        "summary": _obj({
            "households": _COUNT, "non_consenting": _COUNT, "exposed_non_consenting": _COUNT,
            "consent_leakage": _SHARE_OR_NULL, "cameras": _COUNT, "live_cameras": _COUNT,
            "live_private_cameras": _COUNT, "live_city_cameras": _COUNT,
            "exposed_households": _COUNT,
            "non_consenting_entrance_by_band": _by_band(_COUNT),
            "mean_non_consenting_per_live_camera": _NUM,
            "mean_spillover_share": _SHARE_OR_NULL,
            "min_area_m2": _NUM,
        }),
        "cameras": {"type": "array", "items": _obj({
            "id": {"type": "string"},
            "household": {"type": ["string", "null"]},
            "type": {"type": "string"},
            "consent": _TIER,
            "live": {"type": "boolean"},
            "modelled": {"type": "boolean"},
            "width": _COUNT,
            "visible_area_m2": _NUM,
            "area_by_band_m2": _by_band(_NUM),
            "band_distance_m": _by_band(_NUM),
            "spillover_m2": _NUM_OR_NULL,
            "spillover_share": _SHARE_OR_NULL,
            "households_in_view": _IDS,
            "non_consenting_in_view": _IDS,
            "in_view": {"type": "array", "items": _obj({
                "household": {"type": "string"}, "parcel_m2": _NUM,
                "entrance_band": _BAND_OR_NULL, "consenting": {"type": "boolean"},
            })},
        })},
        "households": {"type": "array", "items": _obj({
            "id": {"type": "string"},
            "consent": _TIER,
            "consenting": {"type": "boolean"},
            "exposed_by": _IDS,
            "streams": _COUNT,
            "in_view_of": _IDS,
            "entrance_band": _BAND_OR_NULL,
            "parcel_m2": _NUM,
            "parcel_exposed_share": _SHARE,
            "residents": _COUNT,
            "attributes": {"type": "object"},
        })},
        "coverage": {"type": "object", "additionalProperties": _obj({
            "length_m": _NUM, "covered_m": _by_band(_NUM), "covered_share": _by_band(_NUM_OR_NULL),
            "area_m2": _NUM, "covered_area_m2": _by_band(_NUM),
        })},
        "trackability": _obj({
            "sidewalk_m": _NUM, "tracked_m": _NUM, "share": _SHARE_OR_NULL,
            "longest_run_m": _NUM, "runs": _COUNT,
        }),
        "breakdowns": {"type": "object", "additionalProperties": {"type": "array",
                                                                  "items": _GROUP}},
        "counterfactuals": {"type": "array", "items": _obj({
            "name": {"type": "string"}, "description": {"type": "string"},
            "summary": {"type": "object"},
        }, required=["name", "description", "summary"])},
        "notes": {"type": "array", "items": {"type": "string"}},
    },
}


def _m(x: float | None) -> float | None:
    return None if x is None else round(float(x), 6)


def _r(x: float | None) -> float | None:
    """A geometric share: 12 decimals, so that 0.7500000000000002 reads 0.75."""
    return None if x is None else round(float(x), 12)


def _group(g: Group) -> dict[str, Any]:
    return {
        "value": g.value, "households": g.households, "non_consenting": g.non_consenting,
        "exposed_non_consenting": g.exposed_non_consenting,
        "consent_leakage": g.consent_leakage, "mean_streams": g.mean_streams,
        "entrance_identifiable": g.entrance_identifiable, "leakage_ratio": g.leakage_ratio,
    }


def summary_dict(result: StaticResult) -> dict[str, Any]:
    s = result.summary
    return {
        "households": s.households,
        "non_consenting": s.non_consenting,
        "exposed_non_consenting": s.exposed_non_consenting,
        "consent_leakage": s.consent_leakage,
        "cameras": s.cameras,
        "live_cameras": s.live_cameras,
        "live_private_cameras": s.live_private_cameras,
        "live_city_cameras": s.live_city_cameras,
        "exposed_households": s.exposed_households,
        "non_consenting_entrance_by_band": dict(s.non_consenting_entrance_by_band),
        "mean_non_consenting_per_live_camera": s.mean_non_consenting_per_live_camera,
        "mean_spillover_share": _r(s.mean_spillover_share),
        "min_area_m2": s.min_area_m2,
    }


def to_document(result: StaticResult, *, counterfactuals: Sequence[Mapping[str, Any]] = ()
                ) -> dict[str, Any]:
    """The JSON document (plain dicts and lists) of a static analysis."""
    doc: dict[str, Any] = {
        "schema": SCHEMA_ID,
        "schema_version": SCHEMA_VERSION,
        "generator": f"rtcc {__version__}",
        "world": dict(result.world),
        "parameters": {"min_area_m2": result.summary.min_area_m2,
                       "consent_source": str(result.world.get("consent_source", "world"))},
        "summary": summary_dict(result),
        "cameras": [{
            "id": c.id, "household": c.household, "type": c.type, "consent": c.consent,
            "live": c.live, "modelled": c.modelled, "width": c.width,
            "visible_area_m2": _m(c.visible_area_m2),
            "area_by_band_m2": {b: _m(v) for b, v in c.area_by_band_m2.items()},
            "band_distance_m": {b: _m(v) for b, v in c.band_distance_m.items()},
            "spillover_m2": _m(c.spillover_m2),
            "spillover_share": _r(c.spillover_share),
            "households_in_view": list(c.households_in_view),
            "non_consenting_in_view": list(c.non_consenting_in_view),
            "in_view": [{"household": iv.household, "parcel_m2": _m(iv.parcel_m2),
                         "entrance_band": iv.entrance_band, "consenting": iv.consenting}
                        for iv in c.in_view],
        } for c in result.cameras],
        "households": [{
            "id": h.id, "consent": h.consent, "consenting": h.consenting,
            "exposed_by": list(h.exposed_by), "streams": h.streams,
            "in_view_of": list(h.in_view_of), "entrance_band": h.entrance_band,
            "parcel_m2": _m(h.parcel_m2), "parcel_exposed_share": _r(h.parcel_exposed_share),
            "residents": h.residents, "attributes": dict(h.attributes),
        } for h in result.households],
        "coverage": {cov.kind: {
            "length_m": _m(cov.length_m),
            "covered_m": {b: _m(v) for b, v in cov.covered_m.items()},
            "covered_share": {b: (_r(v / cov.length_m) if cov.length_m > 0 else None)
                              for b, v in cov.covered_m.items()},
            "area_m2": _m(cov.area_m2),
            "covered_area_m2": {b: _m(v) for b, v in cov.covered_area_m2.items()},
        } for cov in result.coverage},
        "trackability": {
            "sidewalk_m": _m(result.trackability.sidewalk_m),
            "tracked_m": _m(result.trackability.tracked_m),
            "share": _r(result.trackability.share),
            "longest_run_m": _m(result.trackability.longest_run_m),
            "runs": result.trackability.runs,
        },
        "breakdowns": {k: [_group(g) for g in gs] for k, gs in result.breakdowns.items()},
        "notes": list(result.notes),
    }
    if counterfactuals:
        doc["counterfactuals"] = [dict(c) for c in counterfactuals]
    return doc
