"""When access ends, watching ends (issue #16, finding 1): revoking a user, logging out and a
token's expiry close that user's wall tiles (WebSocket) and WHEP sessions within a second, in
every wall process, each close audited with its reason; every ``sub`` re-checks the token.

Two apps on one Redis, as in a scaled-out deployment: the admin acts on ``api`` (role all), the
operator watches on ``wall`` (role wall, its own process state), with real WebSocket and WebRTC
(aiortc) clients."""

from __future__ import annotations

import asyncio
import hashlib
import json
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiortc import RTCConfiguration, RTCPeerConnection, RTCRtpReceiver, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError

from rtcc import keys
from rtcc.wall import WALL
from tests.wall.conftest import add_user, audit_events, seed_registry

WITHIN = 1.0
"""The issue's budget from the change to the last frame."""


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass
class Page:
    """A wall page's WebSocket that records every frame's arrival until the socket closes."""

    ws: aiohttp.ClientWebSocketResponse
    frames: list[float] = field(default_factory=list)
    controls: list[dict[str, Any]] = field(default_factory=list)
    closed_at: float | None = None
    task: asyncio.Task[None] | None = None

    async def _read(self) -> None:
        async for msg in self.ws:
            if msg.type == aiohttp.WSMsgType.BINARY:
                self.frames.append(time.monotonic())
            elif msg.type == aiohttp.WSMsgType.TEXT:
                self.controls.append(json.loads(msg.data))
        self.closed_at = time.monotonic()

    async def until(self, what: str, test: Any, within: float = 5.0) -> None:
        deadline = time.monotonic() + within
        while not test():
            if time.monotonic() > deadline:
                raise AssertionError(f"not within {within}s: {what}; controls {self.controls}")
            await asyncio.sleep(0.02)

    def frames_after(self, t: float) -> list[float]:
        return [round(a - t, 3) for a in self.frames if a > t]


async def open_page(client: Any, token: str, cam: str = "cam-a") -> Page:
    page = Page(await client.ws_connect("/wall/ws"))
    await page.ws.send_json({"op": "auth", "token": token})
    page.task = asyncio.create_task(page._read())
    await page.ws.send_json({"op": "sub", "cam": cam})
    await page.until("10 frames", lambda: len(page.frames) >= 10)
    return page


@dataclass
class Player:
    """A WHEP player (aiortc) that records when each decoded frame arrives."""

    pc: RTCPeerConnection
    location: str
    frames: list[float] = field(default_factory=list)
    task: asyncio.Task[None] | None = None


async def open_player(client: Any, token: str, cam: str = "cam-a") -> Player:
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    transceiver = pc.addTransceiver("video", direction="recvonly")
    caps = RTCRtpReceiver.getCapabilities("video")
    transceiver.setCodecPreferences([c for c in caps.codecs
                                     if c.mimeType in ("video/H264", "video/rtx")])
    tracks: asyncio.Queue[Any] = asyncio.Queue()
    pc.on("track", tracks.put_nowait)
    await pc.setLocalDescription(await pc.createOffer())
    r = await client.post(f"/wall/whep/{cam}", data=pc.localDescription.sdp,
                          headers={**bearer(token), "Content-Type": "application/sdp"})
    assert r.status == 201, await r.text()
    await pc.setRemoteDescription(RTCSessionDescription(await r.text(), "answer"))
    player = Player(pc, r.headers["Location"])
    track = await asyncio.wait_for(tracks.get(), 5)

    async def read() -> None:
        try:
            while True:
                await track.recv()
                player.frames.append(time.monotonic())
        except MediaStreamError:
            pass

    player.task = asyncio.create_task(read())
    deadline = time.monotonic() + 10
    while len(player.frames) < 5:
        assert time.monotonic() < deadline, "the WHEP player got no pictures"
        await asyncio.sleep(0.05)
    return player


@pytest.fixture
async def stack(redis, wall_client, feeder):
    """(api app, separate wall app, admin token, operator token)."""
    await seed_registry(redis, {"cam-a": ("hh-a", "live"), "cam-b": ("hh-b", "live")})
    admin = await add_user(redis, "ada", "admin")
    olive = await add_user(redis, "olive", "operator", password="olive-password")
    await feeder(["cam-a", "cam-b"], width=160, height=90)
    await asyncio.sleep(0.3)
    api = await wall_client()
    wall = await wall_client(role="wall")
    players: list[Player] = []
    yield api, wall, admin, olive, players
    for player in players:
        await player.pc.close()


async def stops(redis, user: str, expected: dict[str, set[str]]) -> dict[str, set[str]]:
    """via -> the reasons of ``user``'s view stops in the audit log, once they are ``expected``
    (a view's slot is freed first, its stop is on record a moment later) or after 3 s."""
    deadline = time.monotonic() + 3
    while True:
        out: dict[str, set[str]] = {}
        for e in await audit_events(redis, "live.stop"):
            if e.actor == user:
                out.setdefault(e.details["via"], set()).add(e.details["reason"])
        if out == expected or time.monotonic() > deadline:
            return out
        await asyncio.sleep(0.05)


