"""The ingest hub's Prometheus collectors (prefix ``rtcc_hub_``): per-camera counters, worker
states, the capture-to-Redis latency, the writer's batches, camera leases, and which compiled
twins run.

Per-camera counters are plain integers on the hot path, exported by a collector when /metrics is
scraped: a labelled ``Counter.inc()`` takes a lock and a label lookup, which adds up at 10,000
frames a second.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Enum, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

from rtcc.metrics import FrameHistogram
from rtcc.vocabulary import CAMERA_STATES, CameraState

#: Seconds; a frame should reach Redis well within 100 ms, so the resolution is finest there.
LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5,
                   5.0, 10.0)
WRITE_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


@dataclass(slots=True)
class CameraMetrics:
    """One camera's counters: plain integers bumped on the hot path, exported at scrape time."""

    frames_in: int = 0
    bytes_in: int = 0
    frames_written: int = 0
    reconnects: int = 0


class _CameraCollector(Collector):
    """Exports the per-camera integers of :class:`HubMetrics` when /metrics is scraped.

    A ``prometheus_client.Counter`` child costs a lock and a method call per ``inc()``; with
    four counters per frame at 10,000 frames a second that is a noticeable share of the hub."""

    def __init__(self, hub: HubMetrics) -> None:
        self.hub = hub

    def collect(self) -> Iterator[Metric]:
        cams = list(self.hub._cameras.items())
        families = [
            ("rtcc_hub_frames_in", "Access units received from the camera", "frames_in"),
            ("rtcc_hub_bytes_in", "Access unit bytes received (Annex-B)", "bytes_in"),
            ("rtcc_hub_frames_written", "Access units written to the camera's Redis channel",
             "frames_written"),
            ("rtcc_hub_reconnects", "Connection attempts after the first", "reconnects"),
        ]
        for name, doc, attr in families:
            family = CounterMetricFamily(name, doc, labels=["camera"])
            for cam, m in cams:
                family.add_metric([cam], getattr(m, attr))
            yield family
        drops = CounterMetricFamily(
            "rtcc_hub_frames_dropped", "Access units not delivered, by reason (consent, "
            "backpressure, redis_error, incomplete, awaiting_keyframe, stopped, lease)",
            labels=["camera", "reason"])
        for (cam, reason), n in list(self.hub._drop_counts.items()):
            drops.add_metric([cam, reason], n)
        yield drops


class HubMetrics:
    """The ingest hub's collectors (prefix ``rtcc_hub_``)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self._cameras: dict[str, CameraMetrics] = {}
        self._drop_counts: dict[tuple[str, str], int] = {}
        registry.register(_CameraCollector(self))
        self.state = Enum("rtcc_hub_camera_state", "Worker state of each camera", ["camera"],
                          states=list(CAMERA_STATES), registry=registry)
        self.capture_to_redis = FrameHistogram(
            "rtcc_hub_capture_to_redis_seconds",
            "Camera capture time (SEI, else RTCP sender report, else arrival) to Redis ack",
            buckets=LATENCY_BUCKETS, registry=registry)
        self.redis_write = Histogram("rtcc_hub_redis_write_seconds",
                                     "Duration of one pipelined batch write to Redis",
                                     buckets=WRITE_BUCKETS, registry=registry)
        self.batch_frames = Histogram("rtcc_hub_redis_batch_frames", "Frames per Redis batch",
                                      buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000),
                                      registry=registry)
        self.queued_bytes = Gauge("rtcc_hub_queued_bytes",
                                  "Bytes of access units waiting for Redis", registry=registry)
        self.redis_up = Gauge("rtcc_hub_redis_up", "1 while the live Redis accepts writes",
                              registry=registry)
        self.reconnect_tokens = Gauge("rtcc_hub_reconnect_budget_tokens",
                                      "Tokens left in the global reconnect budget",
                                      registry=registry)
        self.compiled = Gauge("rtcc_hub_compiled", "1 when this part of the per-packet path "
                              "runs its compiled twin (rtcc/ingest/compiled.py), 0 when pure "
                              "Python", ["part"], registry=registry)

    def report_compiled(self, parts: dict[str, bool]) -> None:
        """Export which compiled twins run (:func:`rtcc.ingest.compiled.extensions`)."""
        for part, on in parts.items():
            self.compiled.labels(part).set(int(on))

    def camera(self, camera_id: str) -> CameraMetrics:
        found = self._cameras.get(camera_id)
        if found is None:
            found = self._cameras[camera_id] = CameraMetrics()
        return found

    def dropped(self, camera_id: str, reason: str, count: int = 1) -> None:
        key = (camera_id, reason)
        self._drop_counts[key] = self._drop_counts.get(key, 0) + count

    def set_state(self, camera_id: str, state: CameraState) -> None:
        self.state.labels(camera_id).state(state)

    def dropped_total(self, camera_id: str | None = None, reason: str | None = None) -> int:
        """Sum of drops, optionally for one camera and/or one reason (tests and reports)."""
        return sum(
            n for (cam, why), n in self._drop_counts.items()
            if (camera_id is None or cam == camera_id) and (reason is None or why == reason)
        )

    def forget(self, camera_id: str) -> None:
        """Remove a camera's series when it leaves the hub (keeps /metrics bounded)."""
        self._cameras.pop(camera_id, None)
        for key in [k for k in self._drop_counts if k[0] == camera_id]:
            del self._drop_counts[key]
        with contextlib.suppress(KeyError):
            self.state.remove(camera_id)


class ShardMetrics:
    """Sharded ingest (camera leases, :mod:`rtcc.ingest.ownership`) of one hub worker."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.owned = Gauge("rtcc_hub_cameras_owned", "Cameras whose lease this worker holds",
                           registry=registry)
        self.members = Gauge("rtcc_hub_workers", "Live hub workers in the membership",
                             registry=registry)
        self.acquired = Counter("rtcc_hub_leases_acquired", "Camera leases acquired",
                                registry=registry)
        self.lost = Counter("rtcc_hub_leases_lost", "Camera leases lost (expired or taken "
                            "before renewal, or doubtful after a Redis error)", registry=registry)
        self.released = Counter("rtcc_hub_leases_released", "Camera leases given up (balance, "
                                "camera removed, clean stop)", registry=registry)
        self.takeovers = Counter("rtcc_hub_takeovers", "Cameras acquired from a worker that left "
                                 "or died", registry=registry)
        self.errors = Counter("rtcc_hub_lease_errors", "Lease rounds that failed",
                              registry=registry)
