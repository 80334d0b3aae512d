"""``rtcc exposure``: who ends up on the police wall without having agreed.

Static analysis of a world file (default), an opt-in-rate sweep (``--sweep``) or the live
analyzer on the frames the hub delivers (``--live``). Every input problem is one line on stderr
and exit status 2.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from rtcc.cli.argtypes import positive_int
from rtcc.config import Settings
from rtcc.errors import ConfigError

EPILOG = """\
examples:
  rtcc exposure world.geojson                         summary tables on the terminal
  rtcc exposure world.geojson --format json -o out.json
  rtcc exposure world.geojson --consent tiers.json --counterfactuals
  rtcc exposure world.geojson --registry --format html -o exposure.html
  rtcc exposure world.geojson --sweep --rates 0:1:21 --seeds 10
  rtcc exposure --sweep --households 1000 --seeds 10 --workers 2
  rtcc exposure --scenario classroom --counterfactuals
  rtcc exposure world.geojson --live --duration 60     (while `rtcc serve` runs)

consent: without --registry or --consent, each camera takes its household's `consent`
seed from the world file (a camera's own `consent` overrides it; cameras without a
household, such as city cameras, default to `live`). A household is non-consenting when
it has not opted in to `live` itself. Consent leakage = non-consenting households in view
of a live camera / all non-consenting households. JSON schema: docs/exposure-schema.md.
"""


def _min_area(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of square metres, got {raw!r}"
                                         ) from None
    if not value >= 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a finite area >= 0 m², got {raw!r}")
    return value



def _rate(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a share between 0 and 1, got {raw!r}"
                                         ) from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a share between 0 and 1, got {raw!r}")
    return value


def add_consent_flags(p: argparse.ArgumentParser) -> None:
    src = p.add_mutually_exclusive_group()
    src.add_argument("--registry", action="store_true",
                     help="take the current consent tiers from the registry (state Redis)")
    src.add_argument("--consent", metavar="FILE",
                     help="take consent tiers from a JSON/TOML file: {\"households\": {id: tier}, "
                          "\"cameras\": {id: tier}}, or an `rtcc registry export`")
    p.add_argument("--min-area", metavar="M2", type=_min_area, default=1.0,
                   help="m² of a parcel a view must cover for its household to be in view "
                        "(the entrance in view counts too) [default: 1.0]")


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "exposure", parents=[common], help="who is on the wall who never agreed",
        description="Neighbour-exposure analysis: for every live camera, the households in "
        "view that never opted in; per household, the live streams that see it; consent "
        "leakage, coverage, trackability and breakdowns for the neighbourhood.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("world", metavar="WORLD", nargs="?", help="world file (GeoJSON)")
    p.add_argument("--scenario", metavar="NAME",
                   help="a policy scenario (scenarios/NAME.toml) instead of WORLD")
    p.add_argument("--phase", metavar="NAME", help="the scenario's program phase")
    p.add_argument("--save-world", metavar="FILE",
                   help="also write the analysed world (e.g. a scenario's) as GeoJSON")
    add_consent_flags(p)
    p.add_argument("--format", choices=("json", "table", "html"),
                   help="output format [default: from -o's extension, else table]")
    p.add_argument("-o", "--output", metavar="OUT", help="write to this file [default: stdout]")
    p.add_argument("--breakdown", metavar="ATTR", action="append",
                   help="group households by this attribute (repeatable) [default: all]")
    p.add_argument("--apply-masks", action="store_true",
                   help="burn the cameras' own privacy masks into the baseline")
    cf = p.add_argument_group("counterfactuals")
    cf.add_argument("--counterfactuals", action="store_true",
                    help="add what-ifs: Ring-style masks, a resolution cap, request-only access")
    cf.add_argument("--cap-width", metavar="PX", type=positive_int, default=640,
                    help="resolution cap for the what-if [default: 640]")
    cf.add_argument("--approval-rate", metavar="P", type=_rate, default=0.5,
                    help="assumed share of owners approving a request [default: 0.5]")
    sw = p.add_argument_group("opt-in-rate sweep")
    sw.add_argument("--sweep", action="store_true", help="sweep opt-in rates x seeds")
    sw.add_argument("--rates", default="0:1:21", metavar="SPEC",
                    help="START:STOP:COUNT or a comma list [default: 0:1:21]")
    sw.add_argument("--seeds", type=positive_int, default=10, metavar="N",
                    help="seeds 0..N-1 [default: 10]")
    sw.add_argument("--households", type=positive_int, metavar="N",
                    help="synthesize a world of N households per seed instead of WORLD")
    sw.add_argument("--workers", type=positive_int, metavar="N",
                    help="worker processes [default: one per core]")
    sw.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    lv = p.add_argument_group("live analysis")
    lv.add_argument("--live", action="store_true",
                    help="person-seconds on the wall from the frames the hub delivered: the "
                         "totals of a running `rtcc serve`/`rtcc demo`, else counted here")
    lv.add_argument("--duration", type=float, default=0.0, metavar="S",
                    help="stop after S seconds [default: drain what is there, then stop]")
    p.set_defaults(handler=run)


def output_format(args: argparse.Namespace) -> str:
    if args.format:
        return str(args.format)
    if args.output:
        suffix = Path(args.output).suffix.lower()
        if suffix in (".json", ".html"):
            return suffix[1:]
    return "table"


def write_output(text: str, output: str | None) -> None:
    if output is None or output == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    path = Path(output)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as err:
        raise ConfigError(f"-o {output}: cannot write ({err.strerror or err})") from err
    print(f"wrote {path}", file=sys.stderr)


def load_consent(args: argparse.Namespace, settings: Settings, world: Any) -> Any:
    from rtcc.exposure import consent as consent_mod

    if getattr(args, "consent", None):
        return consent_mod.load_consent_file(world, args.consent)
    if getattr(args, "registry", False):
        from rtcc.connections import connect
        from rtcc.redis_server import redis_urls

        async def read(url: str) -> Any:
            client = await connect(url, timeout=settings.redis_connect_timeout,
                                   name="rtcc-exposure")
            try:
                return await consent_mod.from_registry(world, client)
            finally:
                await client.aclose()

        with redis_urls(settings, live=False) as urls:
            return asyncio.run(read(urls.state))
    return consent_mod.from_world(world)


def load_world_arg(args: argparse.Namespace) -> tuple[Any, str]:
    """(world, label) from WORLD or --scenario [--phase]."""
    if args.scenario and args.world:
        raise ConfigError("give WORLD or --scenario, not both")
    if args.scenario:
        from rtcc.exposure.scenario import load_policy_scenario

        scenario = load_policy_scenario(args.scenario)
        world = scenario.build_world(args.phase)
        label = f"scenario {scenario.name}" + (f", phase {args.phase}" if args.phase else "")
    elif args.world:
        if args.phase:
            raise ConfigError("--phase needs --scenario")
        from rtcc.world.geojson import load_world

        world, label = load_world(args.world), str(args.world)
    else:
        raise ConfigError("WORLD: a world file (or --scenario NAME) is required "
                          "(see rtcc exposure --help)")
    if args.save_world:
        from rtcc.world.geojson import save_world

        try:
            save_world(world, args.save_world)
        except OSError as err:
            raise ConfigError(f"--save-world {args.save_world}: cannot write "
                              f"({err.strerror or err})") from err
    return world, label


def run(args: argparse.Namespace, settings: Settings) -> int:
    fmt = output_format(args)
    if args.sweep:
        return _sweep(args, fmt)
    world, label = load_world_arg(args)
    consent = load_consent(args, settings, world)
    if args.live:
        return _live(args, settings, world, consent, fmt)
    from rtcc.exposure import counterfactuals as cf_mod
    from rtcc.exposure.static import analyze, visibility

    views = visibility(world)
    notes: tuple[str, ...] = ()
    if args.apply_masks:
        from rtcc.exposure.masks import apply_policy

        views, counts = apply_policy(world, world.cameras, views, "world",
                                     lambda hid: not consent.consenting(hid))
        notes = (f"baseline with the world's privacy masks burned in "
                 f"({sum(1 for n in counts.values() if n)} cameras have masks)",)
    breakdown = tuple(args.breakdown) if args.breakdown else None
    if breakdown:
        known = {k for h in world.households.values() for k in h.attributes}
        unknown = [k for k in breakdown if k not in known]
        if unknown:
            raise ConfigError(f"--breakdown {unknown[0]}: no household in {label} has this "
                              f"attribute (known: {', '.join(sorted(known)) or 'none'})")
    result = analyze(world, consent, min_area=args.min_area, views=views,
                     breakdown_by=breakdown, notes=notes)
    cfs = []
    if args.counterfactuals:
        cfs = cf_mod.to_dicts(result, cf_mod.standard(
            world, consent, views=views, min_area=args.min_area, cap_width=args.cap_width,
            approval_rate=args.approval_rate))
    if fmt == "json":
        from rtcc.exposure.schema import to_document

        text = json.dumps(to_document(result, counterfactuals=cfs), indent=1,
                          ensure_ascii=False) + "\n"
    elif fmt == "html":
        from rtcc.exposure.report import ReportInputs, render_report

        text = render_report(ReportInputs(world=world, static=result, counterfactuals=cfs,
                                          source=label))[0]
    else:
        from rtcc.exposure.table import render

        text = render(result, source=label, counterfactuals=cfs)
    write_output(text, args.output)
    return 0


def _sweep(args: argparse.Namespace, fmt: str) -> int:
    from rtcc.exposure.sweep import SweepSpec, parse_rates, run_sweep, summarise

    given = [x for x in (args.world, args.households, args.scenario) if x is not None]
    if len(given) != 1:
        raise ConfigError("--sweep: give one of a WORLD file, --scenario NAME or --households N")
    rates, seeds = parse_rates(args.rates), tuple(range(args.seeds))
    if args.scenario is not None:
        from rtcc.exposure.scenario import load_policy_scenario

        scenario = load_policy_scenario(args.scenario)
        if scenario.world_file is not None:
            spec = SweepSpec(rates, seeds, world_path=str(scenario.world_file),
                             min_area=args.min_area)
        else:
            synth = {k: v for k, v in scenario.synth.items()
                     if k in ("camera_rate", "floodlight_rate", "stream_width")}
            # The scenario's own neighbourhood; the seeds vary who opts in.
            spec = SweepSpec(rates, seeds, households=int(scenario.synth["households"]),
                             synth_options=synth, world_seed=scenario.seed,
                             min_area=args.min_area)
    else:
        if args.world is not None:
            from rtcc.world.geojson import load_world

            load_world(args.world)  # report a bad file here, once, not from every worker
        spec = SweepSpec(rates, seeds, world_path=args.world, households=args.households,
                         min_area=args.min_area)
    result = run_sweep(spec, workers=args.workers, progress=not args.no_progress)
    if fmt == "json":
        text = json.dumps(result.to_dict(), indent=1) + "\n"
    elif fmt == "html":
        from rtcc.exposure.report import sweep_html

        text = sweep_html(result)
    else:
        text = (summarise(list(result.rows)) +
                f"\n{len(result.rows)} points in {result.seconds:.1f} s on "
                f"{result.workers} worker(s)\n")
    write_output(text, args.output)
    return 0


def _live(args: argparse.Namespace, settings: Settings, world: Any, consent: Any,
          fmt: str) -> int:
    from rtcc.exposure.service import run_live

    doc = run_live(settings, consent, duration=args.duration)
    if fmt == "json":
        text = json.dumps(doc, indent=1) + "\n"
    else:
        from rtcc.exposure.service import live_table

        text = live_table(doc)
    write_output(text, args.output)
    return 0