async def gone_within(sessions: dict[str, Any], t0: float) -> float:
    while sessions:
        assert time.monotonic() - t0 < 3, "the WHEP session stayed open"
        await asyncio.sleep(0.01)
    return time.monotonic() - t0


async def test_revoking_a_user_closes_their_tiles_and_whep_within_a_second(stack, redis):
    api, wall, admin, olive, players = stack
    page = await open_page(wall, olive)
    player = await open_player(wall, olive)
    players.append(player)

    t0 = time.monotonic()
    r = await api.delete("/api/users/olive", headers=bearer(admin))  # on the other process
    assert r.status == 200
    took = await gone_within(wall.app[WALL].whep.sessions, t0)
    await page.until("the page closed", lambda: page.closed_at is not None)
    assert page.ws.close_code == 4401 and page.closed_at - t0 < WITHIN, page.closed_at - t0
    assert took < WITHIN
    assert not page.frames_after(t0 + WITHIN), page.frames_after(t0)
    await asyncio.sleep(0.5)
    assert not [t for t in player.frames if t > t0 + WITHIN + 0.2]  # the player's last picture
    want = {"ws": {"user_revoked"}, "whep": {"user_revoked"}}
    assert (await stops(redis, "olive", want)) == want
    # Refused everywhere afterwards.
    assert (await wall.get("/api/wall/cameras", headers=bearer(olive))).status == 401
    again = Page(await wall.ws_connect("/wall/ws"))
    await again.ws.send_json({"op": "auth", "token": olive})
    await again._read()
    assert again.ws.close_code == 4401


async def test_logging_out_closes_what_that_login_opened(stack, redis):
    api, wall, admin, olive, players = stack
    r = await api.post("/api/login", json={"username": "olive", "password": "olive-password"})
    session = (await r.json())["token"]
    by_login = await open_page(wall, session)
    by_api_token = await open_page(wall, olive, "cam-b")  # the same user elsewhere
    player = await open_player(wall, session)
    players.append(player)

    t0 = time.monotonic()
    assert (await api.post("/api/logout", headers=bearer(session))).status == 200
    took = await gone_within(wall.app[WALL].whep.sessions, t0)
    await by_login.until("the page closed", lambda: by_login.closed_at is not None)
    assert by_login.ws.close_code == 4401 and by_login.closed_at - t0 < WITHIN
    assert took < WITHIN and not by_login.frames_after(t0 + WITHIN)
    # The user's other token was not logged out: that page keeps watching.
    n = len(by_api_token.frames)
    await by_api_token.until("more frames", lambda: len(by_api_token.frames) > n + 5)
    assert by_api_token.closed_at is None
    want = {"ws": {"logged_out"}, "whep": {"logged_out"}}
    assert (await stops(redis, "olive", want)) == want
    assert (await wall.get("/api/wall/cameras", headers=bearer(session))).status == 401


async def test_an_expired_token_closes_tiles_and_whep_on_time(stack, redis, redis_url):
    api, wall, admin, olive, players = stack
    # A short-lived token from the real command line.
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "rtcc", "users", "token", "olive", "--expires", "4s",
        "--redis-url", redis_url, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()
    token = out.decode().strip()
    assert "expires" in err.decode()
    digest = hashlib.sha256(token.encode()).hexdigest()
    expires = float(await redis.hget(keys.token(digest), "expires"))
    page = await open_page(wall, token)
    player = await open_player(wall, token)
    players.append(player)
    assert time.time() < expires, "the setup took longer than the token lives"

    await page.until("the page closed", lambda: page.closed_at is not None, within=10)
    closed_late = time.time() - expires  # the page closed this long after the expiry
    assert page.ws.close_code == 4401 and closed_late < WITHIN, closed_late
    t_expiry = page.closed_at - closed_late
    assert not page.frames_after(t_expiry + WITHIN)
    await gone_within(wall.app[WALL].whep.sessions, time.monotonic())
    want = {"ws": {"token_expired"}, "whep": {"token_expired"}}
    assert (await stops(redis, "olive", want)) == want
    r = await api.get("/api/me", headers=bearer(token))
    assert r.status == 401 and (await r.json())["error"] == "token expired"
    r = await wall.post("/wall/whep/cam-a", data="v=0",
                        headers={**bearer(token), "Content-Type": "application/sdp"})
    assert r.status == 401


async def test_every_sub_rechecks_the_token(stack, redis):
    api, wall, admin, olive, players = stack
    page = await open_page(wall, olive)
    # The token disappears without any event (an event this process never heard).
    digest = hashlib.sha256(olive.encode()).hexdigest()
    await redis.delete(keys.token(digest))
    starts = len(await audit_events(redis, "live.start"))
    await page.ws.send_json({"op": "sub", "cam": "cam-b"})
    await page.until("the page closed", lambda: page.closed_at is not None)
    assert page.ws.close_code == 4401
    assert not any(c.get("op") == "sub" and c.get("cam") == "cam-b" for c in page.controls)
    assert len(await audit_events(redis, "live.start")) == starts  # cam-b was never opened
    want = {"ws": {"token_invalid"}}
    assert (await stops(redis, "olive", want)) == want
