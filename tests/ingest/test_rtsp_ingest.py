"""RTSP ingest from rtcc's own simulated cameras (real RTSP server, real H.264) into Redis."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
import redis.asyncio as aredis

from rtcc import channels, keys
from rtcc.ingest.hub import HubConfig
from rtcc.ingest.sources import Source
from rtcc.media.encoder import decode_annexb
from rtcc.media.h264 import NAL_IDR, NAL_PPS, NAL_SPS, nal_type, split_annexb
from rtcc.registry.store import Registry
from rtcc.vocabulary import CameraState
from simulators.auth import Credentials as SimCredentials
from tests.ingest.conftest import FleetFactory, H, HubFactory, W, register, wait_for


async def _delivered(redis: aredis.Redis, cam: str, n: int) -> bool:
    return await redis.xlen(keys.video(cam)) >= n


@pytest.mark.parametrize("transport", ["tcp", "udp"])
async def test_frames_reach_the_channel_with_metadata(
    transport: str, redis: aredis.Redis, registry: Registry, make_hub: HubFactory,
    make_fleet: FleetFactory,
) -> None:
    cams = ["cam-a", "cam-b"]
    await register(registry, cams)
    fleet = await make_fleet(cams)
    hub = await make_hub()
    for cam in cams:
        hub.add_source(Source(cam, url=fleet.rtsp_url(cam), transport=transport))
    for cam in cams:
        await wait_for(lambda cam=cam: _delivered(redis, cam, 15),  # type: ignore[misc]
                       what=f"15 frames of {cam}")

    for cam in cams:
        # What `redis-cli XREVRANGE rtcc:{cam}:video + - COUNT 15` shows, field by field.
        raw: Any = await redis.xrevrange(keys.video(cam), count=15)
        assert len(raw) == 15
        seqs = []
        for _entry_id, fields in raw:
            assert set(fields) == {b"au", b"seq", b"t", b"ta", b"key", b"meta"}
            meta = json.loads(fields[b"meta"])
            assert meta["cam"] == cam
            assert int(fields[b"seq"]) == meta["seq"]
            assert int(fields[b"t"]) == meta["t"]
            t, ta = int(fields[b"t"]), int(fields[b"ta"])
            # Loopback: arrival a few ms after capture, never before it.
            assert 0 <= ta - t < 500_000
            assert meta["subjects"][0]["role"] == "passer_by"  # the replayed template's subject
            nals = split_annexb(fields[b"au"])
            assert fields[b"au"].startswith(b"\x00\x00\x00\x01")
            is_key = any(nal_type(n) == NAL_IDR for n in nals)
            assert fields[b"key"] == (b"1" if is_key else b"0")
            if is_key:
                kinds = [nal_type(n) for n in nals]
                assert kinds.index(NAL_SPS) < kinds.index(NAL_IDR)
                assert kinds.index(NAL_PPS) < kinds.index(NAL_IDR)
            seqs.append(meta["seq"])
        # Newest first, consecutive: no frame lost on loopback.
        assert seqs == list(range(seqs[0], seqs[0] - 15, -1))

        # The fast-start GOP decodes on its own, picture for picture.
        gop = await channels.read_gop(redis, cam)
        assert gop and gop[0].frame.key
        pictures = decode_annexb(b"".join(e.frame.au for e in gop))
        assert len(pictures) == len(gop)
        assert pictures[0].shape[:2] in ((H, W), (H * 3 // 2, W))

        state = await channels.read_state(redis, cam)
        assert state is not None and state.state == "live"
        assert state.source == fleet.rtsp_url(cam)
    assert await channels.live_cameras(redis) == set(cams)
    assert hub.metrics.dropped_total() == 0

    # The analyzer's metadata stream got one entry per delivered frame, without video.
    meta_rows: Any = await redis.xrange(keys.FRAME_META, count=5)
    assert meta_rows and b"au" not in meta_rows[0][1]
    assert meta_rows[0][1][b"cam"] in {c.encode() for c in cams}


async def test_digest_authentication(
    redis: aredis.Redis, registry: Registry, make_hub: HubFactory, make_fleet: FleetFactory,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    await register(registry, ["cam-auth", "cam-wrong"])
    fleet = await make_fleet(["cam-auth", "cam-wrong"],
                             credentials=SimCredentials("viewer", "s3cret:pw"))
    hub = await make_hub()
    base = fleet.rtsp_url("cam-auth").removeprefix("rtsp://")
    good = f"rtsp://viewer:s3cret%3Apw@{base}"
    bad = f"rtsp://viewer:nope@{fleet.rtsp_url('cam-wrong').removeprefix('rtsp://')}"
    hub.add_source(Source("cam-auth", url=good))
    hub.add_source(Source("cam-wrong", url=bad))
    await wait_for(lambda: _delivered(redis, "cam-auth", 5), what="authenticated frames")
    worker = hub.workers["cam-wrong"]
    await wait_for(lambda: worker.status.state == CameraState.FAILED, what="cam-wrong failed")
    assert "credentials rejected" in worker.status.reason
    assert "nope" not in worker.status.reason and "nope" not in str(hub.cameras())
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "credentials rejected" in logged
    assert "nope" not in logged and "s3cret" not in logged  # never a password in a log line
    assert await redis.xlen(keys.video("cam-wrong")) == 0


async def test_gop_is_trimmed_to_the_live_window(
    redis: aredis.Redis, registry: Registry, make_hub: HubFactory, make_fleet: FleetFactory,
    cache: object,
) -> None:
    from rtcc.ingest.hub import Hub
    from rtcc.ingest.metrics import HubMetrics
    from rtcc.metrics import new_registry

    await register(registry, ["cam-w"])
    fleet = await make_fleet(["cam-w"])
    # A one-second window: nothing older than ~1 s may stay in the channel.
    hub = Hub(redis, cache, HubMetrics(new_registry()), HubConfig(), live_window=1.0)  # type: ignore[arg-type]
    async with hub:
        hub.add_source(Source("cam-w", url=fleet.rtsp_url("cam-w")))
        await wait_for(lambda: _delivered(redis, "cam-w", 5), what="frames")
        await wait_for(lambda: hub.workers["cam-w"].sink.delivered >= 30, timeout=15,
                       what="3 s of frames")
        first: Any = await redis.xrange(keys.video("cam-w"), count=1)
        last: Any = await redis.xrevrange(keys.video("cam-w"), count=1)
        oldest, newest = first[0], last[0]
        span_ms = int(newest[0].split(b"-")[0]) - int(oldest[0].split(b"-")[0])
        # MINID ~ trims whole radix nodes, so allow some slack over the window, not 3 s.
        assert span_ms < 2000
        assert await redis.pttl(keys.gop("cam-w")) <= 1000


@pytest.mark.slow
async def test_keep_alives_hold_a_short_session(
    registry: Registry, make_hub: HubFactory, make_fleet: FleetFactory,
) -> None:
    # The simulator reaps sessions idle for 2 s (Session: ...;timeout=2): without keep-alives
    # (GET_PARAMETER every timeout/2) the stream would stop and the camera reconnect.
    await register(registry, ["cam-k"])
    fleet = await make_fleet(["cam-k"], session_timeout=2.0)
    hub = await make_hub()
    hub.add_source(Source("cam-k", url=fleet.rtsp_url("cam-k")))
    worker = hub.workers["cam-k"]
    await wait_for(lambda: worker.sink.delivered >= 1, what="first frame")
    await wait_for(lambda: worker.sink.delivered >= 50, timeout=10, what="5 s of frames")
    assert worker.status.reconnects == 0 and worker.status.state == CameraState.LIVE
    assert fleet.server.sessions_reaped == 0


@pytest.mark.parametrize("transport", ["tcp", "udp"])
async def test_hub_sends_rtcp_receiver_reports_the_camera_reads(
    transport: str, registry: Registry, make_hub: HubFactory, make_fleet: FleetFactory,
) -> None:
    import dataclasses

    await register(registry, ["cam-rr"])
    fleet = await make_fleet(["cam-rr"])
    config = HubConfig()
    hub = await make_hub(dataclasses.replace(
        config, rtsp=dataclasses.replace(config.rtsp, rtcp_interval=0.3)))
    hub.add_source(Source("cam-rr", url=fleet.rtsp_url("cam-rr"), transport=transport))

    def session() -> Any:
        return next(iter(fleet.server.sessions.values()), None)

    await wait_for(lambda: session() is not None and session().receiver_reports >= 3,
                   what="three receiver reports at the camera")
    report = session().reported
    stream = fleet.feed("cam-rr").stream
    # About the camera's own stream: its SSRC, nothing lost on loopback, the highest sequence
    # number one the camera has already sent, and its last sender report echoed.
    assert report is not None and report.ssrc == stream.ssrc
    assert report.packets_lost == 0 and report.fraction_lost == 0
    behind = (stream.next_seq - 1 - report.highest_sequence) & 0xFFFF
    assert behind < 2000  # sent within the last few report intervals
    assert report.lsr != 0
    # ... and the simulator's /metrics shows what its clients report.
    from prometheus_client import generate_latest

    from simulators.metrics import fleet_registry

    text = generate_latest(fleet_registry(fleet)).decode()
    assert 'rtcc_sim_client_reported_loss_ratio{camera="cam-rr"} 0.0' in text
    count = next(float(line.split()[1]) for line in text.splitlines()
                 if line.startswith("rtcc_sim_rtcp_receiver_reports_total"))
    assert count >= 3
    assert report.jitter < 90_000  # under a second of jitter, in 90 kHz units, on loopback
