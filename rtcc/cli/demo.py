"""``rtcc demo``: everything in one command — simulated cameras, ingest hub, registry, monitor wall.

1. A world: synthetic (``--households``/``--seed``), a world file (``--world``) or a policy
   scenario (``--scenario NAME``, ``scenarios/*.toml``); its static exposure summary is printed.
2. Private embedded Redis servers in a temporary directory (unless ``RTCC_REDIS_URL`` is set),
   removed on exit: the demo never touches another rtcc's state.
3. The registry is seeded from the world (consent tiers, camera positions) and logins are created
   with random passwords: an operator for the wall, and two residents for the residents' app
   (a home with a live camera and one whose cameras take footage requests:
   :mod:`rtcc.cli.demo_homes`).
4. ``rtcc sim`` runs as a child process (its own CPU, and it dies with the demo) serving the
   chosen cameras over RTSP; the registry records each camera's RTSP URL as its source.
5. The hub, registry API and wall run here, as ``rtcc serve`` would, bound to 127.0.0.1.

Prints where each page is (``/wall/``, ``/home/``) and the logins, then runs until Ctrl-C (or
``--duration`` seconds). The request home's cameras are simulated too, and the registry collects
their footage for approved requests from the simulators' local store (``RTCC_CLIP_STORE_URL``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import logging
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from rtcc.cli.argtypes import positive_int, seconds
from rtcc.cli.demo_homes import (
    DemoHomes,
    add_residents,
    choose_homes,
    clip_store_url,
    gather_requests,
    home_banner,
)
from rtcc.config import Settings
from rtcc.errors import ConfigError, RtccError

MAX_CAMERAS = 64
DEMO_SCENE = """# rtcc demo: a busy weekday morning, in real time
name = "demo"
description = "A busy weekday morning on a residential street."
[scene]
seed = {seed}
passers_by_per_hour = {passers}
visitors_per_hour = 0.08
deliveries_per_hour = 0.06
dog_walks_per_hour = 0.3
[clock]
time_scale = 1.0
start = {start}
"""
"""The simulators' scenario when the demo runs without --scenario: daylight and foot traffic, so
the wall shows people (the built-in rates are an ordinary street at its real, quiet pace)."""
SIM_START_TIMEOUT = 120.0




def _size(raw: str) -> str:
    w, x, h = raw.lower().partition("x")
    if not x or not w.isdigit() or not h.isdigit() or int(w) % 2 or int(h) % 2:
        raise argparse.ArgumentTypeError(f"expected an even WIDTHxHEIGHT such as 640x360, "
                                         f"got {raw!r}")
    return f"{int(w)}x{int(h)}"


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "demo", parents=[common],
        help="run everything: simulated cameras, hub, registry and the monitor wall",
        description="Run the whole Real-Time Crime Center in one command: a neighbourhood "
        "(synthetic, a world file or a policy scenario), its simulated cameras over RTSP, the "
        "ingest hub, the consent registry and the monitor wall. Prints the wall's URL and an "
        "operator login; open it in a browser. State lives in a temporary directory and is "
        "removed on exit. Stops on Ctrl-C or after --duration seconds.")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--scenario", metavar="NAME", help="a policy scenario: a name from "
                     "scenarios/ (e.g. classroom, jackson_pilot) or a TOML file")
    src.add_argument("--world", metavar="FILE", help="a world file (GeoJSON) instead of a "
                     "synthetic neighbourhood")
    p.add_argument("--phase", metavar="NAME", help="the scenario's phase (default: its first)")
    p.add_argument("--households", metavar="N", type=positive_int, default=80,
                   help="households of the synthetic neighbourhood (default 80)")
    p.add_argument("--seed", metavar="S", type=int, default=7,
                   help="seed of the synthetic neighbourhood and its people (default 7)")
    p.add_argument("--cameras", metavar="N", type=positive_int,
                   help=f"cameras to simulate, live ones first (default: every live camera, "
                   f"at most {MAX_CAMERAS})")
    p.add_argument("--replay", action="store_true",
                   help="replay a few pre-rendered loops instead of rendering every camera "
                   "live (for many cameras on a small machine)")
    p.add_argument("--size", metavar="WxH", type=_size, default="640x360",
                   help="stream size (default 640x360)")
    p.add_argument("--fps", metavar="N", type=float, default=10.0,
                   help="frames per second (default 10)")
    p.add_argument("--host", metavar="ADDR", help="bind address [RTCC_HOST, default 127.0.0.1]")
    p.add_argument("--port", metavar="PORT",
                   help="HTTP port of the wall, 0 picks a free one [RTCC_PORT, default 8080]")
    p.add_argument("--user", metavar="NAME", default="operator",
                   help="name of the operator login to create (default operator)")
    p.add_argument("--duration", metavar="S", type=seconds, help="stop after S seconds")
    p.set_defaults(handler=run)


@dataclass(frozen=True, slots=True)
class DemoWorld:
    world: Any
    path: Path
    description: str
    cameras: list[str]
    """Cameras to simulate, live ones first."""
    sim_scenario: Path | None = None
    homes: DemoHomes = DemoHomes(None, None)
    """The residents' homes of the demo."""


