"""Faults injected into a running fleet, observed by real clients on real sockets."""

from __future__ import annotations

import asyncio
import socket
import time

import aiohttp
from aiohttp import web

from rtcc.media.h264 import NAL_FILLER
from rtcc.media.rtcp import unix_from_ntp
from rtcc.media.rtp import parse_rtp
from rtcc.media.sei import find_ground_truth
from simulators.fault_spec import parse_faults
from simulators.faults import ConsentEvent, FaultRunner
from simulators.fleet import Fleet, FleetOptions
from simulators.fleet_setup import pattern_plans
from simulators.metrics import MetricsServer, fleet_registry
from tests.sim.conftest import access_units, sender_reports


async def test_stall_pauses_frames_but_keeps_the_connection(make_fleet, rtsp_clients) -> None:
    fleet = await make_fleet(1, faults="stall:cam-0@0.7s+1s")
    c = await rtsp_clients(fleet.server.port)
    await c.play("cam-0")
    aus = access_units(await c.read_frames(2.6))
    truths = [find_ground_truth(au.nals) for au in aus]
    times = [t.t for t in truths if t]
    gaps = [(b - a) / 1e6 for a, b in zip(times, times[1:], strict=False)]
    assert max(gaps) >= 0.95 and sorted(gaps)[-2] < 0.5  # one stall of ~1 s
    seqs = [t.seq for t in truths if t]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))  # nothing was made meanwhile
    assert fleet.server.sessions  # still connected
    assert fleet.faults is not None and fleet.faults.injected["stall"] == 1


async def test_disconnect_closes_only_that_cameras_clients(make_fleet, rtsp_clients) -> None:
    fleet = await make_fleet(2, faults="disconnect:cam-0@0.6s")
    hit = await rtsp_clients(fleet.server.port)
    spared = await rtsp_clients(fleet.server.port)
    await hit.play("cam-0")
    await spared.play("cam-1")
    closed, frames = await asyncio.gather(hit.wait_closed(2.0), spared.read_frames(1.5))
    assert closed
    assert len(access_units(frames)) >= 13


async def test_reboot_is_404_then_back_with_a_new_ssrc(make_fleet, rtsp_clients) -> None:
    fleet = await make_fleet(1, faults="reboot:cam-0@0.6s+1s")
    port = fleet.server.port
    c = await rtsp_clients(port)
    await c.play("cam-0")
    before = parse_rtp(next(p for ch, p in await c.read_frames(0.3) if ch == 0)).ssrc
    assert await c.wait_closed(1.0)
    probe = await rtsp_clients(port)
    assert (await probe.request("DESCRIBE", probe.url("cam-0"))).status == 404
    await asyncio.sleep(1.2)
    again = await rtsp_clients(port)
    await again.play("cam-0")
    frames = await again.read_frames(0.6)
    after = parse_rtp(next(p for ch, p in frames if ch == 0)).ssrc
    assert after != before
    assert access_units(frames)[0].keyframe


async def test_udp_loss_drops_about_that_share_of_packets(make_fleet, rtsp_clients) -> None:
    # filler data makes ~8 packets per frame, enough packets for a tight estimate
    fleet = await make_fleet(1, size=(640, 360), faults="loss:cam-0=25%,spike:cam-0=8x")
    loop = asyncio.get_running_loop()
    received: list[bytes] = []

    class Sink(asyncio.DatagramProtocol):
        def datagram_received(self, data: bytes, addr: object) -> None:
            received.append(data)

    socks = []
    for _ in range(50):
        a = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        a.bind(("127.0.0.1", 0))
        if a.getsockname()[1] % 2 == 0:
            b = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                b.bind(("127.0.0.1", a.getsockname()[1] + 1))
                socks = [a, b]
                break
            except OSError:
                b.close()
        a.close()
    a.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
    transport, _ = await loop.create_datagram_endpoint(Sink, sock=a)
    try:
        port = a.getsockname()[1]
        udp = await rtsp_clients(fleet.server.port)
        tcp = await rtsp_clients(fleet.server.port)
        await udp.play("cam-0", udp_ports=(port, port + 1))
        await tcp.play("cam-0")
        tcp_frames = await tcp.read_frames(2.0)
    finally:
        transport.close()
        socks[1].close()
    seqs = sorted({parse_rtp(p).seq for p in received})
    span = seqs[-1] - seqs[0] + 1
    lost = span - len(seqs)
    assert span > 300
    assert 0.18 < lost / span < 0.32
    assert fleet.cameras["cam-0"].feed.packets_lost >= lost
    # TCP clients of the same camera are untouched by UDP loss
    tcp_seqs = [parse_rtp(d).seq for ch, d in tcp_frames if ch == 0]
    assert all((b - a) % 65536 == 1 for a, b in zip(tcp_seqs, tcp_seqs[1:], strict=False))


