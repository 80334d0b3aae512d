"""``python -m load_tests ramp|soak|faults|jackson|plan``: the whole pipeline under load, with
baselines, faults and plots; a city end to end; a capacity plan. See docs/load-tests.md.

    python -m load_tests ramp   [--cameras 300 --step 50 --hold 10] [--protocol rtsp|whip|mix]
                                [--preset 720p15] [--viewers V] [--baseline N] [--slo-fps 9.5
                                --slo-loss 0.001 --slo-p99-ms 100] [--out DIR]
    python -m load_tests soak   [--cameras 100 --duration 600 --sample 10]
    python -m load_tests faults [--cameras 100 --down 10]
    python -m load_tests jackson [--cameras 1500 --preset 720p15 --duration 600 --probe ...]
    python -m load_tests plan   --cameras N --preset P --viewers V [--results FILE]

Starts its own Redis, hub and replay-mode simulators on loopback, or measures running services
(``--redis-url`` with ``--hub-url``/``--sim-url``). Writes results.json, summary.md and PNG
plots to ``--out`` (default ``results/load/<timestamp>-<mode>/``).
"""

from __future__ import annotations

import argparse
import signal
import sys
import time
from pathlib import Path
from typing import Any

from load_tests import results
from load_tests.config import PROTOCOLS, LoadConfig, Slo
from load_tests.progress import Progress


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m load_tests",
                                description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("mode", choices=("ramp", "soak", "faults"),
                   help="(also: jackson, plan: python -m load_tests jackson|plan --help)")
    p.add_argument("--cameras", type=int, default=None,
                   help="largest camera count (ramp, default 300) or the load (soak/faults, "
                   "default 100)")
    p.add_argument("--protocol", choices=PROTOCOLS, default="rtsp")
    p.add_argument("--step", type=int, default=None, help="ramp step (default 50)")
    p.add_argument("--hold", type=float, default=10.0, help="seconds measured per step")
    p.add_argument("--warmup", type=float, default=2.0, help="seconds before each measurement")
    p.add_argument("--repeat", type=int, default=1,
                   help="ramp: hold windows per step; the step reports the median-p99 one")
    p.add_argument("--duration", type=float, default=300.0, help="soak: seconds of load")
    p.add_argument("--sample", type=float, default=10.0, help="soak: seconds per window")
    p.add_argument("--viewers", type=int, default=0,
                   help="wall viewers (pages of the wall); runs all of rtcc serve")
    p.add_argument("--viewer-kind", choices=("ws", "browser"), default="ws",
                   help="ws: WebSocket clients (latency to the message); browser: the wall page "
                   "in headless Chromium (decoded and drawn; latency to the picture)")
    p.add_argument("--full", action="store_true", help="run all of rtcc serve, not the hub alone")
    p.add_argument("--baseline", type=int, default=None,
                   help="cameras for ffmpeg/PyAV/redis-benchmark (default min(50, max step); "
                   "0: skip)")
    p.add_argument("--bench-requests", type=int, default=200_000,
                   help="XADDs per redis-benchmark run")
    p.add_argument("--preset", default=None, metavar="NAME",
                   help="camera preset of the simulators: 360p10, 720p15, 1080p15, 1536p15 "
                   "(sets --size and --fps; the SLO's fps becomes 95 %% of the preset's)")
    p.add_argument("--size", default="640x360")
    p.add_argument("--fps", type=float, default=10.0)
    p.add_argument("--sim-cameras", type=int, default=0, metavar="N",
                   help="cameras per simulator process (default: one process)")
    p.add_argument("--templates", type=int, default=4, help="replay templates per simulator")
    p.add_argument("--kill-fraction", type=float, default=0.3, help="faults: share killed")
    p.add_argument("--down", type=float, default=10.0, help="faults: seconds cameras stay down")
    p.add_argument("--recover-timeout", type=float, default=120.0)
    p.add_argument("--reconnect-rate", type=float, default=50.0,
                   help="faults: the hub's reconnect budget (attempts/s)")
    p.add_argument("--reconnect-burst", type=float, default=100.0)
    p.add_argument("--slo-fps", type=float, default=9.5)
    p.add_argument("--slo-loss", type=float, default=0.001)
    p.add_argument("--slo-p99-ms", type=float, default=100.0)
    p.add_argument("--redis-url", default="", help="measure a running live Redis instead")
    p.add_argument("--hub-url", default="", help="with --redis-url: the hub's /metrics URL")
    p.add_argument("--sim-url", default="", help="with --redis-url: the simulator's /metrics")
    p.add_argument("--out", type=Path, default=Path("results/load"))
    p.add_argument("--plain", action="store_true", help="plain progress lines, even on a TTY")
    return p


