"""The RTSP server spoken to byte by byte: methods, status codes, sessions, RTP and RTCP.

Cameras are PatternCamera sources in a real Fleet; the client is a raw socket (tests/sim/conftest
RawRtsp) and, where a third-party client must keep streaming, PyAV in a thread.
"""

from __future__ import annotations

import asyncio
import socket

import pytest

from rtcc.media.rtcp import RtcpSrPacket, unix_from_ntp
from rtcc.media.rtp import H264Depacketizer, parse_rtp
from rtcc.media.sei import find_ground_truth
from simulators.rtsp_protocol import METHODS
from simulators.rtsp_session import SessionState
from tests.sim.conftest import access_units, pyav_pull, sender_reports, sprop


def _rtp_info(value: str | None) -> dict[str, str]:
    assert value, "PLAY response without RTP-Info"
    return dict(part.split("=", 1) for part in value.split(";") if "=" in part)


async def test_describe_setup_play_over_tcp(make_fleet, rtsp_clients) -> None:
    fleet = await make_fleet(2)
    feed = fleet.cameras["cam-1"].feed
    c = await rtsp_clients(fleet.server.port)
    reply = await c.request("OPTIONS", c.url("cam-1"))
    assert reply.status == 200
    assert [m.strip() for m in reply.header("public").split(",")] == list(METHODS)

    reply = await c.request("DESCRIBE", c.url("cam-1"), {"Accept": "application/sdp"})
    assert reply.status == 200
    assert reply.header("content-type") == "application/sdp"
    assert reply.header("content-base") == c.url("cam-1") + "/"
    sdp = reply.body.decode()
    assert "a=rtpmap:96 H264/90000" in sdp and "packetization-mode=1" in sdp
    assert "a=control:trackID=0" in sdp and sdp.endswith("\r\n")
    assert sprop(sdp) == (feed.sps, feed.pps)

    reply = await c.request("SETUP", c.url("cam-1", "trackID=0"),
                            {"Transport": "RTP/AVP/TCP;unicast;interleaved=0-1"})
    assert reply.status == 200
    assert reply.header("transport").startswith("RTP/AVP/TCP;unicast;interleaved=0-1;ssrc=")
    assert reply.header("session").endswith(";timeout=60")
    session = reply.session
    reply = await c.request("PLAY", c.url("cam-1"), {"Session": session})
    assert reply.status == 200
    info = _rtp_info(reply.header("rtp-info"))
    assert info["url"] == c.url("cam-1", "trackID=0")

    frames = await c.read_frames(1.6)
    first = parse_rtp(next(p for ch, p in frames if ch == 0))
    # RTP-Info names exactly the first packet the client gets
    assert first.seq == int(info["seq"]) and first.timestamp == int(info["rtptime"])
    aus = access_units(frames)
    assert len(aus) >= 12 and all(au.complete for au in aus)
    assert aus[0].keyframe
    kinds = [n[0] & 0x1F for n in aus[0].nals]
    ours = next(i for i, n in enumerate(aus[0].nals)
                if n[0] & 0x1F == 6 and find_ground_truth([n]) is not None)
    assert kinds.index(7) < kinds.index(8) < ours < kinds.index(5)  # SPS PPS ours IDR
    truths = [find_ground_truth(au.nals) for au in aus]
    assert all(t is not None and t.cam == "cam-1" for t in truths)
    seqs = [t.seq for t in truths if t]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
    # 10 fps: 100 ms of capture time per frame (a multiple of it when a loaded machine made
    # the clock skip a beat), and the 90 kHz RTP clock advances in step with capture time
    times = [t.t for t in truths if t]
    steps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert all(s > 0 and s % 100_000 == 0 for s in steps)
    assert sum(s == 100_000 for s in steps) >= len(steps) - 2
    assert all((b.timestamp - a.timestamp) % 2**32 == step * 9 // 100
               for a, b, step in zip(aus, aus[1:], steps, strict=False))
    # the sender report maps an RTP timestamp to the capture wall clock of that frame
    reports = [r for r in sender_reports(frames) if isinstance(r, RtcpSrPacket)]
    assert reports and reports[0].ssrc == first.ssrc
    sr = reports[0].sender_info
    matching = [t for au, t in zip(aus, truths, strict=True) if au.timestamp == sr.rtp_timestamp]
    assert matching and matching[0] is not None
    assert abs(unix_from_ntp(sr.ntp_timestamp) - matching[0].t / 1e6) < 1e-6

    reply = await c.request("TEARDOWN", c.url("cam-1"), {"Session": session})
    assert reply.status == 200
    await c.read_frames(0.3)
    assert await c.read_frames(0.5) == []
    assert fleet.server.sessions == {}