def _say(text: str = "") -> None:
    print(text, flush=True)


def _prepare_world(args: argparse.Namespace, workdir: Path, k: int = 3) -> DemoWorld:
    from rtcc.world.geojson import load_world, save_world

    sim_scenario: Path | None = None
    if args.scenario:
        from rtcc.exposure.scenario import load_policy_scenario

        scenario = load_policy_scenario(args.scenario)
        world = scenario.build_world(args.phase)
        ids = scenario.demo_camera_ids(world)
        description = f"scenario {scenario.name}: {scenario.title or scenario.description}"
        sim_scenario = workdir / "sim-scenario.toml"
        sim_scenario.write_text(scenario.sim_toml())
    else:
        if args.phase:
            raise ConfigError("--phase needs --scenario")
        if args.world:
            world = load_world(args.world)
            description = f"world file {args.world}"
        else:
            from rtcc.world.synth import synthesize

            world = synthesize(args.households, args.seed, live_rate=0.3, camera_rate=0.5)
            first_live = sorted(c for c in world.cameras
                                if world.camera_consent(c) == "live")[:MAX_CAMERAS]
            if choose_homes(world, first_live, k).request is None:
                world = gather_requests(world, k, set(first_live))
            description = f"synthetic neighbourhood, {args.households} households, seed " \
                          f"{args.seed}"
        live = sorted(c for c in world.cameras if world.camera_consent(c) == "live")
        ids = live[:MAX_CAMERAS]
        sim_scenario = workdir / "sim-scenario.toml"
        sim_scenario.write_text(DEMO_SCENE.format(seed=args.seed, passers=1.5,
                                                  start=time.strftime("%Y-%m-%dT09:30:00")))
    if args.cameras:
        live = [c for c in sorted(world.cameras) if world.camera_consent(c) == "live"]
        rest = [c for c in sorted(world.cameras) if c not in set(live)]
        ids = (live + rest)[:args.cameras]
    homes = choose_homes(world, ids, k)
    ids = ids + [c for c in homes.request_cameras if c not in ids]
    path = workdir / "world.geojson"
    save_world(world, path)
    return DemoWorld(world, path, description, ids, sim_scenario, homes)


def _world_summary(demo: DemoWorld) -> list[str]:
    """The world-analysis section: what the program exposes before any video flows."""
    from collections import Counter

    from rtcc.exposure.static import analyze
    from rtcc.vocabulary import TIERS

    world = demo.world
    tiers = Counter(world.camera_consent(c) for c in world.cameras)
    s = analyze(world).summary
    leak = "n/a" if s.consent_leakage is None else f"{100 * s.consent_leakage:.0f} %"
    return [
        f"  {demo.description}",
        f"  {len(world.households)} households, {len(world.cameras)} cameras: "
        + ", ".join(f"{tiers.get(t, 0)} {t}" for t in reversed(TIERS)),
        f"  {s.live_cameras} live cameras see {s.exposed_non_consenting} of the "
        f"{s.non_consenting} households that never opted in (consent leakage {leak})",
    ]


# --- the simulators as a child process ---------------------------------------------------------


def _die_with_parent() -> None:  # runs in the child between fork and exec
    os.setsid()  # Ctrl-C reaches the demo, which stops the child in order
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _start_sim(demo: DemoWorld, args: argparse.Namespace, log: IO[str]
               ) -> tuple[subprocess.Popen[str], dict[str, str]]:
    cmd = [sys.executable, "-m", "rtcc", "sim", "--world", str(demo.path),
           "--cameras", ",".join(demo.cameras), "--rtsp-port", "0", "--metrics-port", "0",
           "--size", args.size, "--fps", f"{args.fps:g}", "--seed", str(args.seed)]
    if demo.sim_scenario is not None:
        cmd += ["--scenario", str(demo.sim_scenario)]
    if args.replay:
        cmd.append("--replay")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL,
                            text=True, preexec_fn=_die_with_parent)  # noqa: PLW1509
    urls: dict[str, str] = {}
    deadline = time.monotonic() + SIM_START_TIMEOUT
    assert proc.stdout is not None
    wanted = set(demo.cameras)
    try:
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            parts = line.split()
            if len(parts) == 2 and parts[0] in wanted:
                urls[parts[0]] = parts[1]
            elif parts and parts[0] == "metrics":
                urls["metrics"] = parts[1]
                return proc, urls
    except BaseException:  # Ctrl-C or SIGTERM while the cameras start
        _stop(proc)
        raise
    _stop(proc)
    raise RtccError(f"the camera simulators did not start (see {log.name})")


def _stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if proc.stdout is not None:
        proc.stdout.close()


# --- registry seeding and the server -----------------------------------------------------------


