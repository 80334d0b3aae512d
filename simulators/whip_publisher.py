"""WHIP publisher (RFC 9725): push a camera's already-encoded H.264 to a WebRTC ingest endpoint.

The publisher is a sink of the camera's :class:`~simulators.feed.CameraFeed`: each access unit
becomes an ``av.Packet`` of Annex-B bytes (SPS/PPS in-band before every IDR, the ground-truth SEI
kept), with pts on the 90 kHz clock, which aiortc's H.264 sender packetizes as it is; nothing is
decoded or re-encoded. The track starts at a keyframe (it asks the feed for one) and, like the RTSP
sessions, drops to the next keyframe when its bounded queue is full.

Protocol: POST the SDP offer (``Content-Type: application/sdp``, optional ``Authorization: Bearer``)
-> ``201 Created`` with the answer and a ``Location``; DELETE that location to stop. When the
endpoint is down, refuses, or the peer connection fails later, the publisher retries with
jittered exponential backoff (0.5 s doubling to 30 s, each wait drawn from [d/2, d]), resetting
after 30 s of stable connection; only the first failure of a streak is logged as a warning.

ICE stays on loopback (:mod:`rtcc.ice`) and no STUN server is configured.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from fractions import Fraction
from urllib.parse import urljoin

import aiohttp
import av
from aiortc import (
    MediaStreamTrack,
    RTCConfiguration,
    RTCPeerConnection,
    RTCRtpSender,
    RTCSessionDescription,
)

from rtcc.errors import ProtocolError
from rtcc.ice import restrict_host_candidates
from rtcc.logs import redact_url
from rtcc.media.h264 import join_annexb
from simulators.feed import CameraFeed

log = logging.getLogger(__name__)

TIME_BASE = Fraction(1, 90_000)
QUEUE_FRAMES = 30
BACKOFF_FIRST = 0.5
BACKOFF_MAX = 30.0
STABLE_AFTER = 30.0
CONNECT_TIMEOUT = 10.0
STOP_TIMEOUT = 5.0


class PassthroughTrack(MediaStreamTrack):
    """A video track whose ``recv()`` yields pre-encoded H.264 packets from a feed."""

    kind = "video"

    def __init__(self, feed: CameraFeed, max_frames: int = QUEUE_FRAMES) -> None:
        super().__init__()
        self.feed = feed
        self._queue: asyncio.Queue[av.Packet] = asyncio.Queue(max_frames)
        self._waiting_keyframe = True
        self._first_tick: int | None = None
        self.frames_queued = 0
        self.frames_dropped = 0
        self.bytes_queued = 0

    def push(self, nals: tuple[bytes, ...], *, keyframe: bool, tick_us: int) -> None:
        """FrameSink hook, called on the loop by the feed for every frame."""
        if self.readyState != "live":
            return
        if self._waiting_keyframe and not keyframe:
            self.frames_dropped += 1
            return
        if self._queue.full():
            self.frames_dropped += 1
            self._waiting_keyframe = True
            self.feed.request_keyframe()
            return
        self._waiting_keyframe = False
        if self._first_tick is None:
            self._first_tick = tick_us
        data = join_annexb(nals)
        packet = av.Packet(data)
        packet.pts = packet.dts = (tick_us - self._first_tick) * 9 // 100
        packet.time_base = TIME_BASE
        self._queue.put_nowait(packet)
        self.frames_queued += 1
        self.bytes_queued += len(data)

    async def recv(self) -> av.Packet:  # type: ignore[override]
        return await self._queue.get()


class WhipPublisher:
    """Keeps one camera published to one WHIP endpoint (see module docstring)."""

    def __init__(
        self,
        url: str,
        feed: CameraFeed,
        *,
        token: str | None = None,
        session: aiohttp.ClientSession | None = None,
        rng: random.Random | None = None,
        max_attempts: int | None = None,
        backoff_first: float = BACKOFF_FIRST,
        backoff_max: float = BACKOFF_MAX,
    ) -> None:
        restrict_host_candidates()
        self.url = url
        self.feed = feed
        self._token = token
        self._session = session
        self._own_session = session is None
        self._rng = rng or random.Random()
        self.max_attempts = max_attempts
        """Give up after this many failed attempts in a row (None: never; tests use it)."""
        self.backoff_first = backoff_first
        self.backoff_max = backoff_max
        self._state = "idle"
        self._state_changed = asyncio.Event()
        self.connects = 0
        self.failures = 0
        self.resource: str | None = None
        self.track: PassthroughTrack | None = None
        self.frames_sent = 0
        self.bytes_sent = 0
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._wake = asyncio.Event()
        self._resume = asyncio.Event()
        self._resume.set()

    @property
    def camera_id(self) -> str:
        return self.feed.camera_id

    # --- control ------------------------------------------------------------------------

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"whip-{self.camera_id}")

    async def stop(self) -> None:
        """Stop publishing (DELETE the resource); idempotent.

        Cooperative first: the loop finishes its current step (an ICE gathering cancelled
        half-way would leak aioice's sockets), then DELETEs and closes; it is cancelled only
        if it does not end within a few seconds."""
        task, self._task = self._task, None
        self._stopping = True
        self._wake.set()
        self._resume.set()
        if task is not None:
            done, _ = await asyncio.wait({task}, timeout=STOP_TIMEOUT)
            if not done:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if self._own_session and self._session is not None:
            await self._session.close()
            self._session = None
        self.state = "stopped"

    def interrupt(self, *, resume: bool) -> None:
        """Drop the connection abruptly (no DELETE), as a camera losing power or link does.
        With ``resume=False`` it stays down until :meth:`resume`."""
        if not resume:
            self._resume.clear()
        self._wake.set()

    def resume(self) -> None:
        self._resume.set()

    @property
    def state(self) -> str:
        """idle, connecting, connected, backing_off, failed or stopped."""
        return self._state

    @state.setter
    def state(self, value: str) -> None:
        self._state = value
        changed, self._state_changed = self._state_changed, asyncio.Event()
        changed.set()

    async def wait_state(self, state: str) -> None:
        """Return once the publisher is in ``state`` (wrap in ``asyncio.timeout``)."""
        while self._state != state:
            await self._state_changed.wait()

    # --- the loop -----------------------------------------------------------------------

    async def _run(self) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        attempt = 0
        while not self._stopping:
            await self._resume.wait()
            if self._stopping:
                return
            self._wake.clear()
            started = time.monotonic()
            graceful = False
            try:
                graceful = await self._publish_once()
            except (ProtocolError, aiohttp.ClientError, OSError, TimeoutError) as err:
                self.failures += 1
                attempt += 1
                level = logging.WARNING if attempt == 1 else logging.DEBUG
                log.log(level, "%s: WHIP to %s failed (attempt %d): %s", self.camera_id,
                        redact_url(self.url), attempt, err)
            if graceful or time.monotonic() - started >= STABLE_AFTER:
                attempt = 0
            if self.max_attempts is not None and attempt >= self.max_attempts:
                self.state = "failed"
                return
            if attempt and not self._stopping:
                self.state = "backing_off"
                delay = min(self.backoff_max, self.backoff_first * 2 ** (attempt - 1))
                # an interrupt or stop() cuts the wait short
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(),
                                           self._rng.uniform(delay / 2, delay))

    async def _publish_once(self) -> bool:
        """One connection, until it fails or is interrupted; True when interrupted on purpose."""
        assert self._session is not None
        self.state = "connecting"
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        track = PassthroughTrack(self.feed)
        connected = asyncio.Event()
        failed = asyncio.Event()

        @pc.on("connectionstatechange")
        def _state() -> None:
            if pc.connectionState == "connected":
                connected.set()
            elif pc.connectionState in ("failed", "closed"):
                failed.set()

        self.resource = None
        try:
            transceiver = pc.addTransceiver(track, direction="sendonly")
            h264 = [c for c in RTCRtpSender.getCapabilities("video").codecs
                    if c.mimeType.lower() == "video/h264"]
            h264.sort(key=lambda c: c.parameters.get("profile-level-id") != "42e01f")
            transceiver.setCodecPreferences(h264)
            await pc.setLocalDescription(await pc.createOffer())
            if self._stopping:
                return True
            answer = await self._post_offer(pc.localDescription.sdp)
            await pc.setRemoteDescription(RTCSessionDescription(answer, "answer"))
            self.track = track
            self.feed.add_sink(track)
            self.feed.request_keyframe()
            try:
                await asyncio.wait_for(self._first_of(connected, failed, self._wake),
                                       CONNECT_TIMEOUT)
            except TimeoutError:
                raise ProtocolError("ICE/DTLS did not connect in time") from None
            if self._wake.is_set():
                return True
            if failed.is_set():
                raise ProtocolError(f"peer connection {pc.connectionState}")
            self.state = "connected"
            self.connects += 1
            log.info("%s: publishing to %s", self.camera_id, redact_url(self.url))
            await self._first_of(failed, self._wake)
            if failed.is_set() and not self._wake.is_set():
                raise ProtocolError(f"peer connection {pc.connectionState}")
            return True
        finally:
            self.feed.remove_sink(track)
            self.frames_sent += track.frames_queued
            self.bytes_sent += track.bytes_queued
            self.track = None
            track.stop()
            # an interrupt (reboot, link loss) vanishes without a word; stop() says goodbye
            interrupted = self._wake.is_set() and not self._stopping
            if self.resource is not None and not interrupted:
                await self._delete()
            await pc.close()

    @staticmethod
    async def _first_of(*events: asyncio.Event) -> None:
        waiters = [asyncio.create_task(e.wait()) for e in events]
        try:
            await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waiters:
                w.cancel()

    def _headers(self, content_type: bool) -> dict[str, str]:
        headers = {"Content-Type": "application/sdp"} if content_type else {}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        return headers

    async def _post_offer(self, offer: str) -> str:
        assert self._session is not None
        async with self._session.post(self.url, data=offer.encode(), headers=self._headers(True),
                                      timeout=aiohttp.ClientTimeout(total=10)) as resp:
            body = await resp.text()
            if resp.status != 201:
                raise ProtocolError(f"WHIP POST answered {resp.status} {resp.reason}: "
                                    f"{body[:200]!r}")
            ctype = resp.headers.get("Content-Type", "").split(";")[0].strip().lower()
            if ctype != "application/sdp":
                raise ProtocolError(f"WHIP answer has Content-Type {ctype!r}, not application/sdp")
            location = resp.headers.get("Location")
            if not location:
                raise ProtocolError("WHIP 201 without a Location header")
            self.resource = urljoin(str(resp.url), location)
            return body

    async def _delete(self) -> None:
        assert self._session is not None and self.resource is not None
        try:
            async with self._session.delete(self.resource, headers=self._headers(False),
                                            timeout=aiohttp.ClientTimeout(total=2)) as resp:
                if resp.status >= 300:
                    log.info("%s: WHIP DELETE answered %d", self.camera_id, resp.status)
        except (aiohttp.ClientError, TimeoutError) as err:
            log.info("%s: WHIP DELETE failed: %s", self.camera_id, err)
        finally:
            self.resource = None