async def test_play_over_udp(make_fleet, rtsp_clients) -> None:
    fleet = await make_fleet(1)
    loop = asyncio.get_running_loop()
    rtp_q: asyncio.Queue[bytes] = asyncio.Queue()
    rtcp_q: asyncio.Queue[bytes] = asyncio.Queue()

    class Sink(asyncio.DatagramProtocol):
        def __init__(self, q: asyncio.Queue[bytes]) -> None:
            self.q = q

        def datagram_received(self, data: bytes, addr: object) -> None:
            self.q.put_nowait(data)

    for _ in range(50):  # an even/odd port pair, as RTP wants
        a = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        a.bind(("127.0.0.1", 0))
        port = a.getsockname()[1]
        if port % 2 == 0:
            b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                b.bind(("127.0.0.1", port + 1))
                break
            except OSError:
                b.close()
        a.close()
    rtp_t, _ = await loop.create_datagram_endpoint(lambda: Sink(rtp_q), sock=a)
    rtcp_t, _ = await loop.create_datagram_endpoint(lambda: Sink(rtcp_q), sock=b)
    try:
        c = await rtsp_clients(fleet.server.port)
        await c.request("DESCRIBE", c.url("cam-0"))
        reply = await c.request("SETUP", c.url("cam-0", "trackID=0"),
                                {"Transport": f"RTP/AVP;unicast;client_port={port}-{port + 1}"})
        assert reply.status == 200
        transport = reply.header("transport")
        assert f"client_port={port}-{port + 1}" in transport
        server_port = transport.split("server_port=")[1].split(";")[0]
        rtp_port, rtcp_port = (int(x) for x in server_port.split("-"))
        assert rtp_port % 2 == 0 and rtcp_port == rtp_port + 1
        reply = await c.request("PLAY", c.url("cam-0"), {"Session": reply.session})
        assert reply.status == 200
        seq0 = int(_rtp_info(reply.header("rtp-info"))["seq"])
        depack = H264Depacketizer()
        aus = []
        deadline = loop.time() + 1.5
        first = None
        while loop.time() < deadline:
            data = await asyncio.wait_for(rtp_q.get(), 1.0)
            if first is None:
                first = parse_rtp(data)
            aus += depack.feed(data)
        assert first is not None and first.seq == seq0
        assert len(aus) >= 10 and aus[0].keyframe and depack.lost == 0
        assert find_ground_truth(aus[-1].nals) is not None
        sr = await asyncio.wait_for(rtcp_q.get(), 2.0)
        assert sr[1] == 200  # RTCP packet type SR
        # an RTCP receiver report from the client keeps the session alive
        session = next(iter(fleet.server.sessions.values()))
        before = session.last_seen
        await asyncio.sleep(0.05)
        rtcp_t.sendto(b"\x80\xc9\x00\x01\x00\x00\x00\x01", ("127.0.0.1", rtcp_port))
        await asyncio.sleep(0.1)
        assert session.last_seen > before
    finally:
        rtp_t.close()
        rtcp_t.close()


