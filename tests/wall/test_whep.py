"""WHEP playback with a standard WebRTC client (aiortc as the player), loopback ICE only."""

import asyncio
import time

import av
import pytest
from aiortc import RTCConfiguration, RTCPeerConnection, RTCRtpReceiver, RTCSessionDescription

from rtcc.wall import WALL
from tests.wall.conftest import add_user, audit_events, seed_registry, set_tier


def bearer(token):
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
async def whep(redis, wall_client, feeder):
    await seed_registry(redis, {"cam-a": ("hh-a", "live"), "cam-b": ("hh-b", "request")})
    token = await add_user(redis, "olive")
    await feeder(["cam-a", "cam-b"], width=320, height=180)
    await asyncio.sleep(0.3)
    client = await wall_client()
    peers: list[RTCPeerConnection] = []

    async def offer(codecs: str = "video/H264") -> tuple[RTCPeerConnection, str]:
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        peers.append(pc)
        transceiver = pc.addTransceiver("video", direction="recvonly")
        caps = RTCRtpReceiver.getCapabilities("video")
        assert caps is not None
        transceiver.setCodecPreferences([c for c in caps.codecs
                                         if c.mimeType in (codecs, "video/rtx")])
        await pc.setLocalDescription(await pc.createOffer())
        return pc, pc.localDescription.sdp

    yield client, token, offer
    for pc in peers:
        await pc.close()


async def test_a_whep_player_receives_decodable_h264(whep, redis):
    client, token, offer = whep
    pc, sdp = await offer()
    tracks: asyncio.Queue = asyncio.Queue()
    pc.on("track", tracks.put_nowait)
    t0 = time.monotonic()
    r = await client.post("/wall/whep/cam-a", data=sdp,
                          headers={**bearer(token), "Content-Type": "application/sdp"})
    assert r.status == 201, await r.text()
    assert r.content_type == "application/sdp"
    location = r.headers["Location"]
    assert location.startswith("/wall/whep/cam-a/")
    answer = await r.text()
    assert "H264" in answer and "a=candidate" in answer and "127.0.0.1" in answer
    await pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))
    track = await asyncio.wait_for(tracks.get(), 5)
    frames = [await asyncio.wait_for(track.recv(), 5) for _ in range(12)]
    assert all(isinstance(f, av.VideoFrame) for f in frames)
    assert (frames[0].width, frames[0].height) == (320, 180)
    assert time.monotonic() - t0 < 4
    session = next(iter(client.app[WALL].whep.sessions.values()))
    assert session.track.sent >= 12
    assert (await client.delete(location, headers=bearer(token))).status == 200
    assert not client.app[WALL].whep.sessions
    assert (await client.delete(location, headers=bearer(token))).status == 404
    events = [(e.event, e.subject, e.details["via"]) for e in await audit_events(redis)]
    assert events == [("live.start", "cam-a", "whep"), ("live.stop", "cam-a", "whep")]


async def test_whep_refuses_what_it_must(whep, redis):
    client, token, offer = whep
    _, sdp = await offer()
    headers = {**bearer(token), "Content-Type": "application/sdp"}
    r = await client.post("/wall/whep/cam-a", data=sdp,
                          headers={"Content-Type": "application/sdp"})
    assert r.status == 401 and r.headers["WWW-Authenticate"].startswith("Bearer")
    r = await client.post("/wall/whep/cam-b", data=sdp, headers=headers)
    assert r.status == 403 and "no live video" in (await r.json())["error"]
    r = await client.post("/wall/whep/cam-a", data=sdp,
                          headers={**bearer(token), "Content-Type": "text/plain"})
    assert r.status == 415
    _, vp8 = await offer("video/VP8")
    r = await client.post("/wall/whep/cam-a", data=vp8, headers=headers)
    assert r.status == 406 and "H.264" in (await r.json())["error"]
    resident = await add_user(redis, "rita", "resident", household="hh-a")
    r = await client.post("/wall/whep/cam-a", data=sdp,
                          headers={**bearer(resident), "Content-Type": "application/sdp"})
    assert r.status == 403
    refused = [(e.subject, e.details["via"]) for e in await audit_events(redis, "live.refused")]
    assert refused == [("cam-b", "whep")]


async def test_revocation_ends_the_whep_session(whep, redis):
    client, token, offer = whep
    pc, sdp = await offer()
    r = await client.post("/wall/whep/cam-a", data=sdp,
                          headers={**bearer(token), "Content-Type": "application/sdp"})
    assert r.status == 201
    await pc.setRemoteDescription(RTCSessionDescription(await r.text(), "answer"))
    await asyncio.sleep(0.5)
    t0 = time.monotonic()
    await set_tier(redis, "cam-a", "none")
    sessions = client.app[WALL].whep.sessions
    for _ in range(100):
        if not sessions:
            break
        await asyncio.sleep(0.02)
    assert not sessions and time.monotonic() - t0 < 1.0
    stop = [e for e in await audit_events(redis, "live.stop")]
    assert stop[-1].details["reason"] == "revoked"
