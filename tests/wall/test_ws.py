"""The wall WebSocket through the whole ``rtcc serve`` app: auth, tiles, consent, audit, slow
pages."""

import asyncio
import json
import time

import aiohttp
import pytest

from rtcc.wall import WALL
from rtcc.wall import ws as wall_ws
from rtcc.wall.protocol import FrameHeader, unpack_frame
from tests.wall.conftest import add_user, audit_events, seed_registry, set_tier
from tests.wall.wsclient import RawWebSocket

CAMS = {"cam-a": ("hh-a", "live"), "cam-b": ("hh-b", "live"), "cam-c": ("hh-c", "request"),
        "cam-d": ("hh-d", "live")}


@pytest.fixture
async def setup(redis, wall_client, feeder):
    await seed_registry(redis, CAMS)
    token = await add_user(redis, "olive")
    await feeder(["cam-a", "cam-b", "cam-c", "cam-d"])
    await asyncio.sleep(0.3)
    client = await wall_client()
    return client, token


class Page:
    """A page's WebSocket with everything it received, in order."""

    def __init__(self, ws):
        self.ws = ws
        self.controls: list[dict] = []
        self.frames: list = []
        self.arrivals: list[float] = []
        self._seen = 0

    async def send(self, doc):
        await self.ws.send_json(doc)

    async def _read(self, deadline):
        msg = await self.ws.receive(timeout=max(0.001, deadline - time.monotonic()))
        if msg.type == aiohttp.WSMsgType.TEXT:
            self.controls.append(json.loads(msg.data))
        elif msg.type == aiohttp.WSMsgType.BINARY:
            self.frames.append(unpack_frame(msg.data)[0])
            self.arrivals.append(time.monotonic())
        else:
            raise AssertionError(f"socket ended: {msg.type} {self.ws.close_code}")

    async def control(self, op, within=3.0):
        """The next control message with this op (earlier other ones are skipped)."""
        deadline = time.monotonic() + within
        while True:
            while self._seen < len(self.controls):
                doc = self.controls[self._seen]
                self._seen += 1
                if doc["op"] == op:
                    return doc
            await self._read(deadline)

    async def until_frames(self, n, within=5.0):
        """Read until ``n`` frames have arrived in all; returns them."""
        deadline = time.monotonic() + within
        while len(self.frames) < n:
            await self._read(deadline)
        return self.frames


async def connect(client, token):
    ws = await client.ws_connect("/wall/ws")
    await ws.send_json({"op": "auth", "token": token})
    page = Page(ws)
    assert (await page.control("hello", within=5))["user"]
    return page


async def test_auth_is_required_and_checked(setup, redis):
    client, token = setup
    for first, code in ((json.dumps({"op": "sub", "cam": "cam-a"}), 4401),
                        (json.dumps({"op": "auth", "token": "forged"}), 4401),
                        ("garbage", 4401)):
        ws = await client.ws_connect("/wall/ws")
        await ws.send_str(first)
        while (msg := await ws.receive(timeout=5)).type == aiohttp.WSMsgType.TEXT:
            assert json.loads(msg.data)["op"] == "error"
        assert msg.type == aiohttp.WSMsgType.CLOSE and ws.close_code == code
    resident = await add_user(redis, "rita", "resident", household="hh-a")
    ws = await client.ws_connect("/wall/ws")
    await ws.send_json({"op": "auth", "token": resident})
    error = await ws.receive_json(timeout=5)
    assert error["code"] == "forbidden" and "resident" in error["message"]
    assert (await ws.receive(timeout=5)).type == aiohttp.WSMsgType.CLOSE
    assert ws.close_code == 4403


async def test_tiles_start_on_a_keyframe_and_are_audited(setup, redis):
    client, token = setup
    page = await connect(client, token)
    t0 = time.monotonic()
    await page.send({"op": "sub", "cam": "cam-a"})
    await page.send({"op": "sub", "cam": "cam-b"})
    subs = [await page.control("sub"), await page.control("sub")]
    index = {s["cam"]: s["idx"] for s in subs}
    assert len(set(index.values())) == 2
    got = await page.until_frames(30)
    first: dict[int, FrameHeader] = {}
    for h in got:
        first.setdefault(h.camera, h)
    assert set(first) == set(index.values())
    assert all(h.key for h in first.values())  # each tile's first frame decodes on its own
    assert page.arrivals[0] - t0 < 0.5  # the cached GOP: no wait for the next keyframe
    starts = await audit_events(redis, "live.start")
    assert {(e.subject, e.actor, e.role, e.ip) for e in starts} == {
        ("cam-a", "olive", "operator", "127.0.0.1"), ("cam-b", "olive", "operator", "127.0.0.1")}
    metrics = await (await client.get("/metrics")).text()
    assert 'rtcc_wall_views{via="ws"} 2.0' in metrics
    assert "rtcc_wall_pages 1.0" in metrics
    sent = next(line for line in metrics.splitlines()
                if line.startswith("rtcc_wall_frames_sent_total "))
    assert float(sent.split()[1]) >= 30
    await page.send({"op": "unsub", "cam": "cam-a"})
    assert (await page.control("unsub"))["cam"] == "cam-a"
    await page.ws.close()
    await asyncio.sleep(0.2)
    stops = {e.subject: e.details for e in await audit_events(redis, "live.stop")}
    assert stops["cam-a"]["reason"] == "client" and stops["cam-a"]["frames"] > 0
    assert stops["cam-b"]["reason"] == "closed"


