"""OpenStreetMap surveillance tags on camera features, read into the world file's own fields.

OSM maps cameras as ``man_made=surveillance`` nodes (DOMAIN.md, "Visibility"). The tags that
matter here:

- ``camera:direction`` — degrees clockwise from north (``135``), a compass point (``SE``, one of
  the 16 from N to NNW) or a range (``90-270``: the centre, 180, is the direction and the width,
  180, the field of view when no ``fov`` is given; ranges may wrap, ``315-45`` faces north). A
  range's ends may be compass points too (``W-N``). ``direction=`` is the usual fallback key.
- ``camera:type`` — ``fixed``, ``panning``, ``dome`` (or ``doorbell`` in some editors).
- ``surveillance:type`` — only ``camera`` and ``ALPR`` are cameras.
- ``surveillance`` — ``public`` (covers public space), ``outdoor``, ``indoor``.
- ``camera:mount`` — ``pole`` and ``street_lamp`` suggest a city camera.
- ``height`` — metres above ground (``3``, ``3 m``, ``2.5m``, ``9 ft``, ``9'``): the mount height.

There is no standard OSM key for the field of view, so ``fov`` (this project's own key) is read
when present. The mapping from OSM tags to this project's camera ``type``: ``doorbell`` stays
``doorbell``; public cameras and cameras on poles or street lamps are ``city``; anything else is
``business``. A panning or dome camera without a direction is taken to see all around (360).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

COMPASS = ("N", "NNE", "NE", "ENE", "E", "ESE", "SE", "SSE",
           "S", "SSW", "SW", "WSW", "W", "WNW", "NW", "NNW")
_COMPASS_DEG = {name: i * 22.5 for i, name in enumerate(COMPASS)}

CAMERA_SURVEILLANCE_TYPES = ("camera", "alpr")

_NUMBER = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)"
_HEIGHT = re.compile(rf"^\s*({_NUMBER})\s*(m|metres?|meters?|ft|feet|'|)\s*$", re.IGNORECASE)


class TagError(ValueError):
    """A tag value that cannot be read; the message says what was expected."""


@dataclass(frozen=True, slots=True)
class Direction:
    degrees: float
    """Degrees clockwise from north, 0 <= degrees < 360."""
    width: float | None = None
    """For a range, its width in degrees (used as the field of view when none is given)."""


def is_osm_camera(props: Mapping[str, Any]) -> bool:
    """True for a feature tagged as an OSM surveillance device and not in this project's form."""
    return "kind" not in props and props.get("man_made") == "surveillance"


def _one_angle(text: str) -> float:
    """Degrees from a number or a compass point (no range)."""
    t = text.strip()
    up = t.upper()
    if up in _COMPASS_DEG:
        return _COMPASS_DEG[up]
    try:
        value = float(t)
    except ValueError:
        raise TagError(f"expected degrees 0-360, a compass point (N..NNW) or a range like "
                       f"'90-270', got {text!r}") from None
    if not math.isfinite(value) or not 0.0 <= value <= 360.0:
        raise TagError(f"direction {text!r} is outside 0-360 degrees")
    return value % 360.0


def parse_direction(value: object) -> Direction:
    """Read a ``camera:direction`` / ``direction`` value (number, compass point or range)."""
    if isinstance(value, bool):
        raise TagError(f"expected degrees, a compass point or a range, got {value!r}")
    if isinstance(value, int | float):
        v = float(value)
        if not math.isfinite(v) or not 0.0 <= v <= 360.0:
            raise TagError(f"direction {v:g} is outside 0-360 degrees")
        return Direction(v % 360.0)
    if not isinstance(value, str) or not value.strip():
        raise TagError(f"expected degrees, a compass point or a range, got {value!r}")
    text = value.strip()
    if ";" in text:
        raise TagError(f"several directions {text!r}: map one camera per direction")
    # A range "a-b"; the split point is a '-' that follows a digit or a letter (not a sign).
    m = re.fullmatch(r"\s*([^-\s]+)\s*-\s*([^-\s]+)\s*", text)
    if m:
        start, end = _one_angle(m.group(1)), _one_angle(m.group(2))
        width = (end - start) % 360.0
        if width == 0.0:
            width = 360.0
        return Direction((start + width / 2.0) % 360.0, width)
    return Direction(_one_angle(text))


def parse_height(value: object) -> float:
    """Metres from an OSM ``height`` value (plain metres, ``m`` or feet)."""
    if isinstance(value, bool):
        raise TagError(f"expected a height in metres, got {value!r}")
    if isinstance(value, int | float):
        metres = float(value)
    elif isinstance(value, str) and (m := _HEIGHT.match(value)):
        metres = float(m.group(1))
        if m.group(2).lower() in ("ft", "feet", "'"):
            metres *= 0.3048
    else:
        raise TagError(f"expected a height like '3', '3 m' or '9 ft', got {value!r}")
    if not math.isfinite(metres) or metres < 0.0 or metres > 500.0:
        raise TagError(f"height {value!r} is outside 0-500 m")
    return metres


def camera_type(props: Mapping[str, Any]) -> str:
    """This project's camera ``type`` for an OSM-tagged camera."""
    ctype = str(props.get("camera:type", "")).strip().lower()
    if ctype == "doorbell":
        return "doorbell"
    mount = str(props.get("camera:mount", "")).strip().lower()
    if props.get("surveillance") == "public" or mount in ("pole", "street_lamp"):
        return "city"
    return "business"


def sees_all_around(props: Mapping[str, Any]) -> bool:
    """A panning or dome camera without any direction tag is taken to cover 360 degrees."""
    ctype = str(props.get("camera:type", "")).strip().lower()
    return ctype in ("panning", "dome") and direction_tag(props) is None


def direction_tag(props: Mapping[str, Any]) -> tuple[str, object] | None:
    """(key, value) of the direction to use: ``camera:direction``, else ``direction``."""
    for key in ("camera:direction", "direction"):
        if props.get(key) not in (None, ""):
            return key, props[key]
    return None
