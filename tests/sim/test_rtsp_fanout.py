"""Several clients per camera: one encode fanned out, and slow clients that never stall others."""

from __future__ import annotations

import asyncio

from rtcc.media.encoder import decode_annexb
from rtcc.media.h264 import join_annexb
from rtcc.media.rtp import parse_rtp
from tests.sim.conftest import access_units


async def test_one_encode_fans_out_identical_packets(make_fleet, rtsp_clients) -> None:
    fleet = await make_fleet(1)
    cam = fleet.cameras["cam-0"]
    clients = [await rtsp_clients(fleet.server.port) for _ in range(3)]
    for i, c in enumerate(clients):
        # different interleaved channels must not matter
        await c.play("cam-0", channels=(2 * i, 2 * i + 1))
    assert fleet.server.clients("cam-0") == {"tcp": 3, "udp": 0}
    received = await asyncio.gather(*(c.read_frames(1.5) for c in clients))
    by_client = []
    for i, frames in enumerate(received):
        packets = {}
        for ch, data in frames:
            if ch == 2 * i:
                rtp = parse_rtp(data)
                packets[rtp.seq] = (rtp.timestamp, rtp.ssrc, rtp.payload)
        by_client.append(packets)
        assert all(au.complete for au in access_units(frames, channel=2 * i))
    common = set(by_client[0]) & set(by_client[1]) & set(by_client[2])
    assert len(common) > 30
    for seq in common:
        assert by_client[0][seq] == by_client[1][seq] == by_client[2][seq]
    # one capture per frame, whatever the number of clients
    source = cam.source
    assert abs(source.seq - cam.feed.frames_published) <= 1  # one capture may be in flight
    assert cam.feed.frames_sent["tcp"] >= 3 * (cam.feed.frames_published - 12)


async def test_slow_client_drops_to_keyframe_and_never_stalls_the_others(
        make_fleet, rtsp_clients) -> None:
    # Filler data makes ~120 KB/s, so the slow client's buffers (64 KB queue, 16 KB kernel)
    # overflow within a second, while the largest keyframe (~70 KB) still fits the queue of a
    # client that reads.
    fleet = await make_fleet(1, size=(640, 360), faults="spike:cam-0=8x")
    server = fleet.server
    server.write_buffer = 64 * 1024
    server.socket_send_buffer = 8 * 1024
    server.write_timeout = 30.0
    feed = fleet.cameras["cam-0"].feed
    fast = await rtsp_clients(server.port)
    slow = await rtsp_clients(server.port, rcvbuf=4096)
    await fast.play("cam-0")
    await slow.play("cam-0")
    slow_session = server.sessions[slow.session]

    fast_frames, _ = await asyncio.gather(fast.read_frames(2.0), asyncio.sleep(2.0))
    assert slow_session.frames_dropped > 0 and feed.frames_dropped >= slow_session.frames_dropped
    fast_aus = access_units(fast_frames)
    seqs = [parse_rtp(d).seq for ch, d in fast_frames if ch == 0]
    assert all((b - a) % 65536 == 1 for a, b in zip(seqs, seqs[1:], strict=False)), \
        "the fast client must not lose a packet"
    assert len(fast_aus) >= 18 and all(au.complete for au in fast_aus)

    # The slow client reads again: after the backlog it gets whole frames, resuming at an IDR.
    resumed = await slow.read_frames(2.0)
    packets = [parse_rtp(d) for ch, d in resumed if ch == 0]
    gaps = [i for i in range(1, len(packets))
            if (packets[i].seq - packets[i - 1].seq) % 65536 != 1]
    assert gaps, "frames were dropped, so the sequence numbers must jump"
    aus = access_units(resumed)
    start = next(i for i, au in enumerate(aus) if au.seq_first == packets[gaps[0]].seq)
    # (the depacketizer flags the access unit right after a gap as suspect; it is whole:)
    assert aus[start].keyframe
    tail = aus[start:]
    assert len(tail) >= 10 and all(au.complete for au in tail[1:])
    decoded = decode_annexb(b"".join(join_annexb(au.nals) for au in tail))
    assert len(decoded) == len(tail)


async def test_a_client_that_never_reads_is_cut_off(make_fleet, rtsp_clients) -> None:
    fleet = await make_fleet(1, size=(640, 360), faults="spike:cam-0=8x")
    server = fleet.server
    server.write_buffer = 64 * 1024
    server.socket_send_buffer = 8 * 1024
    server.write_timeout = 0.5
    stuck = await rtsp_clients(server.port, rcvbuf=4096)
    fine = await rtsp_clients(server.port)
    await stuck.play("cam-0")
    await fine.play("cam-0")
    frames, _ = await asyncio.gather(fine.read_frames(2.5), asyncio.sleep(2.5))
    assert server.slow_clients_closed == 1
    assert stuck.session not in server.sessions
    assert fine.session in server.sessions
    assert len(access_units(frames)) >= 23
