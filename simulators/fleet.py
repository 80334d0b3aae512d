"""The camera fleet: N cameras on one event loop, served over RTSP and optionally pushed by WHIP.

Per camera a frame clock ticks at the frame rate; the cameras' phases are staggered evenly over
the frame interval, and ticks are grouped into 5 ms slots so that 1,000 cameras cost 200 timer
wake-ups a second rather than 10,000. On a tick a live camera captures (render + encode) in a
thread pool sized to the cores and hands the frame back to the loop; a replay camera builds its
frame on the loop at once (it is cheap). The frame goes to the camera's
:class:`~simulators.feed.CameraFeed`, which fans it out to RTSP sessions and WHIP publishers.
A live camera whose previous capture has not finished skips the tick (counted as an overrun);
if the whole loop falls more than a frame behind, the clock skips ahead rather than bursting.

The fleet is also the :class:`~simulators.faults.FaultHost`: stalls, reboots, disconnects, clock
skew and consent churn act here. Consent events are logged, counted, passed to in-process
subscribers and, with ``consent_url``, POSTed as JSON (fire and forget, 2 s timeout).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import os
import random
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial

import aiohttp

from simulators.auth import Credentials
from simulators.fault_spec import FaultSpec
from simulators.faults import ConsentEvent, FaultRunner
from simulators.feed import CameraFeed, OutFrame
from simulators.replay import ReplayCamera, Template, record_template
from simulators.rtsp_server import DEFAULT_PORT, SESSION_TIMEOUT, RtspServer
from simulators.source import FrameSource
from simulators.template_cache import TemplateCache
from simulators.whip_publisher import WhipPublisher

log = logging.getLogger(__name__)

SLOT_SECONDS = 0.005
#: How far the frame clock may fall behind (the process got no CPU for a while) before it gives
#: up on the missed frames: up to this lag every camera still sends every frame, late, the way a
#: real camera drains its send buffer; beyond it the missed cycles are skipped and counted.
MAX_CATCH_UP_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class CameraPlan:
    """One camera to run: how to make its source, and who owns it."""

    camera_id: str
    make_source: Callable[[], FrameSource]
    """Blocking (an encoder opens, a background renders): called in the thread pool."""
    household: str | None = None
    consent: str = "live"
    credentials: Credentials | None = None


@dataclass(frozen=True, slots=True)
class FleetOptions:
    fps: float = 10.0
    width: int = 640
    height: int = 360
    replay: bool = False
    replay_seconds: float = 2.0
    replay_warmup_seconds: float = 0.0
    """Frames encoded and thrown away before a template is recorded (rate control settles)."""
    replay_templates: int = 4
    rtsp_host: str = "127.0.0.1"
    rtsp_port: int = DEFAULT_PORT
    session_timeout: float = SESSION_TIMEOUT
    workers: int | None = None
    """Capture threads; default: one per core."""
    seed: int | None = None
    whip_url: str | None = None
    """WHIP endpoint; ``{camera}`` is replaced by the id, else ``/<id>`` is appended."""
    whip_token: str | None = field(default=None, repr=False)
    consent_url: str | None = None
    recordings: tuple[Template, ...] = ()
    """Replay these (a user's files, ``--replay-file``: :mod:`simulators.replay_file`) instead
    of recording templates; ``fps`` must be theirs."""
    template_cache: TemplateCache | None = None
    """Where recorded templates are kept between runs (``--template-cache``)."""


class CameraRuntime:
    """A running camera: its source, its feed and its fault state."""

    __slots__ = ("plan", "source", "replay", "feed", "phase_us", "busy", "stalled", "down",
                 "skew_us", "consent", "overruns", "errors", "publisher")

    def __init__(self, plan: CameraPlan, source: FrameSource | ReplayCamera, feed: CameraFeed,
                 phase_us: int) -> None:
        self.plan = plan
        self.source = source
        self.replay = source if isinstance(source, ReplayCamera) else None
        self.feed = feed
        self.phase_us = phase_us
        self.busy = False
        self.stalled = False
        self.down = False
        self.skew_us = 0
        self.consent = plan.consent
        self.overruns = 0
        self.errors = 0
        self.publisher: WhipPublisher | None = None


def whip_url_for(template: str, camera_id: str) -> str:
    if "{camera}" in template:
        return template.replace("{camera}", camera_id)
    return template.rstrip("/") + "/" + camera_id


class Fleet:
    """See module docstring. ``async with Fleet(plans, options) as fleet: ...``."""

    def __init__(self, plans: Sequence[CameraPlan], options: FleetOptions, *,
                 faults: Sequence[FaultSpec] = (),
                 on_consent: Sequence[Callable[[ConsentEvent], None]] = ()) -> None:
        ids = [p.camera_id for p in plans]
        if len(set(ids)) != len(ids):
            dup = next(i for i in ids if ids.count(i) > 1)
            raise ValueError(f"camera {dup!r} appears twice")
        self.plans = list(plans)
        self.options = options
        self.fault_specs = list(faults)
        self.on_consent = list(on_consent)
        self.cameras: dict[str, CameraRuntime] = {}
        self.templates: list[Template] = []
        self.server = RtspServer(host=options.rtsp_host, port=options.rtsp_port,
                                 session_timeout=options.session_timeout)
        self.faults: FaultRunner | None = None
        self.consent_events: Counter[str] = Counter()
        self.consent_posts_failed = 0
        self.cycles_skipped = 0
        self.templates_cached = 0
        self._rng = random.Random(options.seed)
        self._pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=options.workers or os.cpu_count() or 1, thread_name_prefix="capture")
        self._clock_task: asyncio.Task[None] | None = None
        self._http: aiohttp.ClientSession | None = None
        self._background: set[asyncio.Task[None]] = set()
        self._closed = False

    # --- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        sources = await self._make_sources(loop)
        n = len(self.plans)
        interval_us = round(1e6 / self.options.fps)
        for i, (plan, source) in enumerate(zip(self.plans, sources, strict=True)):
            feed = CameraFeed(plan.camera_id, source.sps, source.pps, fps=self.options.fps,
                              width=self.options.width, height=self.options.height,
                              keyframe_request=source.force_keyframe,
                              rng=random.Random(self._rng.getrandbits(64)))
            cam = CameraRuntime(plan, source, feed, phase_us=i * interval_us // max(1, n))
            self.cameras[plan.camera_id] = cam
            self.server.add_camera(feed, plan.credentials)
        await self.server.start()
        if self.options.consent_url or self.options.whip_url:
            self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        if self.options.whip_url:
            for cam in self.cameras.values():
                cam.publisher = WhipPublisher(
                    whip_url_for(self.options.whip_url, cam.plan.camera_id), cam.feed,
                    token=self.options.whip_token, session=self._http,
                    rng=random.Random(self._rng.getrandbits(64)))
                cam.publisher.start()
        if self.fault_specs:
            self.faults = FaultRunner(self.fault_specs, list(self.cameras), self,
                                      seed=self.options.seed)
            self.faults.start()
        self._clock_task = asyncio.create_task(self._clock(), name="fleet-clock")

    async def _make_sources(self, loop: asyncio.AbstractEventLoop
                            ) -> list[FrameSource | ReplayCamera]:
        opts = self.options
        if not opts.replay:
            futures = [loop.run_in_executor(self._pool, p.make_source) for p in self.plans]
            return list(await asyncio.gather(*futures))
        # Replay: record a few templates from the first cameras (or take them from the cache,
        # or from the user's recordings), then every camera replays one.
        k = max(1, min(opts.replay_templates, len(self.plans)))
        start_us = time.time_ns() // 1000
        cache = opts.template_cache

        def record(plan: CameraPlan) -> tuple[Template, bool]:
            if cache is not None:
                cached = cache.load(plan.camera_id)
                if cached is not None:
                    return cached, True
            source = plan.make_source()
            try:
                template = record_template(source, plan.camera_id, fps=opts.fps,
                                           width=opts.width, height=opts.height,
                                           seconds=opts.replay_seconds, start_us=start_us,
                                           warmup_seconds=opts.replay_warmup_seconds)
            finally:
                source.close()
            if cache is not None:
                cache.store(plan.camera_id, template)
            return template, False

        if opts.recordings:
            self.templates = list(opts.recordings)
            k = len(self.templates)
        else:
            recorded = await asyncio.gather(
                *(loop.run_in_executor(self._pool, record, p) for p in self.plans[:k]))
            self.templates = [t for t, _cached in recorded]
            self.templates_cached = sum(1 for _t, cached in recorded if cached)
        out: list[FrameSource | ReplayCamera] = []
        for i, plan in enumerate(self.plans):
            template = self.templates[i % k]
            # Spread keyframes over the loop, camera to camera.
            start = (i // k) * 7 if not opts.recordings else \
                (i // k) * max(1, len(template.frames) // 7 + 1)
            out.append(ReplayCamera(plan.camera_id, template, start_index=start))
        return out

    async def close(self) -> None:
        """Stop everything; idempotent."""
        if self._closed:
            return
        self._closed = True
        if self.faults is not None:
            self.faults.stop()
        if self._clock_task is not None:
            self._clock_task.cancel()
            await asyncio.gather(self._clock_task, return_exceptions=True)
        publishers = [c.publisher for c in self.cameras.values() if c.publisher is not None]
        await asyncio.gather(*(p.stop() for p in publishers), return_exceptions=True)
        await self.server.close()
        for task in list(self._background):
            task.cancel()
        await asyncio.gather(*self._background, return_exceptions=True)
        if self._http is not None:
            await self._http.close()
        # Captures still running finish on their threads; waiting for them off the loop.
        await asyncio.to_thread(self._pool.shutdown, True, cancel_futures=True)
        for cam in self.cameras.values():
            cam.source.close()

    async def __aenter__(self) -> Fleet:
        try:
            await self.start()
        except BaseException:
            await self.close()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def rtsp_url(self, camera_id: str) -> str:
        return self.server.url(camera_id)

    # --- the frame clock --------------------------------------------------------------------

    async def _clock(self) -> None:
        loop = asyncio.get_running_loop()
        interval = 1.0 / self.options.fps
        interval_us = round(1e6 * interval)
        cams = list(self.cameras.values())
        slots = max(1, min(len(cams), round(interval / SLOT_SECONDS)))
        slot_us = interval_us / slots
        buckets: list[list[CameraRuntime]] = [[] for _ in range(slots)]
        for cam in cams:
            buckets[min(slots - 1, int(cam.phase_us // slot_us))].append(cam)
        t0_loop = loop.time()
        t0_us = time.time_ns() // 1000
        cycle = 0
        while True:
            behind = loop.time() - (t0_loop + cycle * interval)
            if behind > MAX_CATCH_UP_SECONDS:
                skip = int(behind // interval)
                cycle += skip
                self.cycles_skipped += skip
            base_us = t0_us + cycle * interval_us
            for k, bucket in enumerate(buckets):
                # A bucket holds the cameras whose phase falls inside slot k; it fires at the
                # slot's end, so that no frame is stamped with a capture time still to come.
                delay = t0_loop + (cycle * interval_us + (k + 1) * slot_us) / 1e6 - loop.time()
                # Always yield, even when late: requests and socket I/O must not starve.
                await asyncio.sleep(max(0.0, delay))
                for cam in bucket:
                    self._tick(cam, base_us + cam.phase_us, loop)
            cycle += 1

    def _tick(self, cam: CameraRuntime, tick_us: int, loop: asyncio.AbstractEventLoop) -> None:
        if cam.down or cam.stalled:
            return
        capture_us = tick_us + cam.skew_us
        replay = cam.replay
        if replay is not None:
            feed = cam.feed
            if not feed.wants_frames:
                replay.skip_frame()  # nobody watches: build nothing
                return
            feed.publish(replay.next_frame(capture_us), tick_us, loop.time())
            return
        if cam.busy:
            cam.overruns += 1
            return
        cam.busy = True
        source = cam.source
        assert not isinstance(source, ReplayCamera)
        future = loop.run_in_executor(self._pool, source.capture, capture_us)
        future.add_done_callback(partial(self._captured, cam, tick_us))

    def _captured(self, cam: CameraRuntime, tick_us: int, future: asyncio.Future) -> None:
        cam.busy = False
        if future.cancelled():
            return
        err = future.exception()
        if err is not None:
            cam.errors += 1
            if cam.errors == 1 or cam.errors % 100 == 0:
                log.error("%s: capture failed (%d times): %s", cam.plan.camera_id, cam.errors,
                          err)
            return
        if cam.down or cam.stalled:
            return  # the fault began while this frame was being made
        frame = future.result()
        cam.feed.publish(OutFrame(frame.seq, frame.capture_us, frame.keyframe, frame.au.nals),
                         tick_us, asyncio.get_running_loop().time())

    # --- FaultHost --------------------------------------------------------------------------

    def feed(self, camera_id: str) -> CameraFeed:
        return self.cameras[camera_id].feed

    def set_stalled(self, camera_id: str, stalled: bool) -> None:
        self.cameras[camera_id].stalled = stalled

    def set_down(self, camera_id: str, down: bool) -> None:
        cam = self.cameras[camera_id]
        cam.down = down
        cam.feed.available = not down
        if down:
            self.server.disconnect(camera_id)
            if cam.publisher is not None:
                cam.publisher.interrupt(resume=False)
        else:
            cam.feed.reset()
            cam.source.force_keyframe()
            if cam.publisher is not None:
                cam.publisher.resume()

    def set_skew(self, camera_id: str, skew_us: int) -> None:
        self.cameras[camera_id].skew_us = skew_us

    def disconnect(self, camera_id: str) -> None:
        cam = self.cameras[camera_id]
        closed = self.server.disconnect(camera_id)
        log.info("%s: disconnected %d RTSP client(s)", camera_id, closed)
        if cam.publisher is not None:
            cam.publisher.interrupt(resume=True)

    def consent_of(self, camera_id: str) -> tuple[str | None, str]:
        cam = self.cameras[camera_id]
        return cam.plan.household, cam.consent

    def consent_changed(self, event: ConsentEvent) -> None:
        self.cameras[event.camera].consent = event.tier
        self.consent_events[event.tier] += 1
        log.info("consent: %s (household %s) %s -> %s", event.camera, event.household,
                 event.previous, event.tier)
        for callback in self.on_consent:
            try:
                callback(event)
            except Exception:
                log.exception("consent subscriber failed")
        if self.options.consent_url and self._http is not None:
            task = asyncio.create_task(self._post_consent(event))
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    async def _post_consent(self, event: ConsentEvent) -> None:
        assert self._http is not None and self.options.consent_url is not None
        try:
            async with self._http.post(self.options.consent_url, json=event.to_dict(),
                                       timeout=aiohttp.ClientTimeout(total=2)) as resp:
                if resp.status >= 300:
                    raise aiohttp.ClientResponseError(resp.request_info, (), status=resp.status)
        except (TimeoutError, aiohttp.ClientError) as err:
            self.consent_posts_failed += 1
            log.warning("consent: POST to %s failed: %s", self.options.consent_url, err)
