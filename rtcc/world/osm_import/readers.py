"""One entry point for every input format: :func:`read_extract` (a path in, an Extract out).

The format is told from the file's first bytes (:func:`.extract.sniff_format`); JSON is told
apart once decoded (``elements``: Overpass; ``FeatureCollection``/``Feature``: GeoJSON). Every
failure is one :class:`rtcc.errors.ExtractError` line naming the file and what is wrong with it.
"""

from __future__ import annotations

import bz2
import gzip
import json
import os
import zlib
from pathlib import Path

from rtcc.errors import ExtractError
from rtcc.world.osm_import.extract import Extract, check_osm_xml, sniff_format
from rtcc.world.osm_import.footprints import is_geojson, read_geojson
from rtcc.world.osm_import.osmfile import read_osm
from rtcc.world.osm_import.overpass import is_overpass, read_overpass

HEAD_BYTES = 65536


def read_extract(path: str | os.PathLike[str]) -> Extract:
    """Every object an import needs from an OSM extract or a GeoJSON file."""
    p = Path(path)
    source = str(path)
    try:
        with p.open("rb") as f:
            head = f.read(HEAD_BYTES)
    except FileNotFoundError:
        raise ExtractError(source, "cannot read: no such file") from None
    except IsADirectoryError:
        raise ExtractError(source, "cannot read: is a directory, not a file") from None
    except OSError as err:
        raise ExtractError(source, f"cannot read: {err.strerror or err}") from None
    fmt = sniff_format(source, head)
    if fmt == "json":
        return _read_json(source, p)
    if fmt == "osm":
        check_osm_xml(source, head)
    elif fmt in ("osm.bz2", "osm.gz"):
        check_osm_xml(source, _unpacked_head(source, p, fmt))
    return read_osm(source, p, fmt)


def _unpacked_head(source: str, path: Path, fmt: str) -> bytes:
    """The first bytes of a compressed XML file, to check its root element before osmium."""
    try:
        opener = bz2.open if fmt == "osm.bz2" else gzip.open
        with opener(path, "rb") as f:
            return f.read(4096)
    except (OSError, EOFError, zlib.error, ValueError) as err:
        raise ExtractError(source, f"cannot decompress ({fmt[4:]}): {err}") from None


def _read_json(source: str, path: Path) -> Extract:
    try:
        doc = json.loads(path.read_bytes().decode("utf-8-sig"))
    except UnicodeDecodeError as err:
        raise ExtractError(source, f"not UTF-8 text (bad byte at offset {err.start})") from None
    except json.JSONDecodeError as err:
        raise ExtractError(source, f"line {err.lineno} column {err.colno}: invalid JSON: "
                           f"{err.msg}") from None
    except RecursionError:
        raise ExtractError(source, "invalid JSON: nested too deeply") from None
    if is_overpass(doc):
        return read_overpass(source, doc)
    if is_geojson(doc):
        return read_geojson(source, doc)
    shape = f"an object with keys {', '.join(sorted(doc)[:5])}" if isinstance(doc, dict) \
        else f"a JSON {type(doc).__name__}"
    raise ExtractError(source, f"JSON that is neither Overpass API output (no 'elements' list) "
                       f"nor GeoJSON (no FeatureCollection): got {shape}")
