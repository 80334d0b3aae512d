"""Real places: an rtcc world from an OpenStreetMap extract (``rtcc world import``).

Pure world-building, like :mod:`rtcc.world.synth`: files in, a :class:`rtcc.world.model.World`
out, no asyncio and no Redis. The readers (:mod:`.readers`: PBF and XML through pyosmium,
Overpass JSON, GeoJSON) turn a file into an :class:`.extract.Extract`; :mod:`.area` cuts an area
out of it; :func:`.build.build_world` makes the world (docs/world.md describes every step and
where each default comes from).
"""

from __future__ import annotations

import os

from rtcc.world.model import World
from rtcc.world.osm_import.area import cut, parse_bbox, read_polygon
from rtcc.world.osm_import.build import (
    OSM_ATTRIBUTION,
    ImportOptions,
    ImportReport,
    build_world,
)
from rtcc.world.osm_import.readers import read_extract


def import_world(path: str | os.PathLike[str], options: ImportOptions | None = None,
                 area: object = None) -> tuple[World, ImportReport]:
    """The world of an extract (optionally only the part inside ``area``, a lon/lat polygon)."""
    extract = read_extract(path)
    if area is not None:
        extract = cut(extract, area)  # type: ignore[arg-type]
    return build_world(extract, options or ImportOptions())


__all__ = ["OSM_ATTRIBUTION", "ImportOptions", "ImportReport", "build_world", "cut",
           "import_world", "parse_bbox", "read_extract", "read_polygon"]
