"""Prometheus metrics of the simulated fleet, served over HTTP on 127.0.0.1.

The hot path only bumps plain integer attributes on feeds, sessions and publishers; this module
reads them when Prometheus scrapes (a custom collector on a private ``CollectorRegistry``), so
counting costs nothing per packet and several fleets can live in one process (tests).

Series (``camera`` label per camera; ``transport`` is tcp, udp or whip):
``rtcc_sim_cameras``, ``rtcc_sim_frames_total``, ``rtcc_sim_frames_sent_total``,
``rtcc_sim_bytes_sent_total``, ``rtcc_sim_frames_dropped_total``, ``rtcc_sim_clients``,
``rtcc_sim_capture_overruns_total``, ``rtcc_sim_udp_packets_lost_total``,
``rtcc_sim_faults_injected_total{kind}``, ``rtcc_sim_consent_events_total{tier}``,
``rtcc_sim_rtsp_responses_total{method,status}``, ``rtcc_sim_rtsp_sessions_reaped_total``,
``rtcc_sim_clock_cycles_skipped_total``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from rtcc.errors import ConfigError

if TYPE_CHECKING:
    from simulators.fleet import Fleet

log = logging.getLogger(__name__)

DEFAULT_PORT = 9710


class FleetCollector(Collector):
    def __init__(self, fleet: Fleet) -> None:
        self.fleet = fleet

    def collect(self) -> Iterator[Metric]:
        fleet = self.fleet
        cams = GaugeMetricFamily("rtcc_sim_cameras", "Cameras in the fleet")
        cams.add_metric([], len(fleet.cameras))
        yield cams
        frames = CounterMetricFamily("rtcc_sim_frames", "Frames produced", labels=["camera"])
        sent = CounterMetricFamily("rtcc_sim_frames_sent", "Frames delivered to clients",
                                   labels=["camera", "transport"])
        sent_bytes = CounterMetricFamily("rtcc_sim_bytes_sent", "Bytes delivered to clients",
                                         labels=["camera", "transport"])
        dropped = CounterMetricFamily("rtcc_sim_frames_dropped",
                                      "Frames a slow client did not get", labels=["camera"])
        clients = GaugeMetricFamily("rtcc_sim_clients", "Clients receiving the camera",
                                    labels=["camera", "transport"])
        overruns = CounterMetricFamily("rtcc_sim_capture_overruns",
                                       "Frame ticks skipped while the previous capture ran",
                                       labels=["camera"])
        lost = CounterMetricFamily("rtcc_sim_udp_packets_lost",
                                   "RTP packets dropped by the loss fault", labels=["camera"])
        for cam_id, cam in list(fleet.cameras.items()):
            feed = cam.feed
            frames.add_metric([cam_id], feed.frames_published)
            for transport in ("tcp", "udp"):
                sent.add_metric([cam_id, transport], feed.frames_sent[transport])
                sent_bytes.add_metric([cam_id, transport], feed.bytes_sent[transport])
            by_transport = fleet.server.clients(cam_id)
            for transport, count in by_transport.items():
                clients.add_metric([cam_id, transport], count)
            pub = cam.publisher
            if pub is not None:
                track = pub.track
                sent.add_metric([cam_id, "whip"],
                                pub.frames_sent + (track.frames_queued if track else 0))
                sent_bytes.add_metric([cam_id, "whip"],
                                      pub.bytes_sent + (track.bytes_queued if track else 0))
                clients.add_metric([cam_id, "whip"], 1 if pub.state == "connected" else 0)
            dropped.add_metric([cam_id], feed.frames_dropped)
            overruns.add_metric([cam_id], cam.overruns)
            lost.add_metric([cam_id], feed.packets_lost)
        yield from (frames, sent, sent_bytes, dropped, clients, overruns, lost)
        faults = CounterMetricFamily("rtcc_sim_faults_injected", "Faults started",
                                     labels=["kind"])
        if fleet.faults is not None:
            for kind, count in sorted(dict(fleet.faults.injected).items()):
                faults.add_metric([kind], count)
        yield faults
        consent = CounterMetricFamily("rtcc_sim_consent_events", "Consent churn events emitted",
                                      labels=["tier"])
        for tier, count in sorted(dict(fleet.consent_events).items()):
            consent.add_metric([tier], count)
        yield consent
        responses = CounterMetricFamily("rtcc_sim_rtsp_responses", "RTSP responses",
                                        labels=["method", "status"])
        for (method, status), count in sorted(dict(fleet.server.requests).items()):
            responses.add_metric([method, str(status)], count)
        yield responses
        reports = CounterMetricFamily("rtcc_sim_rtcp_receiver_reports",
                                      "RTCP receiver reports from RTSP clients (open sessions)")
        loss = GaugeMetricFamily("rtcc_sim_client_reported_loss_ratio",
                                 "Fraction of packets lost in the last report interval, as the "
                                 "worst RTSP client of the camera reports it (RTCP RR)",
                                 labels=["camera"])
        jitter = GaugeMetricFamily("rtcc_sim_client_reported_jitter_seconds",
                                   "Interarrival jitter the worst RTSP client of the camera "
                                   "reports (RTCP RR)", labels=["camera"])
        worst: dict[str, tuple[float, float]] = {}
        total = 0
        for session in list(fleet.server.sessions.values()):
            total += session.receiver_reports
            rr = session.reported
            if rr is not None:
                old = worst.get(session.camera_id, (0.0, 0.0))
                worst[session.camera_id] = (max(old[0], rr.fraction_lost / 256),
                                            max(old[1], rr.jitter / 90_000))
        reports.add_metric([], total)
        for cam_id, (lost_ratio, jitter_s) in sorted(worst.items()):
            loss.add_metric([cam_id], lost_ratio)
            jitter.add_metric([cam_id], jitter_s)
        yield from (reports, loss, jitter)
        reaped = CounterMetricFamily("rtcc_sim_rtsp_sessions_reaped",
                                     "RTSP sessions closed for inactivity")
        reaped.add_metric([], fleet.server.sessions_reaped)
        yield reaped
        skipped = CounterMetricFamily("rtcc_sim_clock_cycles_skipped",
                                      "Frame intervals skipped because the loop fell behind")
        skipped.add_metric([], fleet.cycles_skipped)
        yield skipped


def fleet_registry(fleet: Fleet) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(FleetCollector(fleet))
    return registry


class MetricsServer:
    """``GET /metrics`` on 127.0.0.1 (aiohttp, on the fleet's loop), plus any extra ``routes``
    (``rtcc sim`` adds the cameras' local store, :mod:`simulators.clip_http`)."""

    def __init__(self, registry: CollectorRegistry, *, host: str = "127.0.0.1",
                 port: int = DEFAULT_PORT, routes: Sequence[web.RouteDef] = ()) -> None:
        self.registry = registry
        self.routes = list(routes)
        self.host = host
        self.requested_port = port
        self._runner: web.AppRunner | None = None
        self.port = 0

    async def _metrics(self, request: web.Request) -> web.Response:
        # 1,000 cameras make ~0.5 MB of text and ~0.1 s of work: done on a thread, so the frame
        # clock on the loop does not miss a beat. The collector only reads counters (and copies
        # the dicts it iterates), which is safe next to the loop thread under the GIL.
        loop = asyncio.get_running_loop()
        body = await loop.run_in_executor(None, generate_latest, self.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/metrics", self._metrics)
        app.router.add_routes(self.routes)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.requested_port)
        try:
            await site.start()
        except OSError as err:
            await self._runner.cleanup()
            self._runner = None
            raise ConfigError(f"metrics port {self.requested_port} on {self.host}: "
                              f"{err.strerror or err}") from err
        self.port = int(self._runner.addresses[0][1])

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/metrics"

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