async def _seed(urls: Any, demo: DemoWorld, sources: dict[str, str], user: str,
                password: str, settings: Settings) -> tuple[str, list[tuple[str, str, str]]]:
    """Import the world, point the registry at the simulators, create the logins; returns the
    operator's login name (another one when ``user`` exists already in a shared Redis) and the
    residents' (what, name, password)."""
    import redis.asyncio as aredis

    from rtcc.errors import Conflict
    from rtcc.registry.audit import Actor
    from rtcc.registry.importer import import_world
    from rtcc.registry.store import Registry
    from rtcc.registry.users import UserPolicy, Users

    state = aredis.Redis.from_url(urls.state)
    try:
        actor = Actor("rtcc-demo", "admin")
        registry = Registry(state)
        await import_world(registry, demo.world, actor=actor, source=str(demo.path))
        for cam, url in sources.items():
            await registry.set_source(cam, url, actor=actor)
        users = Users(state, policy=UserPolicy.from_settings(settings))
        residents = await add_residents(users, demo.homes, actor=actor)
        name = user
        for _ in range(5):
            try:
                await users.add(name, "operator", actor=actor, password=password)
                return name, residents
            except Conflict:
                name = f"{user}-{secrets.token_hex(2)}"
        raise RtccError(f"cannot create a login: user {user!r} and its variants exist")
    finally:
        await state.aclose()


async def _run_wall(settings: Settings, urls: Any, on_ready: Any, duration: float | None
                    ) -> None:
    from aiohttp import web

    from rtcc.app import create_app

    app = create_app(settings, urls)
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    try:
        site = web.TCPSite(runner, settings.host, settings.port, shutdown_timeout=2.0)
        try:
            await site.start()
        except OSError as err:
            raise RtccError(f"cannot listen on {settings.host}:{settings.port} ({err.strerror});"
                            " pass --port 0 for a free port") from err
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        on_ready(runner.addresses[0][1])
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), duration)
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        await runner.cleanup()


def run(args: argparse.Namespace, settings: Settings) -> int:
    from rtcc.cli.serve import install_event_loop_policy
    from rtcc.redis_server import redis_urls

    def terminate(signum: int, frame: object) -> None:
        raise KeyboardInterrupt  # run the clean-up below, as on Ctrl-C

    # SIGTERM while starting up (before the server installs its own handler) must still stop
    # the simulators and Redis and remove the private directory.
    previous = signal.signal(signal.SIGTERM, terminate)
    workdir = Path(tempfile.mkdtemp(prefix="rtcc-demo-", dir="/tmp"))
    try:
        if getattr(args, "data_dir", None) or getattr(args, "run_dir", None):
            _say(f"rtcc demo: note: the demo keeps its state in {workdir} and removes it on "
                 "exit; --data-dir and --run-dir apply to rtcc serve")
        _say("rtcc demo: the world")
        demo = _prepare_world(args, workdir, settings.request_k)
        for line in _world_summary(demo):
            _say(line)
        if not demo.cameras:
            raise RtccError("this world has no camera to simulate")
        live = [c for c in demo.cameras if demo.world.camera_consent(c) == "live"]
        if not live:
            _say("  note: no simulated camera shares live video: the wall will stay empty")
        settings = settings.replace(data_dir=workdir / "data", run_dir=workdir / "run",
                                    world=demo.path)
        if settings.log_level == "info":
            # The demo narrates its own progress; per-camera connection lines would bury it.
            for name in ("rtcc.ingest", "rtcc.redis_server", "rtcc.registry"):
                logging.getLogger(name).setLevel(logging.WARNING)
        sim_log = (workdir / "sim.log").open("w")
        mode = "replayed loops" if args.replay else "rendered live"
        _say(f"\nrtcc demo: starting {len(demo.cameras)} simulated cameras ({mode}, "
             f"{args.size} at {args.fps:g} fps; log {sim_log.name})")
        if not args.replay:
            _say("  preparing every camera's view takes a few seconds per camera")
        with redis_urls(settings) as urls:
            sim, sources = _start_sim(demo, args, sim_log)
            try:
                # Approved footage of the simulated cameras, from their own local store.
                settings = settings.replace(clip_store_url=clip_store_url(sources.pop("metrics")))
                password = secrets.token_urlsafe(9)
                install_event_loop_policy()
                login, residents = asyncio.run(_seed(urls, demo, sources, args.user, password,
                                                     settings))

                def ready(port: int) -> None:
                    # Only the URL printed: a wildcard bind (an explicit --host) is shown as
                    # loopback, where the wall can always be opened.
                    host = settings.host if settings.host not in ("0.0.0.0", "::") \
                        else "127.0.0.1"
                    _say(f"\nrtcc demo: the monitor wall is at http://{host}:{port}/wall/")
                    _say(f"  login: {login}   password: {password}")
                    _say(f"  {len(live)} live cameras; hub, registry API and wall in this "
                         "process; Prometheus metrics at /metrics")
                    for line in home_banner(f"http://{host}:{port}", residents):
                        _say(line)
                    _say("  stops " + (f"after {args.duration:g} s" if args.duration
                                        else "on Ctrl-C"))

                asyncio.run(_run_wall(settings, urls, ready, args.duration))
            finally:
                _stop(sim)
                sim_log.close()
        _say("rtcc demo: stopped")
        return 0
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        signal.signal(signal.SIGTERM, previous)