async def test_bad_requests_get_precise_codes_while_a_real_client_streams(
        make_fleet, rtsp_clients) -> None:
    fleet = await make_fleet(2)
    port = fleet.server.port
    url = f"rtsp://127.0.0.1:{port}/cams/cam-1"
    pull = asyncio.create_task(asyncio.to_thread(pyav_pull, url, "tcp", 35))
    await asyncio.sleep(0.5)

    c = await rtsp_clients(port)
    reply = await c.request("FOO", c.url("cam-0"))
    assert reply.status == 501 and "DESCRIBE" in reply.header("public")
    assert (await c.request("ANNOUNCE", c.url("cam-0"))).status == 501
    await c.send_raw(b"OPTIONS * RTSP/1.0\r\n\r\n")  # no CSeq
    reply = await c.read_reply()
    assert reply.status == 400 and reply.header("cseq") is None
    await c.send_raw(b"OPTIONS * RTSP/1.0\r\nCSeq: abc\r\n\r\n")
    assert (await c.read_reply()).status == 400
    assert (await c.request("OPTIONS", "*")).status == 200  # still open after a 400
    assert (await c.request("OPTIONS", "*", {"Require": "play.basic"})).status == 551
    assert (await c.request("DESCRIBE", c.url("nope"))).status == 404
    assert (await c.request("DESCRIBE", f"rtsp://127.0.0.1:{port}/other/cam-0")).status == 404
    assert (await c.request("SETUP", c.url("cam-0", "trackID=9"),
                            {"Transport": "RTP/AVP/TCP;interleaved=0-1"})).status == 404
    assert (await c.request("SETUP", c.url("cam-0", "trackID=0"))).status == 461
    assert (await c.request("SETUP", c.url("cam-0", "trackID=0"),
                            {"Transport": "RTP/AVP;multicast"})).status == 461
    assert (await c.request("SETUP", c.url("cam-0", "trackID=0"),
                            {"Transport": "RAW/RAW/UDP;unicast"})).status == 461
    assert (await c.request("PLAY", c.url("cam-0"))).status == 455  # nothing set up
    assert (await c.request("TEARDOWN", c.url("cam-0"))).status == 455
    reply = await c.request("SETUP", c.url("cam-0", "trackID=0"),
                            {"Transport": "RTP/AVP/TCP;interleaved=0-1"})
    assert reply.status == 200
    session = reply.session
    assert (await c.request("PLAY", c.url("cam-0"), {"Session": "deadbeef"})).status == 454
    assert (await c.request("PAUSE", c.url("cam-0"), {"Session": session})).status == 455
    assert (await c.request("GET_PARAMETER", c.url("cam-0"),
                            {"Session": "deadbeef"})).status == 454
    assert (await c.request("PLAY", c.url("cam-1"), {"Session": session})).status == 404
    assert (await c.request("PLAY", c.url("cam-0"), {"Session": session})).status == 200
    assert (await c.request("SETUP", c.url("cam-0", "trackID=0"),
                            {"Transport": "RTP/AVP/TCP;interleaved=0-1",
                             "Session": session})).status == 455  # not while playing
    await c.send_raw(b"OPTIONS * RTSP/2.0\r\nCSeq: 99\r\n\r\n")
    reply = await c.read_reply()
    assert reply.status == 505 and reply.header("cseq") == "99"

    for junk, status in ((b"\x16\x03\x01\x02\x00\x01\x00garbage", 400),
                         (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", 400),
                         (b"OPTIONS * RTSP/1.0\r\nCSeq: 1\r\nX: " + b"a" * 9000, 431)):
        bad = await rtsp_clients(port)
        await bad.send_raw(junk)
        assert (await bad.read_reply()).status == status
        assert await bad.wait_closed(2.0)

    frames = await pull
    seqs = [f.truth.seq for f in frames if f.truth]
    assert len(frames) == 35 and seqs == list(range(seqs[0], seqs[0] + len(seqs)))
    assert [f.barcode for f in frames] == seqs  # the SEI belongs to the picture it rides on
    assert fleet.server.requests[("bad", 431)] == 1


async def test_pause_resumes_at_a_keyframe_and_second_play_is_harmless(
        make_fleet, rtsp_clients) -> None:
    fleet = await make_fleet(1)
    c = await rtsp_clients(fleet.server.port)
    await c.play("cam-0")
    assert access_units(await c.read_frames(0.5))
    reply = await c.request("PLAY", c.url("cam-0"), {"Session": c.session})
    assert reply.status == 200  # PLAY while playing: fine
    reply = await c.request("PAUSE", c.url("cam-0"), {"Session": c.session})
    assert reply.status == 200
    session = fleet.server.sessions[c.session]
    assert session.state is SessionState.READY
    await c.read_frames(0.2)
    assert await c.read_frames(0.5) == []
    # the source is asked for a keyframe: the resumed stream starts decodable at once
    reply = await c.request("PLAY", c.url("cam-0"), {"Session": c.session})
    assert reply.status == 200
    seq = int(_rtp_info(reply.header("rtp-info"))["seq"])
    frames = await c.read_frames(0.6)
    first = parse_rtp(next(p for ch, p in frames if ch == 0))
    assert first.seq == seq
    assert access_units(frames)[0].keyframe


async def test_keepalive_and_session_timeout(make_fleet, rtsp_clients) -> None:
    fleet = await make_fleet(1, session_timeout=1.0)
    quiet = await rtsp_clients(fleet.server.port)
    chatty = await rtsp_clients(fleet.server.port)
    play = await quiet.play("cam-0")
    assert play.header("session").endswith(";timeout=1")
    await chatty.play("cam-0")

    async def keep_alive() -> int:
        ok = 0
        for _ in range(8):
            await asyncio.sleep(0.3)
            reply = await chatty.request("GET_PARAMETER", chatty.url("cam-0"),
                                         {"Session": chatty.session})
            ok += reply.status == 200
        return ok

    ok, closed = await asyncio.gather(keep_alive(), quiet.wait_closed(3.0))
    assert ok == 8
    assert closed, "an idle session must be reaped and its connection closed"
    assert fleet.server.sessions_reaped == 1
    assert chatty.session in fleet.server.sessions
    assert access_units(await chatty.read_frames(0.4))


async def test_get_and_set_parameter(make_fleet, rtsp_clients) -> None:
    fleet = await make_fleet(1)
    c = await rtsp_clients(fleet.server.port)
    assert (await c.request("GET_PARAMETER", c.url("cam-0"))).status == 200
    assert (await c.request("SET_PARAMETER", c.url("cam-0"))).status == 200
    assert (await c.request("SET_PARAMETER", c.url("cam-0"), body=b"x: 1\r\n")).status == 451


async def test_digest_auth_per_camera(make_fleet, rtsp_clients) -> None:
    from simulators.auth import Credentials

    creds = Credentials("admin", "s3cret")
    fleet = await make_fleet(2, credentials={"cam-1": creds})
    open_cam = await rtsp_clients(fleet.server.port)
    assert (await open_cam.request("DESCRIBE", open_cam.url("cam-0"))).status == 200
    anon = await rtsp_clients(fleet.server.port)
    reply = await anon.request("DESCRIBE", anon.url("cam-1"))
    assert reply.status == 401
    assert reply.header("www-authenticate").startswith('Digest realm="rtcc", nonce="')
    assert (await anon.request("OPTIONS", anon.url("cam-1"))).status == 200  # no auth needed
    wrong = await rtsp_clients(fleet.server.port)
    wrong.credentials = Credentials("admin", "guess")
    assert (await wrong.request("DESCRIBE", wrong.url("cam-1"))).status == 401
    right = await rtsp_clients(fleet.server.port)
    right.credentials = creds
    await right.play("cam-1")
    assert access_units(await right.read_frames(0.5))


def test_server_refuses_non_loopback_hosts() -> None:
    from rtcc.errors import ConfigError
    from simulators.rtsp_server import RtspServer

    with pytest.raises(ConfigError, match="loopback"):
        RtspServer(host="0.0.0.0")
    RtspServer(host="127.0.0.2")


async def test_port_in_use_is_a_clear_error(make_fleet) -> None:
    from rtcc.errors import ConfigError
    from simulators.rtsp_server import RtspServer

    fleet = await make_fleet(1)
    other = RtspServer(port=fleet.server.port)
    with pytest.raises(ConfigError, match=f"RTSP port {fleet.server.port} on 127.0.0.1"):
        await other.start()
    await other.close()
