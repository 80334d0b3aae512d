"""What each OSM building is: a home (and how many dwellings), a business, or just an occluder.

Every building occludes except roofs, carports and the like (``NOT_OCCLUDERS``). Homes are
``building`` = house, detached, semidetached_house, terrace, residential, apartments, bungalow,
farm, dormitory, static_caravan, cabin; and an untagged ``building=yes`` inside residential land
use whose footprint is between ``YES_MIN_M2`` (smaller ones are sheds and garages) and
``yes_max_m2`` (larger ones are schools, churches, shops). A building with a shop, office, craft
or commercial amenity tag, or of a commercial type (``BUSINESS_BUILDINGS``), is a business; a
``yes`` building that is a business is not a home (a tagged apartment block may be both).

Dwellings per home (each one household in the world, see docs/world.md):

1. ``building:flats`` when tagged;
2. one for house, detached, bungalow, farm, static_caravan, cabin; two for semidetached_house;
3. otherwise gross floor area x ``NET_TO_GROSS`` / ``DWELLING_M2``, at least one (two for a
   terrace), the floor area being footprint x levels (``building:levels``, else ``height`` / 3 m,
   else ``DEFAULT_LEVELS`` by type).

Heights: ``height`` when tagged (metres or feet), else levels x ``LEVEL_M``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from rtcc.world import osm

HOME_TYPES = ("house", "detached", "semidetached_house", "terrace", "residential", "apartments",
              "bungalow", "farm", "dormitory", "static_caravan", "cabin")
SINGLE_TYPES = ("house", "detached", "bungalow", "farm", "static_caravan", "cabin")
NOT_OCCLUDERS = ("roof", "carport", "canopy", "entrance", "underpass_entrance", "construction",
                 "proposed", "ruins", "bridge")
"""Roofs and carports stand on posts: the street is seen under them. Entrances mapped as
buildings, planned buildings and bridges are not walls at ground level."""
BUSINESS_KEYS = ("shop", "amenity", "office", "craft")
BUSINESS_AMENITIES = ("restaurant", "cafe", "fast_food", "bar", "pub", "bank", "pharmacy",
                      "fuel", "car_wash", "ice_cream", "nightclub", "bureau_de_change",
                      "money_transfer", "post_office", "clinic", "dentist", "doctors",
                      "veterinary", "marketplace", "casino", "cinema", "theatre")
"""Amenities run as businesses (the rest, a bench or a school, are not shops)."""

DWELLING_M2 = 100.0
"""Net floor area of one dwelling: the US median new multifamily unit built for rent was
1,075 sq ft (100 m²) in 2020 (US Census Bureau, Characteristics of New Housing 2020)."""
NET_TO_GROSS = 0.8
"""Share of a residential building's gross floor area inside the dwellings (the rest is walls,
stairs, corridors): a planning rule of thumb, not a measured figure."""
LEVEL_M = 3.0
"""Metres per storey, to turn levels into a height and a height into levels."""
DEFAULT_LEVELS = {"apartments": 3, "residential": 2, "dormitory": 3, "terrace": 2, "yes": 1}
YES_MIN_M2 = 35.0
"""Footprints below this are sheds and garages (a two-car garage is about 36 m²)."""
YES_MAX_M2 = 1000.0


@dataclass(frozen=True, slots=True)
class Use:
    home: bool
    business: bool
    occludes: bool
    dwellings: int
    height: float | None
    levels: int | None
    note: str | None = None
    """A tag that could not be read, for the import's warnings."""


BUSINESS_BUILDINGS = ("retail", "commercial", "office", "kiosk", "supermarket", "hotel")


def is_business(tags: Mapping[str, str]) -> bool:
    if any(tags.get(k) for k in ("shop", "office", "craft")):
        return True
    return tags.get("amenity") in BUSINESS_AMENITIES \
        or tags.get("building") in BUSINESS_BUILDINGS


def _number(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        v = float(value.strip().split(";")[0])
    except ValueError:
        return None
    return v if math.isfinite(v) and v >= 0 else None


def classify(tags: Mapping[str, str], area_m2: float, in_residential: bool,
             yes_max_m2: float = YES_MAX_M2) -> Use:
    """The use of one building (one part of a multipolygon building: ``area_m2`` is its own)."""
    kind = tags.get("building", "yes")
    note = None
    height: float | None = None
    if tags.get("height"):
        try:
            height = osm.parse_height(tags["height"])
        except osm.TagError as err:
            note = f"height: {err}"
    levels_tag = _number(tags.get("building:levels"))
    levels = max(1, round(levels_tag)) if levels_tag is not None and levels_tag >= 0.5 else None
    if height is None and levels is not None:
        height = levels * LEVEL_M
    occludes = kind not in NOT_OCCLUDERS and tags.get("location") != "underground" \
        and not _below_ground(tags)
    business = is_business(tags)
    # An apartment block with a shop tag is both (a shop downstairs); a plain "yes" with one
    # is a shop.
    home = occludes and (
        kind in HOME_TYPES
        or (kind == "yes" and not business and in_residential
            and YES_MIN_M2 <= area_m2 <= yes_max_m2))
    dwellings = 0
    if home:
        flats = _number(tags.get("building:flats"))
        if flats is not None and flats >= 1:
            dwellings = round(flats)
        elif kind in SINGLE_TYPES:
            dwellings = 1
        elif kind == "semidetached_house":
            dwellings = 2
        else:
            floors = levels or (max(1, round(height / LEVEL_M)) if height else None) \
                or DEFAULT_LEVELS.get(kind, 1)
            dwellings = max(2 if kind == "terrace" else 1,
                            round(area_m2 * floors * NET_TO_GROSS / DWELLING_M2))
    return Use(home, business, occludes, dwellings, height, levels, note)


def _below_ground(tags: Mapping[str, str]) -> bool:
    layer = _signed(tags.get("layer"))
    return layer is not None and layer < 0


def _signed(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        return None
