"""The WHIP publisher against a WHIP endpoint written here with aiohttp + aiortc (RFC 9725).

The endpoint answers offers with 201 + answer + Location, honours DELETE, optionally demands a
Bearer token or fails its first POSTs, and decodes and counts the frames it receives.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from aiohttp import web
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError

from rtcc.ice import candidates_restricted, restrict_host_candidates
from simulators.feed import CameraFeed
from simulators.whip_publisher import WhipPublisher
from tests.sim.conftest import SMALL, read_barcode


@dataclass
class Resource:
    camera: str
    pc: RTCPeerConnection
    frames: list[tuple[int, int, int]] = field(default_factory=list)
    """(width, height, barcode) of each decoded frame."""


class WhipEndpoint:
    def __init__(self, *, token: str | None = None, fail_first: int = 0) -> None:
        self.token = token
        self.fail_first = fail_first
        self.posts: list[float] = []
        self.posted = asyncio.Event()
        self.deletes: list[str] = []
        self.resources: dict[str, Resource] = {}
        self.offers: list[str] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._runner: web.AppRunner | None = None
        self.port = 0

    def frames(self, camera: str) -> list[tuple[int, int, int]]:
        return [f for r in self.resources.values() if r.camera == camera for f in r.frames]

    async def _post(self, request: web.Request) -> web.Response:
        self.posts.append(time.monotonic())
        self.posted.set()
        if self.token and request.headers.get("Authorization") != f"Bearer {self.token}":
            return web.Response(status=401, text="bad token")
        if len(self.posts) <= self.fail_first:
            return web.Response(status=503, text="busy")
        if request.content_type != "application/sdp":
            return web.Response(status=415)
        offer = await request.text()
        self.offers.append(offer)
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        rid = uuid.uuid4().hex
        resource = Resource(request.match_info["camera"], pc)
        self.resources[rid] = resource

        @pc.on("track")
        def on_track(track) -> None:  # type: ignore[no-untyped-def]
            async def read() -> None:
                with contextlib.suppress(MediaStreamError):
                    while True:
                        frame = await track.recv()
                        gray = frame.to_ndarray(format="gray")
                        resource.frames.append((frame.width, frame.height, read_barcode(gray)))

            task = asyncio.create_task(read())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

        await pc.setRemoteDescription(RTCSessionDescription(offer, "offer"))
        await pc.setLocalDescription(await pc.createAnswer())
        return web.Response(status=201, text=pc.localDescription.sdp,
                            content_type="application/sdp",
                            headers={"Location": f"/whip/resource/{rid}"})

    async def _delete(self, request: web.Request) -> web.Response:
        rid = request.match_info["rid"]
        resource = self.resources.get(rid)
        if resource is None:
            return web.Response(status=404)
        self.deletes.append(rid)
        await resource.pc.close()
        return web.Response(status=200)

    async def start(self, port: int = 0) -> None:
        restrict_host_candidates()
        app = web.Application()
        app.router.add_post("/whip/{camera}", self._post)
        app.router.add_delete("/whip/resource/{rid}", self._delete)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", port).start()
        self.port = self._runner.addresses[0][1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/whip/{{camera}}"

    async def close(self) -> None:
        for resource in self.resources.values():
            await resource.pc.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._runner is not None:
            await self._runner.cleanup()


@pytest.fixture
async def endpoints() -> AsyncIterator[list[WhipEndpoint]]:
    made: list[WhipEndpoint] = []
    yield made
    for endpoint in made:
        await endpoint.close()


async def _until(predicate, within: float) -> None:  # type: ignore[no-untyped-def]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not predicate():
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


def test_ice_is_restricted_to_loopback() -> None:
    import aioice.ice

    restrict_host_candidates()
    assert candidates_restricted()
    assert aioice.ice.get_host_addresses(use_ipv4=True, use_ipv6=True) == ["127.0.0.1"]


async def test_publishes_passthrough_h264_and_deletes_on_stop(endpoints, make_fleet) -> None:
    endpoint = WhipEndpoint(token="t0k")
    endpoints.append(endpoint)
    await endpoint.start()
    fleet = await make_fleet(2, whip_url=endpoint.url, whip_token="t0k")
    await _until(lambda: len(endpoint.frames("cam-0")) >= 15
                 and len(endpoint.frames("cam-1")) >= 15, 8.0)
    for cam in ("cam-0", "cam-1"):
        frames = endpoint.frames(cam)
        assert all((w, h) == SMALL for w, h, _ in frames)
        codes = [code for _, _, code in frames]
        # consecutive camera frames (the odd frame may be lost in the first jitter window)
        assert sum(1 for a, b in zip(codes, codes[1:], strict=False) if b == a + 1) \
            >= len(codes) - 3
    # the offer carries H.264 only, constrained baseline first, and loopback candidates only
    offer = endpoint.offers[0]
    assert "H264/90000" in offer and "VP8" not in offer
    candidates = [line for line in offer.splitlines() if line.startswith("a=candidate")]
    assert candidates and all(" 127.0.0.1 " in line for line in candidates)
    publisher = fleet.cameras["cam-0"].publisher
    assert publisher is not None and publisher.state == "connected"
    assert publisher.connects == 1 and publisher.failures == 0
    await fleet.close()
    assert len(endpoint.deletes) == 2
    assert all(r.pc.connectionState == "closed" for r in endpoint.resources.values())


async def test_backoff_is_exponential_and_jittered_until_the_endpoint_accepts(endpoints) -> None:
    from simulators.pattern import PatternCamera

    endpoint = WhipEndpoint(fail_first=4)
    endpoints.append(endpoint)
    await endpoint.start()
    cam = PatternCamera("cam-x", width=SMALL[0], height=SMALL[1])
    feed = CameraFeed("cam-x", cam.sps, cam.pps, fps=10, width=SMALL[0], height=SMALL[1])
    publisher = WhipPublisher(endpoint.url.replace("{camera}", "cam-x"), feed,
                              backoff_first=0.2, backoff_max=5.0)
    publisher.start()
    try:
        async with asyncio.timeout(10):
            await publisher.wait_state("connecting")
            while len(endpoint.posts) < 5:
                endpoint.posted.clear()
                await endpoint.posted.wait()
        gaps = [b - a for a, b in zip(endpoint.posts, endpoint.posts[1:], strict=False)]
        for n, gap in enumerate(gaps):
            ceiling = 0.2 * 2 ** n
            # each wait is drawn from [d/2, d]; building an offer adds a little on top
            assert ceiling / 2 <= gap <= ceiling + 0.4, (n, gap)
        assert publisher.failures == 4
    finally:
        await publisher.stop()
        cam.close()


async def test_gives_up_after_max_attempts_when_nothing_listens() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: nothing listens there
    feed = CameraFeed("c", b"\x67", b"\x68", fps=10, width=16, height=16)
    publisher = WhipPublisher(f"http://127.0.0.1:{port}/whip/c", feed, max_attempts=3,
                              backoff_first=0.01)
    publisher.start()
    async with asyncio.timeout(5):
        await publisher.wait_state("failed")
    assert publisher.failures == 3
    await publisher.stop()


async def test_a_rebooting_camera_republishes(endpoints, make_fleet) -> None:
    endpoint = WhipEndpoint()
    endpoints.append(endpoint)
    await endpoint.start()
    fleet = await make_fleet(1, whip_url=endpoint.url, faults="reboot:cam-0@1.2s+0.5s")
    publisher = fleet.cameras["cam-0"].publisher
    assert publisher is not None
    await _until(lambda: publisher.connects == 2, 8.0)
    first, second = list(endpoint.resources.values())
    count = len(second.frames)
    await _until(lambda: len(second.frames) >= count + 5, 4.0)
    assert len(first.frames) >= 5
    assert endpoint.deletes == []  # a reboot drops the connection; it does not say goodbye
