"""Prometheus metrics of the wall, read from its live state at scrape time (no per-frame cost).

Registered on the application's registry (``rtcc.metrics``), served at ``GET /metrics``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from rtcc.wall.service import Wall


class WallCollector(Collector):
    def __init__(self, wall: Wall) -> None:
        self.wall = wall

    def collect(self) -> Iterator[Metric]:
        hub = self.wall.hub
        following = hub.following()
        yield GaugeMetricFamily("rtcc_wall_followed_cameras",
                                "Cameras whose channel the wall reads (one reader each)",
                                value=len(following))
        views = GaugeMetricFamily("rtcc_wall_views", "Open camera views by delivery path",
                                  labels=["via"])
        whep = len(self.wall.whep.sessions)
        views.add_metric(["ws"], sum(hub.viewers_of(c) for c in following) - whep)
        views.add_metric(["whep"], whep)
        yield views
        yield GaugeMetricFamily("rtcc_wall_pages", "Wall pages connected over WebSocket",
                                value=self.wall.pages)
        yield CounterMetricFamily("rtcc_wall_frames_read", "Frames read from the live channels",
                                  value=hub.frames_read)
        sent, dropped = hub.delivery_totals()
        yield CounterMetricFamily("rtcc_wall_frames_sent", "Frames handed to viewers",
                                  value=sent)
        yield CounterMetricFamily("rtcc_wall_frames_dropped",
                                  "Frames dropped for viewers that fell behind (to the next "
                                  "keyframe)", value=dropped)
        yield CounterMetricFamily("rtcc_wall_audit_batches",
                                  "Audit batches written for view starts and stops",
                                  value=self.wall.access.batches)
