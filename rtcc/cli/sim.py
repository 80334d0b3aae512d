"""``rtcc sim``: serve a world's simulated cameras over RTSP (and WHIP), with faults and metrics.

Prints one ``CAMERA URL`` line per camera, then ``metrics URL``, then ``clips URL`` (the cameras'
local store, ``{camera}`` to be replaced by an id: :mod:`simulators.clip_http`), on stdout; stops
cleanly on Ctrl-C or SIGTERM (or after ``--duration``). Everything binds 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rtcc.config import Settings
from rtcc.errors import ConfigError

if TYPE_CHECKING:
    from simulators.clock import SimClock
    from simulators.presets import Preset
    from simulators.scenario import Scenario

log = logging.getLogger(__name__)


def _size(raw: str) -> tuple[int, int]:
    w, x, h = raw.lower().partition("x")
    if not x or not w.isdigit() or not h.isdigit():
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT such as 640x360, got {raw!r}")
    width, height = int(w), int(h)
    if not (16 <= width <= 4096 and 16 <= height <= 4096) or width % 2 or height % 2:
        raise argparse.ArgumentTypeError(f"{raw}: width and height must be even, 16..4096")
    return width, height


def _number(cast: Any, low: float, high: float, what: str) -> Any:
    def parse(raw: str) -> Any:
        try:
            value = cast(raw)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {raw!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"expected {what} in {low:g}..{high:g}, got {raw}")
        return value

    return parse


def _ids(raw: str) -> list[str]:
    ids = [i.strip() for i in raw.split(",")]
    if not all(ids):
        raise argparse.ArgumentTypeError(f"expected comma-separated camera ids, got {raw!r}")
    return ids


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    from simulators import fault_spec, presets  # light: no media or network imports

    p = sub.add_parser(
        "sim", parents=[common], help="serve simulated cameras (RTSP, WHIP) with ground truth",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Serve the cameras of a world as RTSP streams at\n"
        "rtsp://127.0.0.1:PORT/cams/ID (TCP and UDP), every frame carrying its ground-truth\n"
        "SEI; optionally push them to a WHIP endpoint too. Prints one 'CAMERA URL' line per\n"
        "camera, then 'metrics URL', on stdout. Stops cleanly on Ctrl-C or SIGTERM.",
        epilog="--faults SPEC:\n" + textwrap.indent(fault_spec.GRAMMAR, "  "))
    p.add_argument("--world", metavar="FILE", help="world file (GeoJSON) [RTCC_WORLD]; "
                   "default: the scenario's world")
    p.add_argument("--scenario", metavar="FILE", help="scenario TOML: scene rates, clock, "
                   "camera stream, [faults]")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--cameras", metavar="IDS", type=_ids, help="comma-separated camera ids")
    which.add_argument("--count", metavar="N", type=_number(int, 1, 100_000, "a count"),
                       help="the first N cameras by id (default: all)")
    p.add_argument("--rtsp-port", metavar="P", type=_number(int, 0, 65535, "a port"),
                   default=8554, help="RTSP port, 0 picks a free one (default 8554)")
    p.add_argument("--metrics-port", metavar="P", type=_number(int, 0, 65535, "a port"),
                   default=9710, help="Prometheus metrics port, 0 picks a free one "
                   "(default 9710)")
    stream = p.add_mutually_exclusive_group()
    stream.add_argument("--preset", metavar="NAME", choices=presets.NAMES,
                        help="camera stream preset: " + ", ".join(presets.NAMES) +
                        " (size, fps, 2 s GOP, constrained VBR; see docs/benchmarks.md)")
    stream.add_argument("--size", metavar="WxH", type=_size, help="stream size (default: the "
                        "scenario's, else 640x360)")
    p.add_argument("--fps", metavar="N", type=_number(float, 0.5, 60, "a frame rate"),
                   help="frames per second (default: the preset's or scenario's, else 10)")
    p.add_argument("--replay", action="store_true", help="replay mode: pre-encode a few "
                   "2-second loops and serve every camera from them (for 1,000+ cameras)")
    p.add_argument("--templates", metavar="K", type=_number(int, 1, 64, "a count"), default=4,
                   help="replay mode: loops to record, from the first K cameras (default 4)")
    p.add_argument("--template-cache", metavar="DIR", help="replay mode: keep recorded loops "
                   "in DIR and reuse them at the next start with the same world, scene and "
                   "stream settings")
    p.add_argument("--replay-file", metavar="FILE", action="append", default=[],
                   help="replay mode from a recording of your own (H.264 in MP4, MKV, MOV or "
                   "Annex-B; demuxed, not re-encoded; ground-truth SEI added per frame); "
                   "repeatable: cameras take the files in turn")
    p.add_argument("--whip", metavar="URL", help="also push every camera to this WHIP "
                   "endpoint; {camera} in the URL is replaced by the id, else /ID is appended")
    p.add_argument("--whip-token", metavar="TOKEN", help="Bearer token for the WHIP endpoint")
    p.add_argument("--auth", metavar="[CAM=]USER:PASS", action="append", default=[],
                   help="require RTSP digest authentication for every camera, or for CAM "
                   "(an id or pattern such as cam-00*); repeatable")
    p.add_argument("--faults", metavar="SPEC", default="", help="faults to inject (see below)")
    p.add_argument("--consent-url", metavar="URL", help="POST consent churn events as JSON "
                   "to this URL (they are always logged and counted)")
    p.add_argument("--seed", metavar="S", type=_number(int, 0, 2**63 - 1, "a seed"),
                   help="seed of the scene and of random faults (default: the scenario's)")
    p.add_argument("--time-scale", metavar="X", type=_number(float, 1e-3, 1e6, "a factor"),
                   help="simulated seconds per wall second (default: the scenario's, else 1)")
    p.add_argument("--session-timeout", metavar="S", type=_number(float, 1, 3600, "seconds"),
                   default=60.0, help="RTSP session timeout (default 60)")
    p.add_argument("--duration", metavar="S", type=_number(float, 0.1, 1e9, "seconds"),
                   help="stop after this many seconds")
    p.add_argument("--clip-token", metavar="TOKEN", help="Bearer token required by the "
                   "cameras' local store (GET /cams/ID/clip on the metrics port)")
    p.add_argument("--clip-retention", metavar="DAYS", type=_number(float, 1, 180, "days"),
                   default=30.0, help="days the cameras' local store keeps recordings "
                   "(default 30, as Ring's default)")
    p.add_argument("--clip-fps", metavar="N", type=_number(float, 0.5, 10, "a frame rate"),
                   default=2.0, help="frame rate of local recordings (default 2)")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux
        loop_factory = None
    else:
        loop_factory = uvloop.new_event_loop
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        return runner.run(_serve(args, settings))


async def _serve(args: argparse.Namespace, settings: Settings) -> int:
    from rtcc.logs import redact_url
    from rtcc.world.geojson import load_world
    from simulators.clip_http import PATH as CLIP_PATH
    from simulators.clip_http import ClipEndpoint
    from simulators.fault_spec import parse_fault_table, parse_faults
    from simulators.fleet import Fleet, FleetOptions
    from simulators.fleet_setup import (
        camera_qp,
        check_fault_targets,
        parse_auth,
        select_cameras,
        world_plans,
    )
    from simulators.local_store import LocalStore, StorePolicy
    from simulators.metrics import MetricsServer, fleet_registry
    from simulators.replay_file import load_recording
    from simulators.scenario import Scenario, load_scenario
    from simulators.scene import Scene
    from simulators.template_cache import TemplateCache, file_digest

    scenario = load_scenario(args.scenario) if args.scenario else Scenario(source="<defaults>")
    # --world (which also fills settings.world), else RTCC_WORLD, else the scenario's world
    world_path = settings.world or scenario.world
    if world_path is None:
        raise ConfigError("--world FILE is required (or RTCC_WORLD, or a --scenario with "
                          "world = ...)")
    world = load_world(world_path)
    camera_ids = select_cameras(world, args.cameras, args.count)
    faults = parse_fault_table(scenario.faults, scenario.source) if scenario.faults else []
    faults += parse_faults(args.faults, first_index=len(faults) + 1)
    check_fault_targets(faults, camera_ids)
    credentials = parse_auth(args.auth, camera_ids)
    stream = stream_settings(args, scenario)
    width, height, fps = stream.width, stream.height, stream.fps
    seed = args.seed if args.seed is not None else scenario.seed
    time_scale = args.time_scale or scenario.time_scale
    from simulators.clock import SimClock

    clock = SimClock(time_scale, scenario.start)
    scene = Scene(world, scenario.rates, seed=seed)
    replay = args.replay or bool(args.replay_file)
    if args.replay_file and (args.preset or args.size or args.fps):
        raise ConfigError("--replay-file: the recording sets the size and frame rate "
                          "(drop --preset, --size and --fps)")
    recordings = tuple(load_recording(Path(f)) for f in args.replay_file)
    if recordings:
        if len({(r.fps, r.width, r.height) for r in recordings}) > 1:
            raise ConfigError("--replay-file: the recordings differ in frame rate or size "
                              "(one fleet serves one stream format)")
        width, height, fps = recordings[0].width, recordings[0].height, recordings[0].fps
    # A preset sets the rate control; the scenario's qp applies to its own stream settings.
    qp = camera_qp(None if args.preset else scenario.qp, stream.bitrate, replay=replay)
    plans = world_plans(world, camera_ids, scene, clock, width=width, height=height, fps=fps,
                        gop_seconds=stream.gop_seconds, bitrate=stream.bitrate, qp=qp,
                        maxrate=stream.maxrate, bufsize=stream.bufsize, ipratio=stream.ipratio,
                        grain=stream.grain, credentials=credentials)
    cache = None
    if args.template_cache and replay and not recordings:
        cache = TemplateCache.of(
            Path(args.template_cache), world=file_digest(Path(world_path)), seed=seed,
            rates=repr(scenario.rates), stream=stream.as_json(),
            hour=scene_hour(clock), seconds=2.0, warmup=bool(stream.bitrate))
    store = LocalStore(world, scene, clock, camera_ids, width=width, height=height,
                       policy=StorePolicy(retention=args.clip_retention * 86400.0,
                                          fps=args.clip_fps))
    clips = ClipEndpoint(store, token=args.clip_token)
    options = FleetOptions(fps=fps, width=width, height=height, replay=replay,
                           replay_templates=args.templates, recordings=recordings,
                           template_cache=cache, rtsp_host=settings.host,
                           replay_warmup_seconds=stream.gop_seconds if stream.bitrate else 0.0,
                           rtsp_port=args.rtsp_port, session_timeout=args.session_timeout,
                           seed=seed, whip_url=args.whip, whip_token=args.whip_token,
                           consent_url=args.consent_url)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    log.info("starting %d camera(s)%s at %dx%d, %g fps (%s)", len(plans),
             " in replay mode" if replay else "", width, height, fps,
             "recorded" if recordings else stream.name)
    try:
        async with Fleet(plans, options, faults=faults) as fleet:
            metrics = MetricsServer(fleet_registry(fleet), host=settings.host,
                                    port=args.metrics_port, routes=clips.routes())
            await metrics.start()
            try:
                for cam_id in camera_ids:
                    url = fleet.rtsp_url(cam_id)
                    creds = credentials.get(cam_id)
                    if creds is not None:
                        url = redact_url(url.replace("rtsp://", f"rtsp://{creds.username}:x@",
                                                     1))
                    print(f"{cam_id} {url}")
                print(f"metrics {metrics.url}")
                # After the metrics line: tools read camera lines up to it.
                clip_url = f"http://{metrics.host}:{metrics.port}{CLIP_PATH}"
                print(f"clips {clip_url}", flush=True)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), args.duration)
            finally:
                await metrics.close()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    print("rtcc sim: stopped", file=sys.stderr)
    return 0


def stream_settings(args: argparse.Namespace, scenario: Scenario) -> Preset:
    """The stream the cameras send: ``--preset``, else the scenario's ``[camera]`` table with
    ``--size``/``--fps`` over it (a preset named ``custom`` then)."""
    from simulators.presets import Preset, preset

    if args.preset:
        chosen = preset(args.preset)
        if args.fps:
            raise ConfigError(f"--fps: --preset {chosen.name} sets the frame rate "
                              f"({chosen.fps:g}); drop one of them")
        return chosen
    width, height = args.size or (scenario.width, scenario.height)
    return Preset("custom", width, height, args.fps or scenario.fps, scenario.gop_seconds,
                  scenario.bitrate, None, None, None, 0.0, "from the scenario and flags")


def scene_hour(clock: SimClock) -> int:
    """The simulated hour now (templates recorded at night look nothing like the day's)."""
    import time as _time

    return clock.sim_datetime(_time.time()).hour
