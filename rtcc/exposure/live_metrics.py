"""Prometheus metrics of the live exposure analyzer.

Person-seconds are exported by role, band and consent (a handful of series), and the
non-consenting total per camera (one series per camera: 1,500 cameras stay well inside what a
Prometheus server handles). Tests pass their own ``CollectorRegistry``; a server process uses
:func:`default_metrics`, registered once in prometheus_client's default registry so the hub's
``GET /metrics`` exports it.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram

if TYPE_CHECKING:
    from rtcc.exposure.live import Batch


class LiveMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        reg = REGISTRY if registry is None else registry
        self.frames = Counter("rtcc_exposure_frames_total",
                              "Delivered frames counted by the exposure analyzer", registry=reg)
        self.malformed = Counter("rtcc_exposure_malformed_total",
                                 "Frame metadata entries that could not be read", registry=reg)
        self.person_seconds = Counter(
            "rtcc_exposure_person_seconds_total",
            "Person-seconds on the wall by role, DORI band and consent (masked excluded)",
            ["role", "band", "consenting"], registry=reg)
        self.camera_non_consenting = Counter(
            "rtcc_exposure_camera_non_consenting_seconds_total",
            "Person-seconds of non-consenting people per camera stream", ["camera"],
            registry=reg)
        self.masked_seconds = Counter("rtcc_exposure_masked_seconds_total",
                                      "Person-seconds hidden by privacy masks", registry=reg)
        self.lag = Gauge("rtcc_exposure_lag_seconds",
                         "Wall-clock time minus the capture time of the newest counted frame",
                         registry=reg)
        self.batch_seconds = Histogram(
            "rtcc_exposure_batch_seconds", "Time to read, count and commit one batch",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
            registry=reg)

    def observe(self, batch: Batch, lag: float, seconds: float) -> None:
        self.frames.inc(batch.frames)
        if batch.malformed:
            self.malformed.inc(batch.malformed)
        if batch.masked_us:
            self.masked_seconds.inc(batch.masked_us / 1e6)
        by_label: dict[tuple[str, str, str], int] = {}
        for (_, role, band, flag), us in batch.streams.items():
            label = (role, band, "yes" if flag == "c" else "no")
            by_label[label] = by_label.get(label, 0) + us
        for (role, band, ok), us in by_label.items():
            self.person_seconds.labels(role, band, ok).inc(us / 1e6)
        for cam, us in batch.tile_us.items():
            self.camera_non_consenting.labels(cam).inc(us / 1e6)
        self.lag.set(lag)
        self.batch_seconds.observe(seconds)


@functools.cache
def default_metrics() -> LiveMetrics:
    """The process-wide metrics in the default registry (created once)."""
    return LiveMetrics()
