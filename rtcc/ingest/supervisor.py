"""One supervised worker per camera: connect, read, and restart on failure without storms.

A worker runs its source driver until it fails or the stream ends, then waits a jittered,
exponentially growing delay (capped; reset once a session stayed up ``stable_after`` seconds)
and tries again. Every attempt, first or not, takes a token from one :class:`ReconnectBudget`
shared by the whole hub: when a switch reboots and 500 cameras drop at once, the hub reconnects at
the budget's rate instead of all at once, and the jitter spreads the retries of cameras that failed
together. ``RetryPolicy(retries=False)`` is the hook tests use to see a failure as ``failed``
instead of a retry. Model: Home Assistant's ``Stream._run_worker``; the jitter and global budget
are what its users (and go2rtc's and MediaMTX's) ask for.

Worker states (CONTRACT of ``rtcc:{cam}:state``) are :class:`rtcc.vocabulary.CameraState`:
``connecting``, ``live`` (playing and consent open), ``gated`` (playing, consent closed: frames
are dropped at the gate), ``backing_off`` (reason says why and when the next attempt is),
``failed`` (a permanent error such as rejected credentials, or retries disabled), ``stopped``.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from rtcc.channels import StateRecord
from rtcc.errors import RtccError
from rtcc.ingest.gate import ConsentGate
from rtcc.ingest.metrics import HubMetrics
from rtcc.ingest.sink import FrameSink
from rtcc.ingest.sources import Source
from rtcc.ingest.writer import FrameWriter
from rtcc.logs import redact_credentials
from rtcc.vocabulary import CameraState

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    initial: float = 1.0
    """First retry delay, seconds."""
    factor: float = 2.0
    cap: float = 30.0
    """Longest delay between attempts (also the delay after a permanent error)."""
    jitter: float = 0.5
    """Fraction of the delay that is random: a delay d is drawn from [d * (1 - jitter), d]."""
    stable_after: float = 30.0
    """A session that played this long resets the backoff."""
    retries: bool = True
    """False: a failed worker stays ``failed`` (the hook tests use to disable retries)."""


class Backoff:
    """Capped exponential backoff with jitter."""

    def __init__(self, policy: RetryPolicy, rng: random.Random | None = None) -> None:
        self.policy = policy
        self.attempt = 0
        self._rng = rng or random.Random()

    def next(self) -> float:
        p = self.policy
        base = min(p.cap, p.initial * p.factor ** min(self.attempt, 64))
        self.attempt += 1
        return base * (1.0 - p.jitter * self._rng.random())

    def reset(self) -> None:
        self.attempt = 0


class ReconnectBudget:
    """A token bucket shared by every worker: at most ``burst`` attempts at once, then ``rate``
    attempts per second. Waiters are served first come, first served (``asyncio.Lock`` is FIFO).
    """

    def __init__(self, rate: float = 50.0, burst: float = 100.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("reconnect budget needs rate > 0 and burst >= 1")
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._tokens = float(burst)
        self._stamp = clock()
        self._lock = asyncio.Lock()
        self.granted = 0

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now

    @property
    def tokens(self) -> float:
        self._refill()
        return self._tokens

    def try_take(self) -> bool:
        self._refill()
        if self._tokens >= 1 - 1e-9:  # float refill (0.1 s x 10/s) must count as one token
            self._tokens = max(0.0, self._tokens - 1)
            self.granted += 1
            return True
        return False

    async def take(self) -> None:
        async with self._lock:
            while not self.try_take():  # noqa: ASYNC110 - a token bucket refills with time
                await asyncio.sleep(max(0.001, (1.0 - self._tokens) / self.rate))


class Driver(Protocol):
    """A source driver: runs one session, returns when the stream ends, raises on failure."""

    async def run(self, sink: FrameSink, on_playing: Callable[[], None]) -> None: ...


class PermanentError(RtccError):
    """A failure retrying soon cannot fix (rejected credentials, unknown stream, no H.264)."""


@dataclass(slots=True)
class WorkerStatus:
    cam: str
    kind: str
    source: str
    state: CameraState = CameraState.CONNECTING
    reason: str = ""
    since: float = 0.0
    reconnects: int = 0
    transport: str = ""


class CameraWorker:
    """Base of the RTSP and WHIP workers: state reporting, consent gate state."""

    def __init__(self, source: Source, sink: FrameSink, writer: FrameWriter,
                 metrics: HubMetrics, gate: ConsentGate) -> None:
        self.source = source
        self.sink = sink
        self.writer = writer
        self.metrics = metrics
        self.gate = gate
        self.status = WorkerStatus(source.id, source.kind, source.redacted,
                                   transport="" if source.whip else source.transport)
        self.playing = False

    @property
    def cam(self) -> str:
        return self.source.id

    def set_state(self, state: CameraState, reason: str = "", *, event: bool = True) -> None:
        st = self.status
        if state == st.state and reason == st.reason and st.since:
            return
        st.state, st.reason, st.since = state, reason, time.time()
        self.metrics.set_state(self.cam, state)
        self.writer.publish_state(self.camera_state(), event=event)
        log.log(logging.WARNING if state is CameraState.FAILED else logging.INFO,
                "%s: %s%s", self.cam, state, f" ({reason})" if reason else "")

    def camera_state(self) -> StateRecord:
        st = self.status
        return StateRecord(cam=st.cam, state=st.state, reason=st.reason, since=st.since,
                           source=st.source, reconnects=st.reconnects,
                           frames=self.sink.delivered)

    def on_playing(self) -> None:
        self.playing = True
        self._apply_gate(self.gate.is_open(self.cam))

    def on_gate(self, live: bool) -> None:
        if self.playing:
            self._apply_gate(live)

    def _apply_gate(self, live: bool) -> None:
        if live:
            self.set_state(CameraState.LIVE)
        else:
            self.set_state(CameraState.GATED, "consent is not live")

    def snapshot(self) -> dict[str, object]:
        st = self.status
        age = time.time() - self.sink.last_arrival if self.sink.last_arrival else None
        return {
            "id": st.cam, "kind": st.kind, "source": st.source, "transport": st.transport,
            "state": st.state, "reason": st.reason, "since": round(st.since, 3),
            "reconnects": st.reconnects, "frames_in": self.sink.received,
            "frames_delivered": self.sink.delivered,
            "last_frame_age": None if age is None else round(age, 3),
        }

    async def run(self) -> None:
        raise NotImplementedError


class PullWorker(CameraWorker):
    """Pulls a camera (RTSP) through ``driver`` with backoff and the global budget."""

    def __init__(self, source: Source, sink: FrameSink, writer: FrameWriter,
                 metrics: HubMetrics, gate: ConsentGate, driver: Driver,
                 policy: RetryPolicy, budget: ReconnectBudget) -> None:
        super().__init__(source, sink, writer, metrics, gate)
        self.driver = driver
        self.policy = policy
        self.budget = budget
        self.backoff = Backoff(policy)

    async def run(self) -> None:
        reason = ""
        first = True
        try:
            while True:
                self.set_state(CameraState.CONNECTING, reason)
                await self.budget.take()
                if not first:
                    self.status.reconnects += 1
                    self.metrics.camera(self.cam).reconnects += 1
                first = False
                self.sink.reset()
                self.playing = False
                played_at: float | None = None

                def playing() -> None:
                    nonlocal played_at
                    played_at = time.monotonic()
                    self.on_playing()

                permanent = False
                try:
                    await self.driver.run(self.sink, playing)
                    reason = "stream ended"
                except PermanentError as err:
                    reason, permanent = redact_credentials(str(err)), True
                except RtccError as err:
                    reason = redact_credentials(str(err))
                except OSError as err:
                    reason = redact_credentials(f"connection failed: {err.strerror or err}")
                except Exception as err:  # a driver bug: restart the camera, keep the hub
                    log.exception("%s: driver crashed", self.cam)
                    reason = redact_credentials(f"internal error {type(err).__name__}: {err}")
                self.playing = False
                if played_at is not None and time.monotonic() - played_at >= \
                        self.policy.stable_after:
                    self.backoff.reset()
                if not self.policy.retries:
                    self.set_state(CameraState.FAILED, reason)
                    return
                delay = self.policy.cap if permanent else self.backoff.next()
                self.set_state(CameraState.FAILED if permanent else CameraState.BACKING_OFF,
                               f"{reason}; retry in {delay:.1f}s")
                await asyncio.sleep(delay)
        except asyncio.CancelledError:
            self.playing = False
            self.set_state(CameraState.STOPPED, "hub stopping")
            raise


async def cancel_and_wait(task: asyncio.Task[Any]) -> None:
    """Cancel ``task`` and wait until it has finished.

    The cancellation is repeated until it sticks: on Python 3.11 ``asyncio.wait_for`` (used
    inside redis-py) returns its result and drops a cancellation that arrives just as the awaited
    operation completes, which would otherwise leave a "cancelled" task running forever.
    """
    while not task.done():
        task.cancel()
        await asyncio.wait([task], timeout=0.1)
    if not task.cancelled() and task.exception() is not None:
        log.error("task %s ended with an error", task.get_name(), exc_info=task.exception())


class Supervisor:
    """Owns the worker tasks (one TaskGroup); workers can join and leave while it runs."""

    def __init__(self) -> None:
        self.workers: dict[str, CameraWorker] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._tg: asyncio.TaskGroup | None = None

    async def __aenter__(self) -> Supervisor:
        self._tg = asyncio.TaskGroup()
        await self._tg.__aenter__()
        for worker in self.workers.values():
            self._start(worker)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await asyncio.gather(*(cancel_and_wait(t) for t in self._tasks.values()))
        tg, self._tg = self._tg, None
        if tg is not None:
            await tg.__aexit__(None, None, None)
        self._tasks.clear()

    def _start(self, worker: CameraWorker) -> None:
        assert self._tg is not None
        self._tasks[worker.cam] = self._tg.create_task(worker.run(), name=f"camera-{worker.cam}")

    def add(self, worker: CameraWorker) -> None:
        if worker.cam in self.workers:
            raise ValueError(f"camera {worker.cam} is already supervised")
        self.workers[worker.cam] = worker
        if self._tg is not None:
            self._start(worker)

    async def remove(self, cam: str) -> CameraWorker | None:
        worker = self.workers.pop(cam, None)
        task = self._tasks.pop(cam, None)
        if task is not None:
            await cancel_and_wait(task)
        return worker
