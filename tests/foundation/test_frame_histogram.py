"""The hub's per-frame histogram exports exactly what prometheus_client's Histogram would."""

from __future__ import annotations

import random

from prometheus_client import CollectorRegistry, Histogram, generate_latest

from rtcc.ingest.metrics import LATENCY_BUCKETS
from rtcc.metrics import FrameHistogram


def test_frame_histogram_matches_prometheus_histogram() -> None:
    ours_reg, theirs_reg = CollectorRegistry(), CollectorRegistry()
    ours = FrameHistogram("x_seconds", "doc", LATENCY_BUCKETS, ours_reg)
    theirs = Histogram("x_seconds", "doc", buckets=LATENCY_BUCKETS, registry=theirs_reg)
    rng = random.Random(5)
    values = [rng.expovariate(20) for _ in range(5000)] + list(LATENCY_BUCKETS) + [0.0, 99.0]
    for v in values:
        ours.observe(v)
        theirs.observe(v)
    def lines(reg: CollectorRegistry) -> list[str]:
        return [line for line in generate_latest(reg).decode().splitlines()
                if line.startswith(("x_seconds_bucket", "x_seconds_count"))]
    assert lines(ours_reg) == lines(theirs_reg)
    assert len(lines(ours_reg)) == len(LATENCY_BUCKETS) + 2
    text = generate_latest(ours_reg).decode()
    assert f"x_seconds_sum {sum(values)}"[:20] in text