async def test_a_crafted_subscription_to_a_non_live_camera_is_refused(setup, redis):
    client, token = setup
    page = await connect(client, token)
    for cam in ("cam-c", "cam-unknown"):
        await page.send({"op": "sub", "cam": cam})
        error = await page.control("error")
        assert (error["cam"], error["code"]) == (cam, "not_live")
    await page.send({"op": "sub", "cam": "cam-a"})
    sub = await page.control("sub")
    got = await page.until_frames(15)
    assert {h.camera for h in got} == {sub["idx"]}  # nothing of cam-c ever arrives
    refused = await audit_events(redis, "live.refused")
    assert [(e.subject, e.details["reason"]) for e in refused] == [
        ("cam-c", "not_live"), ("cam-unknown", "not_live")]
    assert client.app[WALL].hub.viewers_of("cam-c") == 0


async def test_revocation_ends_the_tile_within_one_second(setup, redis):
    client, token = setup
    page = await connect(client, token)
    await page.send({"op": "sub", "cam": "cam-a"})
    await page.send({"op": "sub", "cam": "cam-b"})
    idx = {}
    for _ in range(2):
        s = await page.control("sub")
        idx[s["cam"]] = s["idx"]
    await page.until_frames(5)
    t0 = time.monotonic()
    await set_tier(redis, "cam-a", "registry")
    unsub = await page.control("unsub", within=2)
    elapsed = time.monotonic() - t0
    assert (unsub["cam"], unsub["reason"]) == ("cam-a", "revoked")
    assert elapsed < 1.0
    # Nothing of cam-a after the notice; cam-b goes on.
    before = len(page.frames)
    after = (await page.until_frames(before + 12))[before:]
    assert {h.camera for h in after} == {idx["cam-b"]}
    await asyncio.sleep(0.1)
    stop = [e for e in await audit_events(redis, "live.stop") if e.subject == "cam-a"]
    assert stop and stop[0].details["reason"] == "revoked"
    # A new subscription is refused now.
    await page.send({"op": "sub", "cam": "cam-a"})
    assert (await page.control("error"))["code"] == "not_live"


async def test_a_page_that_stops_reading_slows_nobody_and_stays_bounded(
        redis, wall_client, feeder):
    await seed_registry(redis, CAMS)
    token = await add_user(redis, "olive")
    # Big frames (grainy 640x360 at 16 Mbit/s each) so that the kernel's socket buffers (up to
    # 4 MB) fill within a second and the wall's own bound is what holds.
    await feeder(["cam-a", "cam-b", "cam-d"], width=640, height=360, noise=160,
                 bitrate=16_000_000)
    await asyncio.sleep(0.3)
    client = await wall_client()
    stuck = await RawWebSocket.connect(client.server.host, client.server.port, "/wall/ws")
    try:
        await stuck.send_json({"op": "auth", "token": token})
        for cam in ("cam-a", "cam-b", "cam-d"):
            await stuck.send_json({"op": "sub", "cam": cam})
        # The stuck page reads nothing from here on.
        await check_others_unaffected(client, token)
    finally:
        stuck.close()


async def check_others_unaffected(client, token):
    good = await connect(client, token)
    await good.send({"op": "sub", "cam": "cam-a"})
    await good.control("sub")
    hub = client.app[WALL].hub
    got = await good.until_frames(40, within=6)
    seqs = [h.seq for h in got]
    assert seqs == list(range(seqs[0], seqs[0] + 40))  # the reading page lost nothing
    queues = hub.queues_of("cam-a")
    assert len(queues) == 2
    stuck_q = max(queues, key=lambda q: q.dropped["cam-a"])
    assert stuck_q.dropped["cam-a"] > 0
    assert stuck_q.queued_bytes <= wall_ws.QUEUE_BYTES


async def test_malformed_messages_get_errors_not_disconnects(setup):
    client, token = setup
    page = await connect(client, token)
    await page.ws.send_str("{")
    assert (await page.control("error"))["code"] == "bad_request"
    await page.ws.send_bytes(b"\x00\x01")
    assert (await page.control("error"))["code"] == "bad_request"
    await page.send({"op": "unsub", "cam": "cam-a"})
    assert (await page.control("error"))["code"] == "not_subscribed"
    await page.send({"op": "ping"})
    assert (await page.control("pong"))["t"] > 0


async def test_tile_limit_per_page(setup, monkeypatch):
    client, token = setup
    monkeypatch.setattr(wall_ws, "MAX_TILES", 1)
    page = await connect(client, token)
    await page.send({"op": "sub", "cam": "cam-a"})
    await page.control("sub")
    await page.send({"op": "sub", "cam": "cam-b"})
    assert (await page.control("error"))["code"] == "too_many"