async def test_corruption_and_spike_change_the_bitstream_but_not_the_sei(
        make_fleet, rtsp_clients) -> None:
    fleet = await make_fleet(3, replay=True, replay_templates=1,
                             faults="corrupt:cam-0=100%,spike:cam-1=3x")
    template = fleet.templates[0]
    slices = {n for f in template.frames for n in f.body}
    got = {}
    for cam in ("cam-0", "cam-1", "cam-2"):
        c = await rtsp_clients(fleet.server.port)
        await c.play(cam)
        got[cam] = c
    frames = await asyncio.gather(*(c.read_frames(1.2) for c in got.values()))
    aus = dict(zip(got, (access_units(f) for f in frames), strict=True))
    for cam, units in aus.items():
        assert len(units) >= 10
        truths = [find_ground_truth(au.nals) for au in units]
        assert all(t is not None and t.cam == cam for t in truths)  # SEI intact
    corrupted = [n for au in aus["cam-0"] for n in au.nals if n[0] & 0x1F in (1, 5)]
    assert corrupted and not any(n in slices for n in corrupted)
    clean = [n for au in aus["cam-2"] for n in au.nals if n[0] & 0x1F in (1, 5)]
    assert clean and all(n in slices for n in clean)
    for au in aus["cam-1"]:
        filler = [n for n in au.nals if n[0] & 0x1F == NAL_FILLER]
        rest = sum(len(n) for n in au.nals if n[0] & 0x1F != NAL_FILLER)
        assert len(filler) == 1 and len(filler[0]) == int(rest * 2.0)
        assert [n for n in au.nals if n[0] & 0x1F in (1, 5)][0] in slices


async def test_clock_skew_shifts_capture_time_and_sender_reports(make_fleet,
                                                                 rtsp_clients) -> None:
    fleet = await make_fleet(1, faults="skew:cam-0=+5s")
    c = await rtsp_clients(fleet.server.port)
    await c.play("cam-0")
    frames = await c.read_frames(0.8)
    now = time.time()
    aus = access_units(frames)
    truths = [find_ground_truth(au.nals) for au in aus]
    assert truths[-1] is not None and 4.5 < truths[-1].t / 1e6 - now < 5.1
    # the RTP media clock stays regular; the sender report carries the camera's (wrong) clock
    assert all((b.timestamp - a.timestamp) % 2**32 == (tb.t - ta.t) * 9 // 100
               for a, b, ta, tb in zip(aus, aus[1:], truths, truths[1:], strict=False)
               if ta and tb)
    sr = sender_reports(frames)[0].sender_info
    [truth] = [t for au, t in zip(aus, truths, strict=True) if au.timestamp == sr.rtp_timestamp]
    assert truth is not None and abs(unix_from_ntp(sr.ntp_timestamp) - truth.t / 1e6) < 1e-6


async def test_consent_churn_reaches_callbacks_http_and_metrics(make_fleet) -> None:
    posted: list[dict] = []

    async def receive(request: web.Request) -> web.Response:
        posted.append(await request.json())
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/consent", receive)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/consent"
    events: list[ConsentEvent] = []
    try:
        fleet = await make_fleet(2, faults="consent:cam-0@0.2s=toggle,consent:cam-1@0.3s=request,"
                                 "consent:cam-0@0.5s=toggle", consent_url=url,
                                 on_consent=[events.append])
        await asyncio.sleep(1.0)
    finally:
        await runner.cleanup()
    assert [(e.camera, e.previous, e.tier) for e in events] == [
        ("cam-0", "live", "none"), ("cam-1", "live", "request"), ("cam-0", "none", "live")]
    assert sorted((p["camera"], p["tier"]) for p in posted) == [
        ("cam-0", "live"), ("cam-0", "none"), ("cam-1", "request")]
    assert all(p["type"] == "consent" and p["household"] is None and p["t"] > 0 for p in posted)
    assert fleet.consent_events == {"none": 1, "request": 1, "live": 1}
    metrics = MetricsServer(fleet_registry(fleet), port=0)
    await metrics.start()
    try:
        async with aiohttp.ClientSession() as http, http.get(metrics.url) as resp:
            text = await resp.text()
    finally:
        await metrics.close()
    assert 'rtcc_sim_consent_events_total{tier="none"} 1.0' in text
    assert 'rtcc_sim_faults_injected_total{kind="consent"} 3.0' in text


async def test_every_repeats_and_random_times_follow_the_seed(make_fleet) -> None:
    fleet = await make_fleet(1, faults="disconnect:cam-0@every(0.4s)")
    await asyncio.sleep(1.45)
    assert fleet.faults is not None and fleet.faults.injected["disconnect"] == 3

    plans = pattern_plans([f"cam-{i}" for i in range(20)], width=64, height=64, fps=10)
    specs = parse_faults("reboot:*@rand(600s)+20s,stall:cam-1@rand(10s)+1s")
    host = Fleet(plans, FleetOptions(rtsp_port=0))
    try:
        ids = [p.camera_id for p in plans]
        one = FaultRunner(specs, ids, host, seed=1).first_times()
        same = FaultRunner(specs, ids, host, seed=1).first_times()
        other = FaultRunner(specs, ids, host, seed=2).first_times()
    finally:
        await host.close()
    assert [(t, c, s.index) for t, c, s in one] == [(t, c, s.index) for t, c, s in same]
    assert [t for t, _, _ in one] != [t for t, _, _ in other]
    reboots = [t for t, _, s in one if s.kind == "reboot"]
    assert len(reboots) == 20 and all(0 <= t < 600 for t in reboots)
    assert len({round(t, 6) for t in reboots}) == 20  # each camera draws its own time
    assert [c for _, c, s in one if s.kind == "stall"] == ["cam-1"]
