"""Reading and writing world files (GeoJSON FeatureCollections in WGS84 lon/lat).

:func:`load_world` reads a file or bytes, decodes JSON (reporting the line and column of a syntax
error) and hands the document to :func:`rtcc.world.validate.parse_world`, which checks every
feature and builds the World in local metres. Any problem — an unreadable file, binary junk,
invalid JSON, a bad field — is raised as one :class:`rtcc.errors.WorldError` listing them all.

:func:`dump_world` writes deterministic bytes: the same World always gives the same bytes.
Features come in a fixed order (households, buildings, cameras, streets, each in world order),
properties in a fixed order, coordinates rounded to 1e-7 degree (about 1 cm), polygons oriented by
the RFC 7946 right-hand rule, one feature per line so that files diff well. The projection origin
is written as the collection's ``properties.origin`` so that a file reloads into the same frame.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from shapely.geometry import LineString, Point, Polygon
from shapely.geometry.base import BaseGeometry

from rtcc.errors import WorldError
from rtcc.world.model import Building, Camera, Household, Street, World
from rtcc.world.validate import parse_world

COORD_DECIMALS = 7
"""Decimal places of written lon/lat: 1e-7 degree is about 1.1 cm."""


def _reject_constant(name: str) -> float:
    raise ValueError(f"{name} is not valid JSON")


def load_world(source: str | os.PathLike[str] | bytes, *, name: str | None = None) -> World:
    """Read a world file (a path, or its bytes) into a World; WorldError lists every problem."""
    if isinstance(source, bytes | bytearray):
        label = name or "<bytes>"
        data = bytes(source)
    else:
        path = Path(source)
        label = name or str(path)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise WorldError(label, ["cannot read: no such file"]) from None
        except IsADirectoryError:
            raise WorldError(label, ["cannot read: is a directory, not a file"]) from None
        except OSError as err:
            raise WorldError(label, [f"cannot read: {err.strerror or err}"]) from err
    return loads_world(data, label)


def loads_world(data: bytes, source: str = "<bytes>") -> World:
    """Decode and check the bytes of a world file."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise WorldError(source, [f"not UTF-8 text (bad byte at offset {err.start}): "
                                  "a world file is GeoJSON"]) from None
    if "\x00" in text:
        raise WorldError(source, ["binary data (NUL bytes): a world file is GeoJSON text"])
    try:
        doc = json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as err:
        raise WorldError(source, [f"line {err.lineno} column {err.colno}: invalid JSON: "
                                  f"{err.msg}"]) from None
    except ValueError as err:  # NaN / Infinity, which JSON does not have
        raise WorldError(source, [f"invalid JSON: {err}"]) from None
    except RecursionError:
        raise WorldError(source, ["invalid JSON: nested too deeply"]) from None
    return parse_world(doc, source)


# -- writing -----------------------------------------------------------------------------------


def _num(value: float) -> float | int:
    """Compact, deterministic numbers for properties: integers stay integers."""
    v = float(value)
    if v.is_integer() and abs(v) < 2**53:
        return int(v)
    return round(v, 6) + 0.0


def _lonlat_lists(world: World, xy: np.ndarray) -> list[list[float]]:
    """Local metres -> rounded [lon, lat] lists (one vectorised projection)."""
    if len(xy) == 0:
        return []
    lonlat = np.round(world.projection.to_lonlat_coords(xy), COORD_DECIMALS) + 0.0
    return lonlat.tolist()  # type: ignore[no-any-return]


