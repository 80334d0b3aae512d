"""``rtcc serve``: the hub, the registry API and the wall in one process (uvloop when available),
or one role of a scaled-out deployment (``--role hub|wall|analyzer``, several of each)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
from typing import Any

from rtcc.cli.argtypes import positive_float
from rtcc.config import Settings
from rtcc.vocabulary import SERVE_ROLES

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "serve", parents=[common], help="run the hub, registry API and monitor wall",
        description="Run the ingest hub, the registry API and the monitor wall in one process. "
        "Binds 127.0.0.1 unless --host says otherwise. Uses the embedded Redis servers when "
        "RTCC_REDIS_URL is unset. Stops cleanly on Ctrl-C or SIGTERM.")
    p.add_argument("--host", metavar="ADDR", help="bind address [RTCC_HOST, default 127.0.0.1]")
    p.add_argument("--port", metavar="PORT", help="HTTP port, 0 picks a free one [RTCC_PORT]")
    p.add_argument("--world", metavar="FILE",
                   help="world file (GeoJSON) for the wall's map [RTCC_WORLD]")
    scale = p.add_argument_group("scaling out")
    scale.add_argument("--role", choices=SERVE_ROLES,
                       help="what this process runs [RTCC_ROLE, default all]: hub = ingest "
                       "(+ /metrics, /api/hub/*), wall = monitor wall and registry API, "
                       "analyzer = live exposure analyzer (a consumer-group member)")
    scale.add_argument("--worker-id", metavar="NAME",
                       help="name among hub workers and analyzer consumers [RTCC_WORKER_ID, "
                       "default hostname-pid]")
    scale.add_argument("--sharding", dest="hub_sharding", choices=("on", "off"),
                       help="hub: share cameras with other hub workers through leases "
                       "[RTCC_HUB_SHARDING, default on; alone, a worker owns every camera]")
    scale.add_argument("--lease-ttl", dest="hub_lease_ttl", metavar="SECONDS",
                       help="hub: camera lease TTL [RTCC_HUB_LEASE_TTL, default 6]")
    scale.add_argument("--lease-renew", dest="hub_lease_renew", metavar="SECONDS",
                       help="hub: seconds between lease renewals [RTCC_HUB_LEASE_RENEW, "
                       "default 2]")
    hub = p.add_argument_group("ingest hub")
    hub.add_argument("--sources", metavar="FILE",
                     help="cameras from this TOML/JSON file: a list of {id, url | whip = true, "
                     "token?, transport?}; default: the registry's cameras that have a source")
    hub.add_argument("--rtsp-transport", choices=("tcp", "udp"),
                     help="default RTSP transport for cameras that do not say (default tcp)")
    hub.add_argument("--reconnect-rate", metavar="N", type=positive_float,
                     help="global reconnect budget: connection attempts per second (default 50)")
    hub.add_argument("--reconnect-burst", metavar="N", type=positive_float,
                     help="global reconnect budget: attempts allowed at once (default 100)")
    hub.add_argument("--silence-timeout", metavar="SECONDS", type=positive_float,
                     help="restart a camera that sent no RTP for this long (default 10)")
    p.set_defaults(handler=run)



def hub_config_from_args(args: argparse.Namespace,  # type: ignore[no-untyped-def]
                         settings: Settings | None = None):
    """The hub's configuration from the flags (the sources file is read and checked now, so a
    bad file fails before any server starts) and, given ``settings``, its lease settings."""
    import dataclasses
    from pathlib import Path

    from rtcc.ingest.hub import HubConfig
    from rtcc.ingest.ownership import sharding_from_settings
    from rtcc.ingest.sources import load_sources_file

    config = HubConfig()
    changes: dict[str, Any] = {}
    if settings is not None:
        changes["sharding"] = sharding_from_settings(settings)
    if getattr(args, "sources", None):
        load_sources_file(args.sources)  # raises ConfigError naming the file and camera
        changes["sources_file"] = Path(args.sources)
    if getattr(args, "reconnect_rate", None):
        changes["reconnect_rate"] = args.reconnect_rate
    if getattr(args, "reconnect_burst", None):
        changes["reconnect_burst"] = max(1.0, args.reconnect_burst)
    rtsp: dict[str, Any] = {}
    if getattr(args, "rtsp_transport", None):
        rtsp["transport"] = args.rtsp_transport
    if getattr(args, "silence_timeout", None):
        rtsp["silence_timeout"] = args.silence_timeout
    if rtsp:
        changes["rtsp"] = dataclasses.replace(config.rtsp, **rtsp)
    return dataclasses.replace(config, **changes)


def install_event_loop_policy() -> None:
    """uvloop where it is installed; the standard loop otherwise."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux
        return
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


async def serve(settings: Settings, urls, ready: asyncio.Event | None = None,  # type: ignore[no-untyped-def]
                hub_config=None) -> None:
    """Run the application until cancelled or until SIGINT/SIGTERM arrives."""
    from aiohttp import web

    from rtcc.app import create_app
    from rtcc.ingest.hub import HUB_CONFIG

    app = create_app(settings, urls)
    if hub_config is not None:
        app[HUB_CONFIG] = hub_config
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, settings.host, settings.port, shutdown_timeout=5.0)
        await site.start()
        for address in runner.addresses:
            host, port = address[0], address[1]
            print(f"rtcc serve: listening on http://{host}:{port}/", flush=True)
        log.info("role %s%s", settings.role,
                 f", worker {settings.worker_id}" if settings.worker_id else "")
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        if ready is not None:
            ready.set()
        try:
            await stop.wait()
            log.info("stopping")
        finally:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.remove_signal_handler(sig)
    finally:
        await runner.cleanup()


def run(args: argparse.Namespace, settings: Settings) -> int:
    from rtcc.redis_server import redis_urls

    hub_config = hub_config_from_args(args, settings)
    install_event_loop_policy()
    with redis_urls(settings) as urls, contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(settings, urls, hub_config=hub_config))
    return 0
