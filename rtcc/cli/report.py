"""``rtcc report``: the self-contained HTML report (and its figures as JSON) for a council.

One command from a world file or a policy scenario to a page that answers "who is on the wall
who never agreed": static exposure, counterfactuals, an opt-in sweep, program phases, live
person-time (``--live``) and a Surveillance Impact Report.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from pathlib import Path
from typing import Any

from rtcc.cli.argtypes import positive_int
from rtcc.cli.exposure import add_consent_flags, load_consent, write_output
from rtcc.config import Settings
from rtcc.errors import ConfigError

EPILOG = """\
examples:
  rtcc report --scenario classroom -o classroom.html
  rtcc report --scenario jackson_pilot -o jackson.html        (all program phases)
  rtcc report world.geojson --consent tiers.json -o report.html
  rtcc report world.geojson --registry --live -o report.html   (after `rtcc demo`)

scenarios: classroom, jackson_pilot, north_miami, request_only (scenarios/*.toml), or a path.
The figures go to the same name with .json unless --json says otherwise.
"""


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "report", parents=[common], help="write the exposure report (HTML + JSON)",
        description="Write a self-contained HTML report for policymakers: who is on the "
        "police wall without having agreed, where, what more opt-ins would do, what would "
        "reduce it, who bears it, and a Surveillance Impact Report.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("world", metavar="WORLD", nargs="?", help="world file (GeoJSON)")
    p.add_argument("--scenario", metavar="NAME", help="a policy scenario instead of WORLD")
    p.add_argument("--phase", metavar="NAME",
                   help="the scenario phase to report on [default: the first]")
    add_consent_flags(p)
    p.add_argument("-o", "--output", metavar="FILE", default="report.html",
                   help="HTML file to write [default: report.html]")
    p.add_argument("--json", metavar="FILE", help="figures as JSON [default: OUTPUT with .json]")
    p.add_argument("--title", help="the report's title")
    p.add_argument("--no-sweep", action="store_true", help="leave out the opt-in sweep")
    p.add_argument("--rates", metavar="SPEC", help="sweep rates [default: scenario or 0:1:21]")
    p.add_argument("--seeds", type=positive_int, metavar="N",
                   help="sweep seeds [default: scenario or 10]")
    p.add_argument("--workers", type=positive_int, metavar="N", help="sweep worker processes")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    p.add_argument("--live", action="store_true",
                   help="add live person-time from the analyzer's totals in the live Redis")
    p.add_argument("--live-json", metavar="FILE",
                   help="add live person-time from `rtcc exposure --live --format json` output")
    p.set_defaults(handler=run)


def _read_live_json(path: str) -> dict[str, Any]:
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as err:
        raise ConfigError(f"--live-json {path}: cannot read ({err.strerror or err})") from err
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ConfigError(f"--live-json {path}: not JSON ({err})") from err
    if not isinstance(doc, dict) or not isinstance(doc.get("streams"), list):
        raise ConfigError(f"--live-json {path}: expected the output of "
                          "`rtcc exposure --live --format json` (a 'streams' list)")
    return doc


def _state_reads(settings: Settings, live: bool, audit: bool) -> tuple[Any, Any]:
    """(live aggregates, audit summary) from Redis, as asked."""
    if not live and not audit:
        return None, None
    from rtcc.connections import connect
    from rtcc.exposure.live import read_aggregates
    from rtcc.exposure.oversight import audit_summary
    from rtcc.redis_server import redis_urls

    async def main(state_url: str, live_url: str) -> tuple[Any, Any]:
        agg = aud = None
        if live:
            client = await connect(live_url, timeout=settings.redis_connect_timeout,
                                   name="rtcc-report")
            try:
                agg = await read_aggregates(client)
            finally:
                await client.aclose()
        if audit:
            client = await connect(state_url, timeout=settings.redis_connect_timeout,
                                   name="rtcc-report")
            try:
                aud = await audit_summary(client)
            finally:
                await client.aclose()
        return agg, aud

    with redis_urls(settings, live=live) as urls:
        return asyncio.run(main(urls.state, urls.live))


def run(args: argparse.Namespace, settings: Settings) -> int:
    from rtcc.exposure import counterfactuals as cf_mod
    from rtcc.exposure.report import ReportInputs, render_report
    from rtcc.exposure.static import analyze, prepare, visibility

    started = time.monotonic()
    scenario = None
    if args.scenario and args.world:
        raise ConfigError("give WORLD or --scenario, not both")
    if args.scenario:
        from rtcc.exposure.scenario import apply_phase, load_policy_scenario

        scenario = load_policy_scenario(args.scenario)
        base = scenario.base_world()
        phase = scenario.phase(args.phase)
        world = apply_phase(base, phase, scenario.seed) if phase else base
        source = f"scenario {scenario.name}" + (f", phase {phase.name}" if phase else "")
    elif args.world:
        if args.phase:
            raise ConfigError("--phase needs --scenario")
        from rtcc.world.geojson import load_world

        world = base = load_world(args.world)
        source = args.world
    else:
        raise ConfigError("WORLD or --scenario NAME is required (see rtcc report --help)")
    opts = dict(scenario.report) if scenario else {}
    min_area = args.min_area if args.min_area != 1.0 else float(opts.get("min_area", 1.0))
    consent = load_consent(args, settings, world)
    _say("visibility of every camera")
    views = visibility(world)
    _say("exposure")
    prepared = prepare(world, min_area=min_area, views=views)
    result = analyze(world, consent, prepared=prepared)
    _say("counterfactuals")
    cfs = cf_mod.to_dicts(result, cf_mod.standard(
        world, consent, views=views, min_area=min_area,
        cap_width=int(opts.get("cap_width", 640)),
        approval_rate=float(opts.get("approval_rate", 0.5)), prepared=prepared))
    phases = _phases(scenario, base, prepared) if scenario and scenario.phases else []
    sweep = None if args.no_sweep else _sweep(args, scenario, opts, min_area)
    live, audit = _state_reads(settings, args.live, args.registry)
    if args.live_json:
        live = _read_live_json(args.live_json)
    inputs = ReportInputs(
        world=world, static=result, views=views, counterfactuals=cfs, sweep=sweep,
        phases=phases, live=live, audit=audit, source=source,
        title=args.title or (scenario.title if scenario else None),
        lead=(scenario.description if scenario else None),
        place=(scenario.name if scenario else Path(args.world).stem),
        time_scale=scenario.time_scale if scenario else 1.0,
        oversight=scenario.oversight if scenario else {},
        costs=scenario.costs if scenario else {}, live_window_s=settings.live_window)
    _say("rendering")
    page, figures = render_report(inputs)
    _say("writing")
    json_path = args.json or str(Path(args.output).with_suffix(".json"))
    write_output(page, args.output)
    write_output(json.dumps(figures, indent=1, ensure_ascii=False) + "\n", json_path)
    s = result.summary
    print(f"{s.exposed_non_consenting} of {s.non_consenting} non-consenting households are on "
          f"the wall (consent leakage {_pct(s.consent_leakage)}); report in "
          f"{time.monotonic() - started:.1f} s", file=sys.stderr)
    return 0


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.1f} %"


_T0 = time.monotonic()


def _say(what: str) -> None:
    print(f"report: {time.monotonic() - _T0:5.1f}s {what} ...", file=sys.stderr)


def _phases(scenario: Any, base: Any, prepared: Any) -> list[dict[str, Any]]:
    from rtcc.exposure.consent import from_world
    from rtcc.exposure.scenario import apply_phase
    from rtcc.exposure.static import analyze

    rows = []
    for ph in scenario.phases:
        _say(f"phase {ph.name}")
        w = apply_phase(base, ph, scenario.seed)
        r = analyze(w, from_world(w), prepared=prepared, breakdown_by=())
        s = r.summary
        rows.append({"phase": ph.name, "note": ph.note, "days": ph.days,
                     "live_cameras": s.live_cameras, "non_consenting": s.non_consenting,
                     "exposed_non_consenting": s.exposed_non_consenting,
                     "consent_leakage": s.consent_leakage,
                     "trackability": r.trackability.share})
    return rows


def _sweep(args: argparse.Namespace, scenario: Any, opts: dict[str, Any],
           min_area: float) -> dict[str, Any]:
    from rtcc.exposure.sweep import SweepSpec, parse_rates, run_sweep

    rates = parse_rates(args.rates or str(opts.get("sweep_rates", "0:1:21")))
    seeds = tuple(range(args.seeds or int(opts.get("sweep_seeds", 10))))
    if scenario is not None and scenario.world_file is None:
        synth = {k: v for k, v in scenario.synth.items()
                 if k in ("camera_rate", "floodlight_rate", "stream_width")}
        households = int(scenario.synth["households"])
        # A new neighbourhood per seed shows the spread across places; on big worlds that costs
        # a synthesis per seed, so the default there is the scenario's own neighbourhood.
        vary = str(opts.get("sweep_neighbourhoods", "vary" if households < 2000 else "fixed"))
        if vary not in ("vary", "fixed"):
            raise ConfigError(f"{scenario.source}: [report] sweep_neighbourhoods: expected "
                              f"'vary' or 'fixed', got {vary!r}")
        spec = SweepSpec(rates, seeds, households=households, synth_options=synth,
                         world_seed=None if vary == "vary" else scenario.seed,
                         min_area=min_area)
    else:
        path = str(scenario.world_file) if scenario is not None else args.world
        spec = SweepSpec(rates, seeds, world_path=path, min_area=min_area)
    _say(f"opt-in sweep ({len(rates)} rates x {len(seeds)} seeds)")
    return run_sweep(spec, workers=args.workers, progress=not args.no_progress).to_dict()