def _geometries(world: World, geoms: list[BaseGeometry]) -> list[dict[str, Any]]:
    """GeoJSON geometry objects for many geometries, projecting all coordinates at once."""
    out: list[dict[str, Any] | None] = [None] * len(geoms)
    for kind, cls in (("Point", Point), ("LineString", LineString), ("Polygon", Polygon)):
        pos = [i for i, g in enumerate(geoms) if isinstance(g, cls)]
        if not pos:
            continue
        arr = np.array([geoms[i] for i in pos], dtype=object)
        if kind == "Polygon":
            # Exterior counter-clockwise, holes clockwise (RFC 7946 right-hand rule).
            arr = shapely.orient_polygons(arr, exterior_cw=False)
        _, coords, offsets = shapely.to_ragged_array(arr)
        flat = _lonlat_lists(world, coords)
        if kind == "Point":
            for i, c in zip(pos, flat, strict=True):
                out[i] = {"type": "Point", "coordinates": c}
        elif kind == "LineString":
            (line_off,) = offsets
            for n, i in enumerate(pos):
                out[i] = {"type": "LineString",
                          "coordinates": flat[line_off[n]:line_off[n + 1]]}
        else:
            ring_off, poly_off = offsets
            for n, i in enumerate(pos):
                rings = [flat[ring_off[r]:ring_off[r + 1]]
                         for r in range(poly_off[n], poly_off[n + 1])]
                out[i] = {"type": "Polygon", "coordinates": rings}
    for g, o in zip(geoms, out, strict=True):
        if o is None:
            raise TypeError(f"cannot write a {g.geom_type} into a world file")
    return out  # type: ignore[return-value]


def _with_attributes(props: dict[str, Any], attributes: Mapping[str, Any]) -> dict[str, Any]:
    for key, value in attributes.items():
        props.setdefault(key, value)  # the contract's own fields win over a stray attribute
    return props


def _household(h: Household, entrance: list[float] | None) -> dict[str, Any]:
    props: dict[str, Any] = {"kind": "household", "id": h.id, "consent": h.consent,
                             "residents": h.residents}
    if entrance is not None:
        props["entrance"] = entrance
    return {"geom": h.parcel, "props": _with_attributes(props, h.attributes)}


def _building(b: Building) -> dict[str, Any]:
    props: dict[str, Any] = {"kind": "building", "id": b.id}
    if b.household is not None:
        props["household"] = b.household
    return {"geom": b.footprint, "props": _with_attributes(props, b.attributes)}


def _camera(c: Camera) -> dict[str, Any]:
    props: dict[str, Any] = {
        "kind": "camera", "id": c.id, "household": c.household, "type": c.type,
        "direction": _num(c.direction % 360.0), "fov": _num(c.fov), "range": _num(c.range),
        "width": c.width, "height": c.height, "lens": c.lens,
        "mount_height": _num(c.mount_height),
    }
    if c.consent is not None:
        props["consent"] = c.consent
    if c.masks:
        props["masks"] = [[_num(m.x), _num(m.y), _num(m.w), _num(m.h)] for m in c.masks]
    return {"geom": c.position, "props": _with_attributes(props, c.attributes)}


def _street(s: Street) -> dict[str, Any]:
    props: dict[str, Any] = {"kind": "street", "id": s.id, "type": s.kind}
    if s.name is not None:
        props["name"] = s.name
    return {"geom": s.geometry, "props": _with_attributes(props, s.attributes)}


def dump_world(world: World) -> bytes:
    """The world as GeoJSON bytes; the same world always gives the same bytes."""
    homes = list(world.households.values())
    xy = np.array([(h.entrance.x, h.entrance.y) for h in homes if h.entrance is not None])
    lonlat = iter(_lonlat_lists(world, xy.reshape(-1, 2)))
    parts = [_household(h, next(lonlat) if h.entrance is not None else None) for h in homes]
    parts += [_building(b) for b in world.buildings]
    parts += [_camera(c) for c in world.cameras.values()]
    parts += [_street(s) for s in world.streets]
    origin = [world.projection.lon0, world.projection.lat0]
    head = {"type": "FeatureCollection",
            "properties": {"origin": origin, **{k: v for k, v in world.properties.items()
                                                if k != "origin"}}}
    lines = [json.dumps(head, ensure_ascii=False, separators=(",", ":"))[:-1]
             + ',"features":[']
    features = []
    geometries = _geometries(world, [part["geom"] for part in parts])
    for part, geometry in zip(parts, geometries, strict=True):
        feature = {"type": "Feature", "properties": part["props"], "geometry": geometry}
        features.append(json.dumps(feature, ensure_ascii=False, separators=(",", ":"),
                                   allow_nan=False))
    lines.append(",\n".join(features))
    lines.append("]}\n")
    return "\n".join(lines).encode("utf-8")


def save_world(world: World, path: str | os.PathLike[str]) -> None:
    """Write :func:`dump_world` bytes to a file (atomically: a temporary file, then rename)."""
    target = Path(path)
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_bytes(dump_world(world))
    os.replace(tmp, target)