def config(args: argparse.Namespace, argv: list[str]) -> LoadConfig:
    size, fps, slo_fps = args.size, args.fps, args.slo_fps
    if args.preset:
        from rtcc.errors import ConfigError
        from simulators.presets import preset

        try:
            chosen = preset(args.preset)
        except ConfigError as err:
            raise ValueError(str(err)) from None
        size, fps = chosen.size, chosen.fps
        if slo_fps == 9.5:  # the default, meant for 10 fps
            slo_fps = round(0.95 * fps, 2)
    return LoadConfig(
        mode=args.mode, cameras=args.cameras or (300 if args.mode == "ramp" else 100),
        protocol=args.protocol, step=args.step or 50, hold=args.hold, warmup=args.warmup,
        repeat=args.repeat,
        duration=args.duration, sample=args.sample, viewers=args.viewers,
        viewer_kind=args.viewer_kind, size=size, fps=fps, preset=args.preset,
        sim_cameras=args.sim_cameras, templates=args.templates, baseline=args.baseline,
        bench_requests=args.bench_requests,
        kill_fraction=args.kill_fraction, down=args.down, recover_timeout=args.recover_timeout,
        reconnect_rate=args.reconnect_rate, reconnect_burst=args.reconnect_burst,
        full=args.full, slo=Slo(slo_fps, args.slo_loss, args.slo_p99_ms), out=args.out,
        redis_url=args.redis_url, hub_url=args.hub_url, sim_url=args.sim_url,
        argv=tuple(argv))


