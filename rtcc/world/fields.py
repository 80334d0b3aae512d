"""Reading the ``properties`` of one world feature into a model value, reporting bad fields.

A :class:`FieldReader` wraps one feature's properties: each typed getter records the key as used,
reports a problem (naming the feature and the field) when the value is wrong and returns a
fallback, so that one pass finds every problem of a file. Whatever keys were not used end up in
the value's ``attributes`` (household demographics, OSM tags), so nothing is lost on a round trip.
Camera features in OpenStreetMap form are read here too (see :mod:`rtcc.world.osm`).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from shapely.geometry import LineString, Point, Polygon
from shapely.geometry.base import BaseGeometry

from rtcc.vocabulary import TIERS
from rtcc.world import osm
from rtcc.world.model import CAMERA_TYPES, LENSES, Building, Camera, Household, Mask, Street
from rtcc.world.optics import DEFAULT_MODEL

if TYPE_CHECKING:
    from rtcc.world.validate import Problems

STREET_TYPES = ("street", "sidewalk")

_Word = TypeVar("_Word", bound=str)


def _shown(value: object) -> str:
    text = json.dumps(value) if not isinstance(value, float) else f"{value:g}"
    return text if len(text) <= 60 else text[:57] + "..."


class FieldReader:
    """Typed access to one feature's properties; problems go to a shared collector."""

    def __init__(self, props: Mapping[str, Any], where: str, problems: Problems) -> None:
        self.props = props
        self.where = where
        self.problems = problems
        self.used: set[str] = {"kind", "id"}
        self.ok = True

    def problem(self, key: str, message: str) -> None:
        self.ok = False
        self.problems.add(self.where, key, message)

    def has(self, key: str) -> bool:
        return self.props.get(key) is not None

    def raw(self, key: str) -> Any:
        self.used.add(key)
        return self.props.get(key)

    def number(self, key: str, default: float | None, *, lo: float = -math.inf,
               hi: float = math.inf, lo_open: bool = False, what: str = "") -> float | None:
        value = self.raw(key)
        if value is None:
            if default is None:
                self.problem(key, "missing")
            return default
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.problem(key, f"expected a number, got {_shown(value)}")
            return default
        v = float(value)
        low_bad = v <= lo if lo_open else v < lo
        if not math.isfinite(v) or low_bad or v > hi:
            lo_txt = f"> {lo:g}" if lo_open else f">= {lo:g}"
            self.problem(key, f"{what or 'value'} must be {lo_txt} and <= {hi:g}, got {_shown(v)}"
                         if math.isfinite(hi) else
                         f"{what or 'value'} must be {lo_txt}, got {_shown(v)}")
            return default
        return v

    def integer(self, key: str, default: int, *, lo: int, what: str) -> int:
        value = self.raw(key)
        if value is None:
            return default
        if (isinstance(value, bool) or not isinstance(value, int | float)
                or not float(value).is_integer()):
            self.problem(key, f"{what} must be a whole number, got {_shown(value)}")
            return default
        if value < lo:
            self.problem(key, f"{what} must be >= {lo}, got {_shown(value)}")
            return default
        return int(value)

    def string(self, key: str, default: str | None = None) -> str | None:
        value = self.raw(key)
        if value is None:
            return default
        if not isinstance(value, str) or not value.strip():
            self.problem(key, f"expected a non-empty string, got {_shown(value)}")
            return default
        return value.strip()

    def choice(self, key: str, allowed: tuple[_Word, ...], default: _Word | None,
               what: str) -> _Word | None:
        value = self.raw(key)
        if value is None:
            return default
        if value not in allowed:
            self.problem(key, f"unknown {what} {_shown(value)} (expected one of "
                         f"{', '.join(allowed)})")
            return default
        return allowed[allowed.index(value)]

    def household_ref(self) -> str | None:
        value = self.raw("household")
        if value is None:
            return None
        if not isinstance(value, str) or not value.strip():
            self.problem("household", f"expected a household id or null, got {_shown(value)}")
            return None
        return value

    def position(self, key: str) -> Point | None:
        """A [lon, lat] property as a Point in lon/lat (the caller projects, in bulk)."""
        value = self.raw(key)
        if value is None:
            return None
        ok = (isinstance(value, list | tuple) and len(value) == 2
              and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)
              and all(math.isfinite(float(v)) for v in value))
        if not ok:
            self.problem(key, f"expected a [lon, lat] pair, got {_shown(value)}")
            return None
        lon, lat = float(value[0]), float(value[1])
        if not (-180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0):
            self.problem(key, f"[lon, lat] out of range: {_shown(value)}")
            return None
        return Point(lon, lat)

    def attributes(self, also_used: tuple[str, ...] = ()) -> Mapping[str, Any]:
        skip = self.used | set(also_used)
        return {k: v for k, v in self.props.items() if k not in skip}


