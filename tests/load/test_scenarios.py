"""The fault scenario end to end at a small scale, and measuring already running services by URL
(``--redis-url``/``--hub-url``/``--sim-url``), both through ``python -m load_tests``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from load_tests.config import LoadConfig
from load_tests.measure import wait_live
from load_tests.pipeline import Pipeline
from load_tests.results import SCHEMA
from load_tests.stack import environment

ROOT = Path(__file__).resolve().parents[2]


def _run(args: list[str], out: Path, timeout: float) -> dict:
    proc = subprocess.run([sys.executable, "-m", "load_tests", *args, "--out", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    doc = json.loads((out / "results.json").read_text())
    jsonschema.validate(doc, SCHEMA)
    return doc


@pytest.mark.slow
@pytest.mark.timeout(200)
def test_faults_smoke(tmp_path: Path) -> None:
    doc = _run(["faults", "--cameras", "6", "--down", "2", "--warmup", "1", "--size", "320x180",
                "--templates", "1", "--recover-timeout", "60"], tmp_path / "f", 190)
    f = doc["faults"]
    assert f["killed"] == 2 and f["cameras"] == 6
    for name in ("kill", "redis", "hub"):
        ph = f["phases"][name]
        assert ph["recovered"], (name, ph)
        assert 0 < ph["time_from_fault_s"] < 60
        assert ph["time_to_recovery_s"] <= ph["time_from_fault_s"]
        assert ph["expected_frames"] > 0
    # Two cameras were gone for at least --down seconds: their frames are missing.
    assert f["phases"]["kill"]["frames_lost"] >= 2 * 10 * 2 * 0.8
    # The hub was down between its stop and its successor's start.
    assert f["phases"]["hub"]["frames_lost"] > 0
    kill = [p for p in f["curve"] if p["phase"] == "kill"]
    assert min(p["delivering"] for p in kill) <= 4
    assert max(p["delivering"] for p in f["curve"] if p["phase"] == "after") == 6
    assert f["budget"]["hub_reconnects"]["within_budget"]
    assert f["budget"]["sim_describes"]["within_budget"]
    assert f["pass"]
    assert (tmp_path / "f" / "recovery.png").stat().st_size > 10_000


@pytest.mark.slow
@pytest.mark.timeout(200)
def test_targets_running_services(tmp_path: Path) -> None:
    cfg = LoadConfig("ramp", cameras=3, size="320x180", templates=1)
    with environment(3, "320x180", 10.0, split=True) as e:
        p = Pipeline(e, cfg, [e.cameras[:3]]).start()
        try:
            wait_live(e.client, e.cameras[:3], 60)
            assert p.hub is not None and p.sims[0] is not None
            doc = _run(["ramp", "--redis-url", e.redis.url, "--hub-url", p.hub.metrics_url,
                        "--sim-url", p.sims[0].metrics_url, "--hold", "2"], tmp_path / "t", 120)
        finally:
            p.stop()
    steps = doc["target"]["steps"]
    assert len(steps) == 3
    for s in steps:
        assert s["cameras"] == 3 and s["streams_up"] == 3
        assert s["gaps"] == 0 and 50 <= s["frames"] <= 70
        assert abs(s["frames"] - s["frames_sent"]) <= 3
        assert s["latency_ms"]["p99"] > 0
        assert s["procs"]["hub"]["cores"] > 0 and s["procs"]["hub"]["rss_mb"] > 20


@pytest.mark.slow
@pytest.mark.timeout(200)
def test_mix_with_wall_viewers(tmp_path: Path) -> None:
    """RTSP and WHIP cameras together, all of ``rtcc serve``, one headless wall page."""
    doc = _run(["ramp", "--protocol", "mix", "--cameras", "2", "--step", "2", "--hold", "3",
                "--warmup", "1", "--viewers", "1", "--baseline", "0", "--size", "320x180",
                "--templates", "1"], tmp_path / "m", 190)
    (step,) = doc["ramp"]["steps"]
    assert doc["config"]["protocol"] == "mix" and step["streams_up"] == 2
    assert step["gaps"] == 0 and step["frames"] >= 2 * 10 * 3 * 0.8
    wall = step["wall"]
    assert wall["pages"] == 1 and wall["streams"] == 2 and not wall["errors"]
    assert wall["frames"] >= 2 * 10 * 3 * 0.7 and wall["gaps"] == 0
    assert 0 < wall["latency_ms"]["p50"] <= wall["latency_ms"]["p99"] < 5000
    assert wall["first_frame_ms"]["n"] == 2
    assert step["procs"]["viewers"]["rss_mb"] > 10


@pytest.mark.slow
@pytest.mark.timeout(200)
def test_ramp_with_a_chromium_wall_viewer(tmp_path: Path) -> None:
    """The wall page in headless Chromium as the viewer: latency to the picture drawn."""
    doc = _run(["ramp", "--cameras", "3", "--step", "3", "--hold", "4", "--warmup", "3",
                "--viewers", "1", "--viewer-kind", "browser", "--baseline", "0",
                "--size", "320x180", "--templates", "1"], tmp_path / "b", 190)
    (step,) = doc["ramp"]["steps"]
    assert doc["config"]["viewer_kind"] == "browser" and step["streams_up"] == 3
    wall = step["wall"]
    assert wall["kind"] == "browser" and wall["streams"] == 3 and not wall["errors"]
    assert wall["frames"] >= 3 * 10 * 4 * 0.7 and wall["gaps"] == 0  # decoded and drawn
    assert 0 < wall["latency_ms"]["p50"] <= wall["latency_ms"]["p99"] < 5000
    assert wall["first_frame_ms"]["n"] == 3
