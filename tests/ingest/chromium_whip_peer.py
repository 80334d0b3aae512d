"""Headless Chromium publishes its fake camera over WHIP to a real hub; prints a JSON report.

Run by tests/ingest/test_chromium_whip.py inside a loopback-only network namespace
(``unshare -n`` + ``ip link set lo up``): everything here (Redis, hub, page server, browser) lives
in that namespace, so every ICE candidate pair is 127.0.0.1. Usage::

    python -m tests.ingest.chromium_whip_peer [SECONDS]
"""

from __future__ import annotations

import asyncio
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import redis.asyncio as aredis
from aiohttp import web

from rtcc import channels
from rtcc.ingest.hub import HUB, Hub, HubConfig, endpoint_routes
from rtcc.ingest.metrics import HubMetrics
from rtcc.ingest.sources import Source
from rtcc.media.encoder import decode_annexb
from rtcc.metrics import new_registry
from rtcc.redis_server import LIVE, EmbeddedRedis
from rtcc.registry.audit import Actor
from rtcc.registry.cache import ConsentCache
from rtcc.registry.importer import CameraSeed, import_seeds
from rtcc.registry.store import CameraInfo, HouseholdInfo, Registry

CAM = "browser-cam"
TOKEN = "chromium-token"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--allow-loopback-in-peer-connection", "--disable-features=WebRtcHideLocalIpsWithMdns",
    "--autoplay-policy=no-user-gesture-required", "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
]

PAGE = """<!doctype html><meta charset="utf-8"><title>WHIP publisher</title>
<script>
async function publish(url, token) {
  const stream = await navigator.mediaDevices.getUserMedia(
      {video: {width: 640, height: 360, frameRate: 10}, audio: false});
  const pc = new RTCPeerConnection({iceServers: []});
  const tr = pc.addTransceiver(stream.getVideoTracks()[0], {direction: "sendonly"});
  const h264 = RTCRtpSender.getCapabilities("video").codecs
      .filter(c => c.mimeType === "video/H264" || c.mimeType === "video/rtx");
  tr.setCodecPreferences(h264);
  await pc.setLocalDescription(await pc.createOffer());
  await new Promise(resolve => {       // non-trickle WHIP: wait for all candidates
    if (pc.iceGatheringState === "complete") return resolve();
    pc.onicegatheringstatechange = () => pc.iceGatheringState === "complete" && resolve();
    setTimeout(resolve, 3000);
  });
  const resp = await fetch(url, {method: "POST", body: pc.localDescription.sdp,
      headers: {"Content-Type": "application/sdp", "Authorization": "Bearer " + token}});
  if (resp.status !== 201) return {status: resp.status, error: await resp.text()};
  await pc.setRemoteDescription({type: "answer", sdp: await resp.text()});
  window.rtccPc = pc;
  return {status: resp.status, location: resp.headers.get("Location"),
          offerHasH264: pc.localDescription.sdp.includes("H264/90000")};
}
</script>"""


async def _page(_request: web.Request) -> web.Response:
    return web.Response(text=PAGE, content_type="text/html")


async def run(seconds: float) -> dict[str, Any]:
    from playwright.async_api import async_playwright

    tmp = Path(tempfile.mkdtemp(prefix="rtcc-cw-", dir="/tmp"))
    server = EmbeddedRedis(LIVE, tmp / "data", tmp / "run")
    server.start()
    redis = aredis.Redis.from_url(server.url)
    report: dict[str, Any] = {}
    try:
        registry = Registry(redis)
        await import_seeds(registry, [HouseholdInfo("h-browser")],
                           [CameraSeed(CameraInfo(CAM, "h-browser"), "live")],
                           actor=Actor("admin", "admin"))
        async with ConsentCache(redis) as cache, \
                Hub(redis, cache, HubMetrics(new_registry()), HubConfig()) as hub:
            hub.add_source(Source(CAM, whip=True, token=TOKEN))
            app = web.Application()
            app[HUB] = hub
            endpoint_routes(app)
            app.router.add_get("/", _page)
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            port = runner.addresses[0][1]
            try:
                async with async_playwright() as pw:
                    context = await pw.chromium.launch_persistent_context(
                        str(tmp / "profile"), executable_path="/usr/bin/chromium",
                        headless=True, args=CHROMIUM_ARGS)
                    try:
                        page = await context.new_page()
                        await page.goto(f"http://127.0.0.1:{port}/")
                        report["publish"] = await page.evaluate(
                            "([u, t]) => publish(u, t)",
                            [f"http://127.0.0.1:{port}/whip/{CAM}", TOKEN])
                        worker = hub.workers[CAM]
                        deadline = time.monotonic() + seconds
                        while time.monotonic() < deadline and worker.sink.delivered < 30:  # noqa: ASYNC110
                            await asyncio.sleep(0.1)
                        report["state"] = worker.status.state
                        report["received"] = worker.sink.received
                        report["delivered"] = worker.sink.delivered
                        report["sender_report"] = worker.sink._sr is not None
                        await hub.writer.flush()
                        latest = await channels.read_latest(redis, CAM, 10)
                        report["latest"] = [
                            {"seq": e.frame.seq, "t": e.frame.t, "ta": e.frame.ta,
                             "key": e.frame.key, "meta": e.frame.meta.decode()}
                            for e in latest]
                        gop = await channels.read_gop(redis, CAM)
                        report["gop_frames"] = len(gop)
                        if gop:
                            pictures = decode_annexb(b"".join(e.frame.au for e in gop),
                                                     strict=False)
                            report["decoded"] = len(pictures)
                            report["size"] = list(pictures[0].shape[:2]) if pictures else None
                        report["dropped"] = hub.metrics.dropped_total()
                        report["sessions"] = len(hub.whip.sessions)
                    finally:
                        await context.close()
            finally:
                await runner.cleanup()
    finally:
        await redis.aclose()
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return report


def main() -> int:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 20.0
    report = asyncio.run(run(seconds))
    print("REPORT " + json.dumps(report), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