def phases(cfg: LoadConfig) -> int:
    if cfg.targeted:
        return 3
    if cfg.mode == "ramp":
        return len(cfg.steps()) + (1 if cfg.baseline_cameras() else 0)
    if cfg.mode == "soak":
        return max(1, int(cfg.duration // cfg.sample) + 1)
    return 4


def run(cfg: LoadConfig, progress: Progress) -> dict[str, Any]:
    if cfg.targeted:
        from load_tests import target

        if cfg.mode != "ramp":
            raise SystemExit("load_tests: --redis-url measures running services: ramp only "
                             "(soak and faults must start and kill their own processes)")
        return {"target": target.run(cfg, progress)}
    from load_tests import faults, ramp, soak
    from load_tests.stack import environment

    scenario = {"ramp": ramp.run, "soak": soak.run, "faults": faults.run}[cfg.mode]
    with environment(cfg.cameras, cfg.size, cfg.fps, split=True, preset=cfg.preset) as e:
        return {cfg.mode: scenario(e, cfg, progress)}


def jackson_parser() -> argparse.ArgumentParser:
    from load_tests import jackson

    p = argparse.ArgumentParser(prog="python -m load_tests jackson",
                                description=jackson.__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cameras", type=int, default=1500, help="the contract's cameras")
    p.add_argument("--preset", default="720p15")
    p.add_argument("--duration", type=float, default=600.0, help="seconds of the main run")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--fraction", type=float, default=1.0,
                       help="run this fraction of --cameras (default all)")
    which.add_argument("--probe", type=lambda raw: [float(x) for x in raw.split(",") if x],
                       default=None, help="fractions to try in turn, e.g. 0.1,0.2,0.33,0.5,1; "
                       "the main run uses the largest that held")
    p.add_argument("--probe-seconds", type=float, default=40.0)
    p.add_argument("--workers", type=int, default=2, help="hub workers sharing leases")
    p.add_argument("--viewers", type=int, default=4, help="wall pages (WebSocket clients)")
    p.add_argument("--tiles", type=int, default=16, help="cameras per wall page")
    p.add_argument("--sim-cameras", type=int, default=500, help="cameras per simulator")
    p.add_argument("--masters", type=int, default=3, help="Redis Cluster masters")
    p.add_argument("--replicas", type=int, default=0, help="replicas per master")
    p.add_argument("--sample", type=float, default=30.0, help="seconds per window")
    p.add_argument("--out", type=Path, default=None)
    p.add_argument("--plain", action="store_true")
    p.add_argument("--max-load", type=float, default=2.0,
                   help="refuse to start above this 1-minute load average (default 2.0)")
    p.add_argument("--wait", type=float, default=0.0,
                   help="seconds to wait for the load to fall below --max-load")
    p.add_argument("--force", action="store_true",
                   help="run on a busy machine anyway (the results are marked busy)")
    return p


def jackson_main(argv: list[str]) -> int:
    import json

    from load_tests import jackson
    from load_tests.provenance import LoadGuard, record
    from load_tests.stack import environment
    from simulators.presets import preset

    args = jackson_parser().parse_args(argv)
    guard = LoadGuard(args.max_load, args.force, args.wait)
    guard.check("load_tests jackson")
    try:
        chosen = preset(args.preset)
    except Exception as err:  # ConfigError: one clear line
        jackson_parser().error(str(err))
    if not 0 < args.fraction <= 1 or any(not 0 < f <= 1 for f in args.probe or []):
        jackson_parser().error("fractions must be in (0, 1]")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    out = args.out or Path("results/load") / \
        f"{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}-jackson"
    started = time.time()
    doc = results.document("jackson", ["jackson", *argv], started, vars(args) | {
        "out": str(out)}, jackson.SLO, chosen.size, chosen.fps, 4, preset=chosen.name)
    phases = (len(args.probe) if args.probe else 0) + 1
    with guard, Progress(phases, "Jackson end to end",
                         plain=True if args.plain else None) as progress, \
            environment(args.cameras, chosen.size, chosen.fps, split=True,
                        preset=chosen.name) as e:
        doc["jackson"] = jackson.run(e, args, progress)
    doc = results.finish(doc)
    doc["provenance"] = record(chosen.name, guard.summary())
    doc["busy"] = guard.busy
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(doc, indent=1) + "\n")
    (out / "summary.md").write_text(jackson.markdown(doc))
    print(f"load_tests: wrote {out / 'results.json'}, {out / 'summary.md'}")
    print(jackson.markdown(doc))
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["jackson"]:
        return jackson_main(argv[1:])
    if argv[:1] == ["plan"]:
        from load_tests import plan

        return plan.main(argv[1:])
    args = parser().parse_args(argv)
    try:
        cfg = config(args, argv)
    except ValueError as err:
        parser().error(str(err))
    # SIGTERM ends the run like Ctrl-C: children and the redis-servers are stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    out = cfg.out_dir()
    started = time.time()
    doc = results.document(cfg.mode, argv, started, cfg.as_json(), cfg.slo.as_json(),
                           cfg.size, cfg.fps, cfg.templates, preset=cfg.preset)
    with Progress(phases(cfg), f"load test: {cfg.mode}",
                  plain=True if args.plain else None) as progress:
        doc.update(run(cfg, progress))
    doc = results.finish(doc)
    files = results.write(out, doc)
    print(f"load_tests: wrote {', '.join(str(f) for f in files)}")
    print((out / "summary.md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
