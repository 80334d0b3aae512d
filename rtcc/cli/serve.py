"""``rtcc serve``: the hub, the registry API and the wall in one process (uvloop when available)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal

from rtcc.config import Settings

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(
        "serve", parents=[common], help="run the hub, registry API and monitor wall",
        description="Run the ingest hub, the registry API and the monitor wall in one process. "
        "Binds 127.0.0.1 unless --host says otherwise. Uses the embedded Redis servers when "
        "RTCC_REDIS_URL is unset. Stops cleanly on Ctrl-C or SIGTERM.")
    p.add_argument("--host", metavar="ADDR", help="bind address [RTCC_HOST, default 127.0.0.1]")
    p.add_argument("--port", metavar="PORT", help="HTTP port, 0 picks a free one [RTCC_PORT]")
    p.set_defaults(handler=run)


def install_event_loop_policy() -> None:
    """uvloop where it is installed; the standard loop otherwise."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency on Linux
        return
    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


async def serve(settings: Settings, urls, ready: asyncio.Event | None = None) -> None:  # type: ignore[no-untyped-def]
    """Run the application until cancelled or until SIGINT/SIGTERM arrives."""
    from aiohttp import web

    from rtcc.app import create_app

    app = create_app(settings, urls)
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, settings.host, settings.port, shutdown_timeout=5.0)
        await site.start()
        for address in runner.addresses:
            host, port = address[0], address[1]
            print(f"rtcc serve: listening on http://{host}:{port}/", flush=True)
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

    install_event_loop_policy()
    with redis_urls(settings) as urls, contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(settings, urls))
    return 0
