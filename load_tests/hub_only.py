"""The ingest hub alone in one process, for load_tests.bench_hub:

    python -m load_tests.hub_only --sources FILE [--port 0] [--reconnect-rate 1000]
                                  [--reconnect-burst N]

``rtcc serve`` also runs the registry API and service, the wall and the live exposure analyzer
(which reads every delivered frame's metadata back from Redis); this process runs only what the
hub needs (the Redis connections, a consent cache, :func:`rtcc.ingest.hub.setup`, /metrics), so
its CPU is the hub's. Settings come from the ``RTCC_*`` environment as for ``rtcc serve``. Prints
``hub-only: listening on http://127.0.0.1:PORT/`` and runs until SIGINT/SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import signal
import sys
from pathlib import Path

from aiohttp import web

from rtcc.cli.serve import install_event_loop_policy
from rtcc.config import Settings
from rtcc.ingest import hub
from rtcc.redis_server import RedisUrls, redis_urls
from rtcc.web import resources


async def run(settings: Settings, urls: RedisUrls, config: hub.HubConfig, port: int) -> None:
    app = web.Application()
    resources.setup(app, settings, urls, name="hub-only")
    hub.setup(app, config)
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", port).start()
        print(f"hub-only: listening on http://127.0.0.1:{runner.addresses[0][1]}/", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
    finally:
        await runner.cleanup()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sources", required=True, type=Path)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--reconnect-rate", type=float, default=1000.0,
                        help="global reconnect budget, attempts per second (a benchmark "
                        "default: the hub's own is 50)")
    parser.add_argument("--reconnect-burst", type=float, default=None,
                        help="attempts allowed at once (default: the rate)")
    args = parser.parse_args()
    settings = Settings.load()
    config = dataclasses.replace(hub.HubConfig(), sources_file=args.sources,
                                 reconnect_rate=args.reconnect_rate,
                                 reconnect_burst=args.reconnect_burst or args.reconnect_rate)
    install_event_loop_policy()
    with redis_urls(settings) as urls:
        asyncio.run(run(settings, urls, config, args.port))
    return 0


if __name__ == "__main__":
    sys.exit(main())
