"""``rtcc world synth|import|check|show``: make, import, validate and draw neighbourhood world
files."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rtcc.cli.argtypes import positive_int
from rtcc.config import Settings
from rtcc.errors import ConfigError, RtccError


def _rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number within 0..1, got {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a number within 0..1, got {text!r}")
    return value



def _area(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected square metres, got {text!r}") from None
    if not 0.0 < value < 1e7:
        raise argparse.ArgumentTypeError(f"expected square metres above 0, got {text!r}")
    return value


def _lonlat(text: str) -> tuple[float, float]:
    try:
        lon, lat = (float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected LON,LAT, got {text!r}") from None
    if not (-180 <= lon <= 180 and -85 <= lat <= 85):
        raise argparse.ArgumentTypeError(f"LON,LAT out of range: {text!r}")
    return lon, lat


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("world", help="make, import, check and draw neighbourhood world files",
                       description="Neighbourhood world files (GeoJSON): synthesise one, import "
                       "one from OpenStreetMap, check one, or draw one as a map.")
    wsub = p.add_subparsers(dest="world_command", metavar="ACTION", required=True)

    s = wsub.add_parser("synth", parents=[common], help="write a synthetic neighbourhood",
                        description="Write a deterministic synthetic neighbourhood: street grid, "
                        "parcels, houses, doorbell/floodlight/business/city cameras and consent "
                        "tiers. The same arguments always give the same bytes.")
    s.add_argument("--households", type=positive_int, default=100, metavar="N",
                   help="number of households (default 100)")
    s.add_argument("--seed", type=int, default=1, metavar="S", help="random seed (default 1)")
    s.add_argument("-o", "--output", required=True, metavar="FILE",
                   help="where to write the GeoJSON ('-' for standard output)")
    s.add_argument("--camera-rate", type=_rate, default=0.25, metavar="R",
                   help="share of households with a doorbell camera (default 0.25)")
    s.add_argument("--floodlight-rate", type=_rate, default=0.15, metavar="R",
                   help="share of camera owners who also have a floodlight camera (default 0.15)")
    s.add_argument("--live-rate", type=_rate, default=0.10, metavar="R",
                   help="share of camera owners streaming live to the RTCC (default 0.10)")
    s.add_argument("--request-rate", type=_rate, default=0.15, metavar="R",
                   help="share of camera owners police may ask for clips (default 0.15)")
    s.add_argument("--registry-rate", type=_rate, default=0.30, metavar="R",
                   help="share of camera owners registered, nothing shared (default 0.30); "
                   "the rest are 'none'")
    s.add_argument("--stream-width", type=positive_int, default=None, metavar="PX",
                   help="cap the width of doorbell/floodlight streams the RTCC receives, e.g. "
                   "640 (default: native resolution)")
    s.add_argument("--origin", type=_lonlat, default=None, metavar="LON,LAT",
                   help="where on Earth to put the neighbourhood; write it with '=' when the "
                   "longitude is negative: --origin=-77.03,38.90 (default Jackson, MS: "
                   "-90.18,32.30)")
    s.set_defaults(handler=run_synth)

    i = wsub.add_parser(
        "import", parents=[common], help="make a world from an OpenStreetMap extract",
        description="Make a world from a real place: an OpenStreetMap extract (.osm.pbf, .osm "
        "or .osm.bz2 XML, Overpass API JSON) or GeoJSON building footprints. Buildings, lots "
        "(derived), households (one per dwelling), entrances, streets and sidewalks, the "
        "mapped surveillance cameras and modelled private cameras (doorbells, floodlights, "
        "business cameras). The same file, area and seed always give the same bytes. Map data "
        "(c) OpenStreetMap contributors, ODbL: the credit is carried in the world file.",
        epilog="Rates default to published figures: see docs/world.md, 'Importing a real "
        "place'.")
    i.add_argument("file", metavar="FILE", help="the extract")
    i.add_argument("-o", "--output", required=True, metavar="FILE",
                   help="where to write the world GeoJSON ('-' for standard output)")
    area = i.add_mutually_exclusive_group()
    area.add_argument("--bbox", metavar="W,S,E,N",
                      help="only the part inside this lon/lat box (write it with '=' when W is "
                      "negative: --bbox=-90.19,32.29,-90.17,32.31)")
    area.add_argument("--polygon", metavar="GEOJSON",
                      help="only the part inside the (Multi)Polygon(s) of this GeoJSON file")
    i.add_argument("--seed", type=int, default=1, metavar="S", help="random seed (default 1)")
    i.add_argument("--camera-rate", type=_rate, default=0.17, metavar="R",
                   help="share of homes' entrances with a doorbell camera (default 0.17: 22 of "
                   "127 million US households had a home security camera in 2020)")
    i.add_argument("--floodlight-rate", type=_rate, default=0.15, metavar="R",
                   help="share of one-dwelling homes with a doorbell that also have a "
                   "floodlight camera (default 0.15)")
    i.add_argument("--business-rate", type=_rate, default=0.20, metavar="R",
                   help="share of businesses with a camera seeing the street (default 0.20: "
                   "about one small US retailer in five, 2014 survey)")
    i.add_argument("--live-rate", type=_rate, default=0.10, metavar="R",
                   help="share of camera owners streaming live to the RTCC (default 0.10)")
    i.add_argument("--request-rate", type=_rate, default=0.15, metavar="R",
                   help="share of camera owners police may ask for clips (default 0.15)")
    i.add_argument("--registry-rate", type=_rate, default=0.30, metavar="R",
                   help="share of camera owners registered, nothing shared (default 0.30); "
                   "the rest are 'none'")
    i.add_argument("--stream-width", type=positive_int, default=None, metavar="PX",
                   help="cap the width of doorbell/floodlight streams the RTCC receives")
    i.add_argument("--name", default=None, help="the world's name (default: the file's name)")
    i.add_argument("--attribution", default=None, metavar="TEXT",
                   help="the data's credit line (default: (c) OpenStreetMap contributors; set "
                   "it for a footprint dataset under another licence)")
    i.add_argument("--yes-max-area", type=_area, default=1000.0, metavar="M2",
                   help="an untagged building=yes in residential land use is a home below this "
                   "footprint (default 1000 m2)")
    i.add_argument("--yes-homes", choices=("residential", "everywhere", "never"),
                   default="residential",
                   help="where an untagged building=yes of a house's size may be a home: inside "
                   "residential land use (default), everywhere (for a place whose map has no "
                   "land use) or never")
    i.add_argument("-v", "--verbose", action="store_true",
                   help="list every warning (default: a count per kind)")
    i.set_defaults(handler=run_import)

    c = wsub.add_parser("check", parents=[common], help="validate a world file and summarise it",
                        description="Validate a world file. Prints a summary when it is valid; "
                        "otherwise one line per problem (feature index, id, field) and exit "
                        "status 2.")
    c.add_argument("file", metavar="FILE", help="the world GeoJSON")
    c.add_argument("--json", action="store_true", help="print the summary as JSON")
    c.set_defaults(handler=run_check)

    m = wsub.add_parser("show", parents=[common], help="draw a world file as a PNG map",
                        description="Draw a world as a map: parcels coloured by consent tier, "
                        "buildings, streets and camera views (live cameras emphasised).")
    m.add_argument("file", metavar="FILE", help="the world GeoJSON")
    m.add_argument("-o", "--output", required=True, metavar="PNG", help="the image to write")
    m.add_argument("--views", choices=("all", "live", "none"), default="all",
                   help="which cameras' visibility polygons to draw (default all)")
    m.add_argument("--title", default=None, help="title instead of the summary line")
    m.add_argument("--dpi", type=positive_int, default=150, help="resolution (default 150)")
    m.set_defaults(handler=run_show)


def run_synth(args: argparse.Namespace, settings: Settings) -> int:
    from rtcc.world.geojson import dump_world
    from rtcc.world.synth import synthesize

    total = args.live_rate + args.request_rate + args.registry_rate
    if total > 1.0 + 1e-9:
        raise ConfigError(f"--live-rate + --request-rate + --registry-rate must add up to at "
                          f"most 1, got {total:g}")
    kwargs = {} if args.origin is None else {"origin": args.origin}
    world = synthesize(args.households, args.seed, live_rate=args.live_rate,
                       request_rate=args.request_rate, registry_rate=args.registry_rate,
                       camera_rate=args.camera_rate, floodlight_rate=args.floodlight_rate,
                       stream_width=args.stream_width, **kwargs)
    data = dump_world(world)
    if args.output == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return 0
    _write(Path(args.output), data)
    live = sum(1 for cam in world.cameras.values() if world.camera_consent(cam) == "live")
    print(f"wrote {args.output}: {len(world.households)} households, {len(world.cameras)} "
          f"cameras ({live} live), {len(world.buildings)} buildings", file=sys.stderr)
    return 0


def run_import(args: argparse.Namespace, settings: Settings) -> int:
    from collections import Counter

    from rtcc.world.geojson import dump_world
    from rtcc.world.osm_import import (
        OSM_ATTRIBUTION,
        ImportOptions,
        build_world,
        cut,
        parse_bbox,
        read_extract,
        read_polygon,
    )

    total = args.live_rate + args.request_rate + args.registry_rate
    if total > 1.0 + 1e-9:
        raise ConfigError(f"--live-rate + --request-rate + --registry-rate must add up to at "
                          f"most 1, got {total:g}")
    area = parse_bbox(args.bbox) if args.bbox else \
        read_polygon(args.polygon) if args.polygon else None
    options = ImportOptions(
        seed=args.seed, live_rate=args.live_rate, request_rate=args.request_rate,
        registry_rate=args.registry_rate, camera_rate=args.camera_rate,
        floodlight_rate=args.floodlight_rate, business_rate=args.business_rate,
        stream_width=args.stream_width, name=args.name,
        attribution=args.attribution or OSM_ATTRIBUTION, yes_max_m2=args.yes_max_area,
        yes_homes=args.yes_homes)
    extract = read_extract(args.file)
    if area is not None:
        extract = cut(extract, area)
    world, report = build_world(extract, options)
    data = dump_world(world)
    if args.output == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    else:
        _write(Path(args.output), data)
    err = sys.stderr
    if report.warnings:
        if args.verbose:
            for line in report.warnings:
                print(f"  warning: {line}", file=err)
        else:
            kinds = Counter(_warning_kind(w) for w in report.warnings)
            for kind, n in sorted(kinds.items()):
                print(f"  warning: {n} x {kind} (--verbose lists them)", file=err)
    for what, n in sorted(report.counts.items()):
        print(f"  {what}: {n}", file=err)
    modelled = sum(1 for c in world.cameras.values() if c.attributes.get("modelled"))
    live = sum(1 for cam in world.cameras.values() if world.camera_consent(cam) == "live")
    print(f"wrote {args.output}: {len(world.households)} households in "
          f"{sum(1 for b in world.buildings if b.household)} homes, {len(world.cameras)} "
          f"cameras ({len(world.cameras) - modelled} mapped, {modelled} modelled; {live} live), "
          f"{len(world.buildings)} buildings, {len(world.streets)} streets and sidewalks. "
          f"Map data {options.attribution}", file=err)
    return 0


def _warning_kind(line: str) -> str:
    if "nodes are missing from the extract" in line:
        return "ways cut by the extract's edge"
    if line.startswith("camera "):
        return "camera tags that could not be read"
    if line.startswith("building "):
        return "building tags that could not be read"
    return "other problems"


def _write(path: Path, data: bytes) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_bytes(data)
        tmp.replace(path)
    except OSError as err:
        raise RtccError(f"cannot write {path}: {err.strerror or err}") from err


def run_check(args: argparse.Namespace, settings: Settings) -> int:
    from rtcc.world.geojson import load_world
    from rtcc.world.summary import format_summary, summarize

    world = load_world(args.file)
    summary = summarize(world)
    if args.json:
        print(json.dumps({"file": args.file, "valid": True, **summary}, indent=2))
    else:
        print(format_summary(args.file, summary))
    return 0


def run_show(args: argparse.Namespace, settings: Settings) -> int:
    from rtcc.world.geojson import load_world
    from rtcc.world.mapplot import render_map

    world = load_world(args.file)
    try:
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        render_map(world, args.output, show_views=args.views, title=args.title, dpi=args.dpi)
    except OSError as err:
        raise RtccError(f"cannot write {args.output}: {err.strerror or err}") from err
    print(f"wrote {args.output}", file=sys.stderr)
    return 0
