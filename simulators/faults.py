"""Fault injection at run time: the parsed ``--faults`` items turned into timed effects.

:class:`FaultRunner` schedules every item for every matching camera on the event loop
(``loop.call_at``; no task per fault) relative to the moment it starts. Random start times are
drawn per item and camera from the seed, so a run is reproducible. Effects go through a
:class:`FaultHost` (the fleet): stall, reboot, disconnect, clock skew and consent changes are the
host's business; bitrate spikes, corrupted NAL units and UDP packet loss are switched on the
camera's :class:`~simulators.feed.CameraFeed`. Overlapping windows of one kind on one camera
stack (the strongest loss/spike/corruption wins, skews add up, a stall lasts until the last window
ends).

Consent churn: an owner opting in or out is emitted as a :class:`ConsentEvent` to the host, which
logs it, counts it in metrics and hands it to subscribers (in-process callbacks and an optional
HTTP POST of its JSON; see :mod:`simulators.fleet`). The registry can consume that JSON.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from rtcc.media.h264 import NAL_FILLER, VCL_TYPES
from simulators.fault_spec import FaultSpec, FaultSpecError
from simulators.feed import CameraFeed, Mangler

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ConsentEvent:
    """An owner changed the consent tier of their camera (the registry's ``live`` gate)."""

    camera: str
    household: str | None
    tier: str
    previous: str
    t: int
    """Unix time in microseconds."""

    def to_dict(self) -> dict[str, Any]:
        return {"type": "consent", "source": "rtcc-sim", "camera": self.camera,
                "household": self.household, "tier": self.tier, "previous": self.previous,
                "t": self.t}


class FaultHost(Protocol):
    """What faults act on (implemented by :class:`simulators.fleet.Fleet`)."""

    def feed(self, camera_id: str) -> CameraFeed: ...

    def set_stalled(self, camera_id: str, stalled: bool) -> None: ...

    def set_down(self, camera_id: str, down: bool) -> None: ...

    def set_skew(self, camera_id: str, skew_us: int) -> None: ...

    def disconnect(self, camera_id: str) -> None: ...

    def consent_of(self, camera_id: str) -> tuple[str | None, str]:
        """(household, current consent tier) of the camera's owner."""
        ...

    def consent_changed(self, event: ConsentEvent) -> None: ...


# --- bitstream damage (pure) ----------------------------------------------------------------


def filler_nal(size: int) -> bytes:
    """A filler-data NAL unit (type 12) of ``size`` bytes: decoders skip it, networks carry it."""
    if size < 2:
        return b""
    return bytes((NAL_FILLER,)) + b"\xff" * (size - 2) + b"\x80"


def corrupt_slices(nals: Sequence[bytes], rng: random.Random) -> tuple[bytes, ...]:
    """Damage the slice data of every coded slice: ~1 % of its bytes (at least 4) get random
    values. The NAL header and the first bytes of the slice header stay intact, so clients still
    see a slice of the right type; no zero byte is written, so no start code can appear."""
    out = []
    for nal in nals:
        if nal and nal[0] & 0x1F in VCL_TYPES and len(nal) > 16:
            data = bytearray(nal)
            count = min(len(data) - 8, max(4, len(data) // 100))
            for pos in rng.sample(range(8, len(data)), count):
                data[pos] = rng.randrange(0x80, 0x100)
            out.append(bytes(data))
        else:
            out.append(nal)
    return tuple(out)


def make_mangler(spike: float, corrupt: float) -> Mangler | None:
    """The feed's per-frame hook for the active spike factor and corruption rate."""
    if spike <= 1.0 and corrupt <= 0.0:
        return None

    def mangle(feed: CameraFeed, nals: tuple[bytes, ...], keyframe: bool) -> tuple[bytes, ...]:
        out = nals
        if corrupt > 0.0 and feed.rng.random() < corrupt:
            out = corrupt_slices(out, feed.rng)
            feed.frames_corrupted += 1
        if spike > 1.0:
            extra = int(sum(len(n) for n in out) * (spike - 1.0))
            if extra >= 2:
                out = (*out, filler_nal(extra))
                feed.filler_octets += extra
        return out

    return mangle


# --- the runner -------------------------------------------------------------------------------


class FaultRunner:
    """Schedules and applies fault items (see module docstring)."""

    def __init__(
        self,
        specs: Iterable[FaultSpec],
        camera_ids: Iterable[str],
        host: FaultHost,
        *,
        seed: int | None = None,
    ) -> None:
        self.specs = list(specs)
        self.camera_ids = list(camera_ids)
        self.host = host
        self.seed = seed
        self.injected: Counter[str] = Counter()
        """Fault occurrences started, by kind."""
        self.injected_by_camera: Counter[str] = Counter()
        self._targets: list[tuple[FaultSpec, list[str]]] = []
        for spec in self.specs:
            cams = [c for c in self.camera_ids if spec.matches(c)]
            if not cams:
                raise FaultSpecError(f"faults item {spec.index} {spec.text!r}: no camera "
                                     f"matches {spec.target!r}")
            self._targets.append((spec, cams))
        self._active: dict[tuple[str, str], list[float | str | None]] = {}
        self._handles: set[asyncio.TimerHandle] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._t0 = 0.0

    def first_times(self) -> list[tuple[float, str, FaultSpec]]:
        """(seconds after start, camera, item) of each item's first occurrence, sorted."""
        out = [(self._first_time(spec, cam), cam, spec)
               for spec, cams in self._targets for cam in cams]
        return sorted(out, key=lambda x: (x[0], x[1], x[2].index))

    def _first_time(self, spec: FaultSpec, camera_id: str) -> float:
        if spec.when.mode == "rand":
            rng = random.Random(f"{self.seed}|{spec.index}|{camera_id}")
            return rng.uniform(0.0, spec.when.seconds)
        return spec.when.seconds

    def start(self) -> None:
        """Schedule everything relative to now (call on the event loop)."""
        self._loop = asyncio.get_running_loop()
        self._t0 = self._loop.time()
        for at, cam, spec in self.first_times():
            self._schedule(self._t0 + at, self._begin, spec, cam)

    def stop(self) -> None:
        for handle in self._handles:
            handle.cancel()
        self._handles.clear()

    def _schedule(self, when: float, fn: Any, *args: Any) -> None:
        assert self._loop is not None
        holder: list[asyncio.TimerHandle] = []

        def fire() -> None:
            self._handles.discard(holder[0])
            fn(*args)

        handle = self._loop.call_at(when, fire)
        holder.append(handle)
        self._handles.add(handle)

    def _begin(self, spec: FaultSpec, cam: str) -> None:
        assert self._loop is not None
        now = self._loop.time()
        if spec.when.mode == "every":
            self._schedule(now + spec.when.seconds, self._begin, spec, cam)
        self.injected[spec.kind] += 1
        self.injected_by_camera[cam] += 1
        log.info("fault %s on %s (%s)", spec.kind, cam, spec.text)
        try:
            self._apply(spec, cam, on=True)
        except Exception:  # one broken fault must not stop the others or the fleet
            log.exception("fault %s on %s failed", spec.kind, cam)
            return
        if spec.duration is not None and spec.kind not in ("disconnect", "consent"):
            self._schedule(now + spec.duration, self._end, spec, cam)

    def _end(self, spec: FaultSpec, cam: str) -> None:
        log.info("fault %s on %s ends", spec.kind, cam)
        try:
            self._apply(spec, cam, on=False)
        except Exception:
            log.exception("ending fault %s on %s failed", spec.kind, cam)

    def _apply(self, spec: FaultSpec, cam: str, *, on: bool) -> None:
        kind = spec.kind
        if kind == "disconnect":
            self.host.disconnect(cam)
            return
        if kind == "consent":
            self._consent(spec, cam)
            return
        values = self._active.setdefault((cam, kind), [])
        if on:
            values.append(spec.value)
        elif spec.value in values:
            values.remove(spec.value)
        active = bool(values)
        if kind == "stall":
            self.host.set_stalled(cam, active)
        elif kind == "reboot":
            self.host.set_down(cam, active)
        elif kind == "skew":
            self.host.set_skew(cam, round(sum(float(v or 0.0) for v in values) * 1e6))
        elif kind == "loss":
            self.host.feed(cam).udp_loss = max((float(v or 0.0) for v in values), default=0.0)
        elif kind in ("spike", "corrupt"):
            spike = max((float(v or 1.0) for v in self._active.get((cam, "spike"), [])),
                        default=1.0)
            corrupt = max((float(v or 0.0) for v in self._active.get((cam, "corrupt"), [])),
                          default=0.0)
            self.host.feed(cam).mangler = make_mangler(spike, corrupt)

    def _consent(self, spec: FaultSpec, cam: str) -> None:
        household, current = self.host.consent_of(cam)
        tier = str(spec.value)
        if tier == "toggle":
            tier = "none" if current == "live" else "live"
        event = ConsentEvent(camera=cam, household=household, tier=tier, previous=current,
                             t=time.time_ns() // 1000)
        self.host.consent_changed(event)
