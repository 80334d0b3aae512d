"""WHIP ingest (RFC 9725) from rtcc's simulated cameras, and the endpoint's answers to bad
publishers. Real aiortc on both sides, ICE on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aredis
from aiohttp import web
from aiortc import RTCConfiguration, RTCPeerConnection, RTCRtpSender

from rtcc import channels, keys
from rtcc.ingest.hub import HUB, Hub, endpoint_routes
from rtcc.ingest.sources import Source
from rtcc.media.encoder import decode_annexb
from rtcc.registry.store import Registry
from rtcc.vocabulary import CameraState
from tests.ingest.conftest import FleetFactory, HubFactory, register, wait_for

ServerFactory = Callable[[web.Application], Awaitable[Any]]


async def _hub_server(hub: Hub, aiohttp_server: ServerFactory) -> str:
    app = web.Application()
    app[HUB] = hub
    endpoint_routes(app)
    server = await aiohttp_server(app)
    assert server.host == "127.0.0.1"
    return str(server.make_url("/whip"))


async def test_simulated_cameras_publish_over_whip(
    redis: aredis.Redis, registry: Registry, make_hub: HubFactory, make_fleet: FleetFactory,
    aiohttp_server: ServerFactory,
) -> None:
    cams = ["door-1", "door-2", "door-off"]
    await register(registry, cams[:2])
    await register(registry, ["door-off"], "registry")
    hub = await make_hub()
    for cam in cams:
        hub.add_source(Source(cam, whip=True, token=f"token-{cam}"))
    base = await _hub_server(hub, aiohttp_server)
    # The simulator uses one token for all its cameras: give door-1 and door-2 theirs by URL.
    fleets = [await make_fleet([cam], whip_url=f"{base}/{{camera}}", whip_token=f"token-{cam}")
              for cam in cams]
    for cam in cams[:2]:
        await wait_for(lambda cam=cam: hub.workers[cam].sink.delivered >= 12,  # type: ignore[misc]
                       timeout=15,
                       what=f"WHIP frames of {cam}")
    await hub.writer.flush()
    for cam in cams[:2]:
        assert hub.workers[cam].status.state == CameraState.LIVE
        rows: Any = await redis.xrevrange(keys.video(cam), count=10)
        seqs = []
        for _id, fields in rows:
            meta = json.loads(fields[b"meta"])
            assert meta["cam"] == cam and int(fields[b"seq"]) == meta["seq"]
            assert 0 <= int(fields[b"ta"]) - int(fields[b"t"]) < 300_000
            seqs.append(meta["seq"])
        assert seqs == list(range(seqs[0], seqs[0] - 10, -1))
        gop = await channels.read_gop(redis, cam)
        assert gop and gop[0].frame.key
        assert len(decode_annexb(b"".join(e.frame.au for e in gop))) == len(gop)
    # A publisher whose owner has not opted in to live: received, never delivered.
    off = hub.workers["door-off"]
    await wait_for(lambda: off.sink.received >= 10, timeout=15, what="door-off frames")
    assert off.status.state == CameraState.GATED
    assert not await redis.exists(keys.video("door-off"))
    assert hub.metrics.dropped_total("door-off", "consent") >= 10

    # Stopping the publisher DELETEs its session: the camera waits for the next one.
    await fleets[0].close()
    await wait_for(lambda: hub.workers["door-1"].status.state == CameraState.CONNECTING, timeout=5,
                   what="door-1 back to waiting")
    assert "waiting for a WHIP publisher" in hub.workers["door-1"].status.reason
    assert not hub.whip.sessions or all(s.cam != "door-1" for s in hub.whip.sessions.values())


async def _offer(codec: str | None) -> str:
    """A real browser-like offer from aiortc, sending video with only ``codec``."""
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    try:
        transceiver = pc.addTransceiver("video", direction="sendonly")
        if codec is not None:
            caps = RTCRtpSender.getCapabilities("video")
            transceiver.setCodecPreferences(
                [c for c in caps.codecs if c.mimeType in (f"video/{codec}", "video/rtx")])
        await pc.setLocalDescription(await pc.createOffer())
        return pc.localDescription.sdp
    finally:
        await pc.close()


@pytest.fixture
async def endpoint(make_hub: HubFactory, aiohttp_server: ServerFactory) -> tuple[Hub, str]:
    hub = await make_hub()
    hub.add_source(Source("door-1", whip=True, token="right"))
    hub.add_source(Source("door-open", whip=True))  # no token configured
    hub.add_source(Source("rtsp-cam", url="rtsp://127.0.0.1:9/cams/x"))
    return hub, await _hub_server(hub, aiohttp_server)


async def test_endpoint_refuses_what_it_cannot_take(endpoint: tuple[Hub, str]) -> None:
    hub, base = endpoint
    h264 = await _offer("H264")
    vp8 = await _offer("VP8")
    sdp = {"Content-Type": "application/sdp"}
    good = {**sdp, "Authorization": "Bearer right"}
    async with aiohttp.ClientSession() as http:
        async def post(path: str, body: str, headers: dict[str, str]) -> tuple[int, str]:
            async with http.post(f"{base}/{path}", data=body, headers=headers) as r:
                return r.status, await r.text()

        status, text = await post("door-1", h264, sdp)
        assert status == 401 and "bearer" in text.lower()
        assert (await post("door-1", h264, {**sdp, "Authorization": "Bearer wrong"}))[0] == 401
        # Strangers learn nothing of which cameras exist: an unknown camera, a pulled one and
        # one without a token answer exactly as a wrong token does.
        refused = await post("door-1", h264, {**sdp, "Authorization": "Bearer wrong"})
        assert await post("nobody", h264, good) == refused
        assert await post("rtsp-cam", h264, good) == refused  # pulled, not a WHIP camera
        assert await post("door-open", h264, {**sdp, "Authorization": "Bearer x"}) == refused
        status, text = await post("door-1", h264, {**good, "Content-Type": "text/plain"})
        assert status == 415
        status, text = await post("door-1", vp8, good)
        assert status == 406
        assert "H.264 only" in json.loads(text)["error"] and "VP8" in json.loads(text)["error"]
        status, text = await post("door-1", "v=0\r\nthis is not sdp\r\n", good)
        assert status == 400 and "SDP" in text
        assert not hub.whip.sessions

        # A valid offer: 201, an SDP answer restricted to H.264 with host candidates on
        # 127.0.0.1 only, and a Location to DELETE.
        async with http.post(f"{base}/door-1", data=h264, headers=good) as r:
            assert r.status == 201
            assert r.content_type == "application/sdp"
            answer = await r.text()
            location = r.headers["Location"]
        assert location.startswith("/whip/door-1/")
        assert "H264/90000" in answer and "VP8" not in answer
        candidates = [line for line in answer.splitlines() if line.startswith("a=candidate")]
        assert candidates and all(" 127.0.0.1 " in c for c in candidates)
        assert hub.workers["door-1"].status.state == CameraState.CONNECTING
        url = str(base).removesuffix("/whip") + location
        async with http.patch(url, headers=good) as r:
            assert r.status == 405
        async with http.delete(url, headers={"Authorization": "Bearer wrong"}) as r:
            assert r.status == 401
        async with http.delete(url, headers=good) as r:
            assert r.status == 200
        async with http.delete(url, headers=good) as r:
            assert r.status == 404
    assert not hub.whip.sessions


async def test_a_chunked_offer_is_read_whole_and_within_the_limit(
        endpoint: tuple[Hub, str]) -> None:
    hub, base = endpoint
    h264 = (await _offer("H264")).encode()
    good = {"Content-Type": "application/sdp", "Authorization": "Bearer right"}

    async def in_pieces(data: bytes, size: int) -> AsyncIterator[bytes]:  # no Content-Length
        for i in range(0, len(data), size):
            yield data[i:i + size]
            await asyncio.sleep(0)

    async with aiohttp.ClientSession() as http:
        # 900 KB chunked: refused once past 64 KiB, never read whole.
        async with http.post(f"{base}/door-1", data=in_pieces(h264 + b"a=x:" + b"z" * 900_000,
                                                              16_000), headers=good) as r:
            assert r.status == 413 and "larger than" in (await r.json())["error"]
        # An honest offer in 100-byte chunks is read whole (not only its first read).
        async with http.post(f"{base}/door-1", data=in_pieces(h264, 100), headers=good) as r:
            assert r.status == 201, await r.text()
            location = r.headers["Location"]
        async with http.delete(str(base).removesuffix("/whip") + location, headers=good) as r:
            assert r.status == 200
    assert not hub.whip.sessions
