"""WHEP under attack (issue #16, findings 9, 10 and 11): offers that never connect, one user
hoarding sessions, a chunked offer far over the limit, and malformed SDP, each against the running
app with real HTTP and aiortc peers."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator

import pytest
from aiortc import RTCConfiguration, RTCPeerConnection, RTCRtpReceiver

from rtcc.registry.audit import AuditLog
from rtcc.wall import WALL
from tests.wall.conftest import add_user, audit_events, seed_registry


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
async def offers() -> AsyncIterator[object]:
    """Real WebRTC offers from aiortc players (closed at the end)."""
    peers: list[RTCPeerConnection] = []

    async def make() -> tuple[RTCPeerConnection, str]:
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        peers.append(pc)
        transceiver = pc.addTransceiver("video", direction="recvonly")
        caps = RTCRtpReceiver.getCapabilities("video")
        transceiver.setCodecPreferences([c for c in caps.codecs
                                         if c.mimeType in ("video/H264", "video/rtx")])
        await pc.setLocalDescription(await pc.createOffer())
        return pc, pc.localDescription.sdp

    yield make
    for pc in peers:
        await pc.close()


@pytest.fixture
async def whep(redis, wall_client, feeder):
    await seed_registry(redis, {"cam-a": ("hh-a", "live"), "cam-b": ("hh-b", "request")})
    olive = await add_user(redis, "olive")
    await feeder(["cam-a"], width=160, height=90)
    await asyncio.sleep(0.3)
    return olive, wall_client


async def post(client, token: str, sdp, cam: str = "cam-a"):  # type: ignore[no-untyped-def]
    return await client.post(f"/wall/whep/{cam}", data=sdp,
                             headers={**bearer(token), "Content-Type": "application/sdp"})


async def test_offers_that_never_connect_free_their_slot(whep, offers, redis):
    olive, wall_client = whep
    client = await wall_client(whep_connect_timeout=1.0)
    sessions = client.app[WALL].whep.sessions
    for _ in range(3):
        pc, sdp = await offers()
        assert (await post(client, olive, sdp)).status == 201
        await pc.close()  # the player goes away before ICE: it will never connect
    assert len(sessions) == 3
    for _ in range(100):  # 5 s at most; the timeout is 1 s
        if not sessions:
            break
        await asyncio.sleep(0.05)
    assert not sessions, f"{len(sessions)} sessions still hold a slot"
    for _ in range(100):  # the slot is freed first, the stop is on record a moment later
        stops = await audit_events(redis, "live.stop")
        if len(stops) >= 3:
            break
        await asyncio.sleep(0.05)
    assert Counter(e.details["reason"] for e in stops) == {"connect_timeout": 3}


async def test_one_user_holds_at_most_the_cap(whep, offers, redis):
    olive, wall_client = whep
    client = await wall_client(whep_sessions_per_user=2)
    sdps = [(await offers())[1] for _ in range(5)]
    answers = await asyncio.gather(*(post(client, olive, sdp) for sdp in sdps))
    assert Counter(r.status for r in answers) == {201: 2, 429: 3}
    refused = next(r for r in answers if r.status == 429)
    assert "at most 2 WHEP sessions" in (await refused.json())["error"]
    assert int(refused.headers["Retry-After"]) > 0
    other = await add_user(redis, "otto")
    assert (await post(client, other, (await offers())[1])).status == 201  # others still can
    # Ending a session gives its slot back.
    first = next(r for r in answers if r.status == 201)
    assert (await client.delete(first.headers["Location"], headers=bearer(olive))).status == 200
    assert (await post(client, olive, (await offers())[1])).status == 201


async def test_a_chunked_offer_is_read_with_the_limit(whep, offers, redis):
    olive, wall_client = whep
    client = await wall_client()
    sent = 0
    cap = 32 * 1024 * 1024

    async def huge() -> AsyncIterator[bytes]:  # up to 32 MB, without Content-Length
        nonlocal sent
        while sent < cap:
            sent += 16_000
            yield b"a=x-padding:" + b"z" * 15_986 + b"\r\n"

    resp = await post(client, olive, huge())
    assert resp.status == 413, await resp.text()
    assert (await resp.json())["field"] == "sdp"
    # Answered long before the whole body was sent: only 64 KiB and the sockets' buffers
    # were taken (a server reading the whole body would have taken all 32 MB).
    assert sent < cap, sent
    assert not await audit_events(redis, "live.")
    # A chunked offer of honest size is still read whole.
    _, sdp = await offers()

    async def chunks() -> AsyncIterator[bytes]:
        data = sdp.encode()
        for i in range(0, len(data), 100):
            yield data[i:i + 100]

    assert (await post(client, olive, chunks())).status == 201


def _malformed(sdp: str) -> dict[str, str]:
    lines = sdp.splitlines()

    def swap(prefix: str, new: str) -> str:
        i = next(i for i, line in enumerate(lines) if line.startswith(prefix))
        return "\r\n".join([*lines[:i], new, *lines[i + 1:]]) + "\r\n"

    fb = next(line for line in lines if line.startswith("a=rtcp-fb:")).split(" ")[0]
    return {
        "truncated m= line": swap("m=video", "m=video"),  # aiortc: AssertionError
        "rtcp-fb without a type": swap(fb, fb),  # aiortc: IndexError
        "setup without a role": swap("a=setup:", "a=setup:"),  # aiortc: KeyError
        "no ICE password": swap("a=ice-pwd:", "a=ice-pwd:"),
        "no rtcp-mux": swap("a=rtcp-mux", "a=rtcp-rsize"),
        "a c= line cut short": swap("c=IN", "c=IN"),
        "not SDP at all": "GET / HTTP/1.1\r\n\r\n",
        "not UTF-8": "v=0\r\no=- \xff\xfe 1 IN IP4 x\r\n",
    }


async def test_malformed_sdp_gets_400_before_any_audit_entry(whep, offers, redis):
    olive, wall_client = whep
    client = await wall_client()
    _, sdp = await offers()
    before = len(await AuditLog(redis).entries())
    for name, bad in _malformed(sdp).items():
        for cam in ("cam-a", "cam-b"):  # live, and not live (a refusal would be audited)
            data = bad.encode("latin-1") if name == "not UTF-8" else bad
            resp = await post(client, olive, data, cam)
            assert resp.status == 400, f"{name} on {cam}: {resp.status} {await resp.text()}"
            body = await resp.json()
            assert body["field"] == "sdp" and "offer" in body["error"], (name, body)
    assert len(await AuditLog(redis).entries()) == before, "a malformed offer was audited"
    assert not client.app[WALL].whep.sessions
    # The well-formed offer still works afterwards.
    assert (await post(client, olive, sdp)).status == 201