def build_household(fid: str, geom: BaseGeometry | None, r: FieldReader) -> Household | None:
    entrance = r.position("entrance")
    residents = r.integer("residents", 0, lo=0, what="residents")
    consent = r.choice("consent", TIERS, "none", "consent tier")
    if not isinstance(geom, Polygon) or not r.ok:
        return None
    return Household(fid, geom, entrance, residents, consent or "none", r.attributes())


def build_building(fid: str, geom: BaseGeometry | None, r: FieldReader) -> Building | None:
    household = r.household_ref()
    if not isinstance(geom, Polygon) or not r.ok:
        return None
    return Building(fid, geom, household, r.attributes())


def build_street(fid: str, geom: BaseGeometry | None, r: FieldReader) -> Street | None:
    if "type" in r.props:
        kind = r.choice("type", STREET_TYPES, "street", "street type") or "street"
    else:  # OSM: a footway tagged as a sidewalk is one
        kind = "sidewalk" if r.props.get("footway") == "sidewalk" else "street"
    name = r.string("name")
    if not isinstance(geom, LineString | Polygon) or not r.ok:
        return None
    return Street(fid, geom, kind, name, r.attributes())


def _masks(r: FieldReader) -> tuple[Mask, ...]:
    value = r.raw("masks")
    if value is None:
        return ()
    if not isinstance(value, list):
        r.problem("masks", "expected a list of [x, y, w, h] rectangles in 0..1")
        return ()
    out = []
    for i, m in enumerate(value):
        ok = (isinstance(m, list) and len(m) == 4
              and all(isinstance(v, int | float) and not isinstance(v, bool) for v in m))
        if ok:
            x, y, w, h = (float(v) for v in m)
            ok = (0 <= x <= 1 and 0 <= y <= 1 and 0 < w <= 1 - x + 1e-9
                  and 0 < h <= 1 - y + 1e-9)
        if not ok:
            r.problem("masks", f"mask {i}: expected [x, y, w, h] inside the frame (0..1), "
                      f"got {_shown(m)}")
            continue
        out.append(Mask(x, y, w, h))
    return tuple(out)


def build_camera(fid: str, geom: BaseGeometry | None, r: FieldReader) -> Camera | None:
    is_osm = osm.is_osm_camera(r.props)
    household = r.household_ref()
    if is_osm:
        stype = str(r.props.get("surveillance:type", "camera")).strip().lower()
        if stype not in osm.CAMERA_SURVEILLANCE_TYPES:
            r.problem("surveillance:type", f"{_shown(r.props['surveillance:type'])} is not a "
                      "camera (expected camera or ALPR)")
        ctype = osm.camera_type(r.props)
    else:
        default_type = "doorbell" if household is not None else "city"
        ctype = r.choice("type", CAMERA_TYPES, default_type, "camera type") or default_type
    model = DEFAULT_MODEL[ctype]

    direction: float | None = None
    range_width: float | None = None
    # The contract's own key first for a feature in this project's form, OSM's first otherwise.
    tag = osm.direction_tag(r.props)
    if not is_osm and r.has("direction"):
        tag = ("direction", r.props["direction"])
    if tag is not None:
        key, value = tag
        r.used.update(("camera:direction", "direction"))
        try:
            d = osm.parse_direction(value)
            direction, range_width = d.degrees, d.width
        except osm.TagError as err:
            r.problem(key, str(err))
            direction = 0.0

    fov_default = range_width if range_width is not None else model.fov
    if is_osm and osm.sees_all_around(r.props):
        fov_default = 360.0
    fov = r.number("fov", fov_default, lo=0.0, hi=360.0, lo_open=True,
                   what="field of view (degrees)")
    if direction is None:
        if fov == 360.0:
            direction = 0.0
        else:
            r.problem("direction", "missing (degrees clockwise from north; only a 360-degree "
                      "camera may leave it out)")
    rng = r.number("range", model.range, lo=0.0, lo_open=True, what="range (metres)")
    if is_osm:
        width, height = model.width, model.height
        mount = model.mount_height
        if r.has("height"):
            try:
                mount = osm.parse_height(r.raw("height"))
            except osm.TagError as err:
                r.problem("height", str(err))
    else:
        width = r.integer("width", model.width, lo=1, what="width (pixels)")
        height = r.integer("height", model.height, lo=1, what="height (pixels)")
        mount = r.number("mount_height", model.mount_height, lo=0.0, hi=500.0,
                         what="mount height (metres)") or 0.0
    lens = r.choice("lens", LENSES, model.lens, "lens") or model.lens
    consent = r.choice("consent", TIERS, None, "consent tier")
    masks = _masks(r)
    if not isinstance(geom, Point) or not r.ok or direction is None or fov is None or rng is None:
        return None
    return Camera(id=fid, position=geom, direction=direction, fov=fov, range=rng,
                  household=household, width=width, height=height, lens=lens, type=ctype,
                  consent=consent, mount_height=mount, masks=masks,
                  attributes=r.attributes())

