"""Smoke test of ``python -m load_tests jackson`` at a few cameras: the whole city stack on
loopback (replay simulators, two hub workers sharing leases on a 3-master Redis Cluster, the live
analyzer, a wall server and WebSocket viewers), measured in windows and written to results.json
with its provenance; the numbers are checked for plausibility, not speed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.timeout(180)
def test_jackson_smoke(tmp_path: Path) -> None:
    out = tmp_path / "run"
    proc = subprocess.run(
        [sys.executable, "-m", "load_tests", "jackson", "--cameras", "8", "--preset", "360p10",
         "--fraction", "0.5", "--duration", "6", "--sample", "3",
         "--viewers", "1", "--tiles", "4", "--sim-cameras", "4", "--plain", "--force",
         "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=170)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    doc = json.loads((out / "results.json").read_text())
    assert doc["mode"] == "jackson"
    assert doc["provenance"]["preset"] == "360p10" and doc["provenance"]["git"]["commit"]
    assert doc["provenance"]["load"]["before"] and "busy" in doc
    assert doc["codec"]["preset"] == "360p10"
    j = doc["jackson"]
    assert j["probes"] == [] and j["fraction"] == 0.5
    run = j["run"]
    assert run["cameras"] == 4 and run["fraction"] == 0.5 and len(run["windows"]) == 2
    # every camera delivered, through two hub workers, and nothing was lost
    assert all(w["live"] == 4 for w in run["windows"])
    assert run["frames_sent"] > 0 and run["lost"] == 0
    assert abs(run["frames_written"] - run["frames_sent"]) <= 2 * 4 * len(run["windows"])
    assert {"hubs", "sims", "wall", "analyzer", "viewers", "redis_live", "redis_state"} <= \
        set(run["procs"])
    assert sorted(run["per_process_cores"]) == ["hub-1", "hub-2", "sim0"]
    assert run["procs"]["redis_live"]["rss_mb"] > 1 and run["redis_used_memory_mb"] > 0
    assert 0 < run["p99_ms"]["median_of_windows"] < 10_000
    assert run["analyzer"]["frames"] > 0
    wall = run["wall"]
    assert wall["streams"] == 4 and wall["frames"] > 0 and wall["fps_min"] > 0
    assert 0 < wall["latency_ms"]["p99"] < 10_000
    assert run["ran_out_first"]
    summary = (out / "summary.md").read_text()
    assert "Jackson end to end" in summary and "| hubs |" in summary
