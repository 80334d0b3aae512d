"""The wall fails closed when the registry's Redis stalls: a frozen state server (SIGSTOP, its
sockets open but silent) must stop live delivery within the documented window (docs/security.md,
"Consent cache fails closed on a stalled connection"), and delivery resumes once it answers."""

import asyncio
import contextlib
import json
import os
import signal
import time
import uuid

import aiohttp
import redis.asyncio as aredis

from rtcc.app import create_app
from rtcc.redis_server import LIVE, EmbeddedRedis, RedisUrls
from tests.wall.conftest import add_user, seed_registry

FAIL_CLOSED_WINDOW = 2.0
"""Seconds from the freeze to the last frame, at most (the consent cache's max_stale is 1.25 s)."""


async def test_a_frozen_state_redis_stops_delivery_within_the_window(
        short_tmp, redis, redis_url, settings, aiohttp_client, feeder):
    base = short_tmp / f"stall-{uuid.uuid4().hex[:6]}"
    state_server = EmbeddedRedis(LIVE, base / "data", base / "run")
    state_server.start()
    state = aredis.Redis.from_url(state_server.url)
    frozen = False
    client = None
    try:
        await seed_registry(state, {"cam-a": ("hh-a", "live")})
        token = await add_user(state, "olive")
        await feeder(["cam-a"])  # video on the session's Redis, which keeps running
        # Registry on the server we freeze, video on the other one.
        client = await aiohttp_client(create_app(settings, RedisUrls(state_server.url,
                                                                     redis_url)))
        ws = await client.ws_connect("/wall/ws")
        await ws.send_json({"op": "auth", "token": token})
        await ws.send_json({"op": "sub", "cam": "cam-a"})
        frames = 0
        while frames < 10:
            msg = await ws.receive(timeout=5)
            frames += msg.type == aiohttp.WSMsgType.BINARY

        assert state_server.pid is not None
        os.kill(state_server.pid, signal.SIGSTOP)
        frozen, stopped_at = True, time.monotonic()
        arrivals: list[float] = []
        controls: list[str] = []
        while time.monotonic() - stopped_at < FAIL_CLOSED_WINDOW + 1.5:
            try:
                msg = await ws.receive(timeout=0.2)
            except TimeoutError:
                continue
            if msg.type == aiohttp.WSMsgType.BINARY:
                arrivals.append(time.monotonic() - stopped_at)
            elif msg.type == aiohttp.WSMsgType.TEXT:
                controls.append(msg.data)
        late = [round(t, 2) for t in arrivals if t > FAIL_CLOSED_WINDOW]
        assert not late, f"{len(late)} frames delivered after the window: {late[:5]}"
        assert any('"unsub"' in c and '"revoked"' in c for c in controls), controls

        os.kill(state_server.pid, signal.SIGCONT)
        frozen = False
        # Once the server answers again the cache re-syncs and the camera can be watched.
        deadline = time.monotonic() + 10
        resumed = False
        while not resumed and time.monotonic() < deadline:
            await ws.send_json({"op": "sub", "cam": "cam-a"})
            while True:  # the answer to this sub: "sub" or an error
                msg = await ws.receive(timeout=5)
                if msg.type == aiohttp.WSMsgType.TEXT:
                    op = json.loads(msg.data)["op"]
                    if op in ("sub", "error"):
                        resumed = op == "sub"
                        break
            if not resumed:
                await asyncio.sleep(0.3)
        assert resumed, "the camera could not be watched again after the server woke"
        msg = await ws.receive(timeout=5)
        while msg.type != aiohttp.WSMsgType.BINARY:
            msg = await ws.receive(timeout=5)
        await ws.close()
    finally:
        if frozen and state_server.pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(state_server.pid, signal.SIGCONT)
        if client is not None:
            await client.close()  # the app stops before its Redis does
        await state.aclose()
        state_server.stop()
