"""Headless Chromium publishes its fake camera over WHIP to the hub, inside a loopback-only
network namespace (the whole peer, hub and Redis included, runs in that namespace)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_chromium_publishes_h264_over_whip() -> None:
    assert shutil.which("unshare") and Path("/usr/bin/chromium").exists()
    proc = subprocess.run(
        ["unshare", "-n", "bash", "-c", 'ip link set lo up && exec "$@"', "netns",
         sys.executable, "-m", "tests.ingest.chromium_whip_peer", "25"],
        cwd=ROOT, capture_output=True, text=True, timeout=100,
    )
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("REPORT ")]
    assert proc.returncode == 0 and lines, proc.stderr[-3000:]
    report = json.loads(lines[-1].removeprefix("REPORT "))

    assert report["publish"]["status"] == 201 and report["publish"]["offerHasH264"]
    assert report["publish"]["location"].startswith("/whip/browser-cam/")
    assert report["state"] == "live"
    assert report["delivered"] >= 30 and report["dropped"] == 0
    latest = report["latest"]
    assert [f["seq"] for f in latest] == list(range(latest[0]["seq"], latest[0]["seq"] - 10, -1))
    for f in latest:
        assert f["meta"] == ""  # a browser sends no ground truth
        # Capture time from Chromium's RTCP sender reports: before arrival, by milliseconds.
        assert report["sender_report"] and 0 < f["ta"] - f["t"] < 200_000
    # The channel's GOP decodes: passthrough kept Chromium's H.264 intact.
    assert report["gop_frames"] >= 1 and report["decoded"] == report["gop_frames"]
    assert report["size"] == [360, 640]
