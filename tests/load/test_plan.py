"""The capacity plan's arithmetic, worked by hand on round numbers, and how it reads the
benchmarks' results (load_tests.plan)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from load_tests.plan import Assumptions, Costs, compare, costs_from, main, plan

COSTS = Costs(preset="720p15", fps=15.0, bitrate_bps=1_000_000.0,
              hub_ladder=((100, 0.001), (1000, 0.0005)), hub_max_cores_measured=0.5,
              redis_cores_per_stream=0.0002, redis_mb_per_camera=1.5, meta_stream_mb=13.0,
              wall_cores_per_viewer_stream=0.002, analyzer_frames_per_core=25_000.0,
              sources={k: "test" for k in ("hub", "redis", "bitrate", "wall", "analyzer")})


def test_hub_cost_per_stream_follows_the_ladder_on_a_log_scale() -> None:
    assert COSTS.hub_per_stream(100) == 0.001 and COSTS.hub_per_stream(1000) == 0.0005
    assert COSTS.hub_per_stream(50) == 0.001 and COSTS.hub_per_stream(5000) == 0.0005
    # sqrt(100 * 1000) is half way on log(cameras): half way between the costs
    assert COSTS.hub_per_stream(math.sqrt(100 * 1000)) == pytest.approx(0.00075)


def test_jackson_by_hand() -> None:
    p = plan(1500, 4, COSTS, Assumptions())
    # one worker: 1,500 x 0.0005 = 0.75 cores > 0.7; two: 750 each, at 750 cameras the ladder
    # gives 0.001 - 0.5 * ln(7.5)/ln(10) * 0.001 = 0.00056245 -> 0.42 cores each
    assert p["hub"]["workers_busy"] == 2 and p["hub"]["workers"] == 3
    assert p["hub"]["cores_per_stream"] == pytest.approx(0.00056245, rel=1e-4)
    assert p["hub"]["cores"] == pytest.approx(1500 * 0.00056245, rel=1e-4)
    # Redis: (1,500 x 1.5 MB + 13 MB) = 2.263 GB -> 1 master by memory; 0.3 cores -> 1 by CPU;
    # at least 3 masters
    assert p["redis"]["memory_gb"] == pytest.approx(2.263)
    assert p["redis"]["memory_gb_with_replicas"] == pytest.approx(4.526)
    assert (p["redis"]["masters_by_memory"], p["redis"]["masters_by_cpu"],
            p["redis"]["masters"]) == (1, 1, 3)
    assert p["redis"]["meta_master_cores"] == pytest.approx(0.15)
    assert not p["redis"]["meta_stream_outgrows_a_core"]
    # wall: 4 pages x 16 tiles x 0.002 = 0.128 cores -> 1 server; analyzer 22,500 frames/s
    # over 25,000 per core = 0.9 cores -> 2 processes of at most 0.7
    assert p["wall"] == {"servers": 1, "viewer_streams": 64, "cores": pytest.approx(0.128),
                         "cameras_followed_per_server": 64}
    assert p["analyzer"]["cores"] == pytest.approx(0.9) and p["analyzer"]["processes"] == 2
    net = p["network_mbit_s"]
    assert net["cameras_to_hubs"] == pytest.approx(1500)
    assert net["meta_to_analyzer"] == pytest.approx(22_500 * 330 * 8 / 1e6)  # 59.4
    assert net["hubs_to_redis"] == pytest.approx(1500 + 59.4)
    assert net["redis_replication"] == pytest.approx(1500)
    assert net["redis_to_wall_servers"] == pytest.approx(64)
    assert net["wall_to_viewers"] == pytest.approx(64)


def test_a_national_service_by_hand() -> None:
    p = plan(100_000, 40, COSTS, Assumptions())
    # each worker holds what fits under 0.7 cores at 0.0005 per stream: 1,400 cameras; the
    # ladder ends at 1,000 so the cost per stream stays 0.0005 beyond it
    assert p["hub"]["workers_busy"] == math.ceil(100_000 * 0.0005 / 0.7) == 72
    # 20 Redis cores -> 29 masters by CPU; 150 GB -> 7 by memory
    assert (p["redis"]["masters_by_cpu"], p["redis"]["masters_by_memory"]) == (29, 7)
    assert p["redis"]["masters"] == 29
    # the metadata stream is one key: half of 20 cores on one master
    assert p["redis"]["meta_stream_outgrows_a_core"]
    assert p["wall"]["servers"] == math.ceil(40 * 16 * 0.002 / 0.7) == 2


def test_a_fixed_worker_count_is_kept_for_the_comparison_with_a_run() -> None:
    p = plan(300, 4, COSTS, Assumptions(), workers=2)
    assert p["hub"]["workers_busy"] == 2
    assert p["hub"]["cores_per_stream"] == pytest.approx(COSTS.hub_per_stream(150))


def test_compare_calls_a_figure_within_25_percent() -> None:
    p = plan(300, 4, COSTS, Assumptions(), workers=2)
    run = {"procs": {"hubs": {"cores": p["hub"]["cores"] * 1.2},
                     "redis_live": {"cores": p["redis"]["cores"] * 2},
                     "analyzer": {"cores": p["analyzer"]["cores"]},
                     "wall": {"cores": p["wall"]["cores"] * 0.8}},
           "redis_used_memory_mb": p["redis"]["memory_gb"] * 1000 / 1.3, "wall": {"pages": 4}}
    rows = {r["what"]: r for r in compare(p, run)}
    assert rows["hub cores (all workers)"]["within"]  # 1/1.2 = 0.83
    assert not rows["Redis cores"]["within"]  # 0.5
    assert rows["analyzer cores"]["ratio"] == pytest.approx(1.0)
    assert rows["wall cores"]["within"]  # 1.25
    assert rows["Redis memory GB"]["ratio"] == pytest.approx(1.3)
    assert not rows["Redis memory GB"]["within"]


def _bench() -> dict:
    def step(n: int, hub: float, ok: bool = True) -> dict:
        return {"cameras": n, "pass": ok, "hub_cores": hub, "hub_cores_per_stream": hub / n,
                "redis_cores": n * 0.0002, "delivered_mbit_s_per_stream": 1.05,
                "memory": {"video_key_bytes": {"median": 1.4e6}, "meta_stream_mb": 12.5}}

    return {"presets": {"720p15": {
        "preset": {"fps": 15.0},
        "ladder": {"steps": [step(250, 0.2), step(500, 0.3), step(1000, 0.9, ok=False)],
                   "repeats": [step(500, 0.3), step(500, 0.32), step(500, 0.28)]}}}}


def test_costs_come_from_the_passing_ladder_steps() -> None:
    c = costs_from(_bench(), "720p15", None, "bench.json", None)
    assert c.hub_ladder == ((250, 0.2 / 250), (500, 0.3 / 500))  # the failing 1,000 is left out
    assert c.bitrate_bps == pytest.approx(1.05e6)
    assert c.redis_mb_per_camera == pytest.approx(1.4) and c.meta_stream_mb == 12.5
    assert c.hub_max_cores_measured == 0.32
    with pytest.raises(ValueError, match="no ladder for preset 1080p15"):
        costs_from(_bench(), "1080p15", None, "bench.json", None)


def test_the_command_prints_each_plan_and_refuses_bad_input(tmp_path: Path, capsys) -> None:
    bench = tmp_path / "bench.json"
    bench.write_text(json.dumps(_bench()))
    assert main(["--cameras", "1500", "--cameras", "10000", "--preset", "720p15",
                 "--results", str(bench)]) == 0
    out = capsys.readouterr().out
    assert "## 1,500 cameras at 720p15" in out and "## 10,000 cameras at 720p15" in out
    assert "| hub workers |" in out and "| Redis memory |" in out
    with pytest.raises(SystemExit) as exit_:
        main(["--cameras", "10", "--preset", "1536p15", "--results", str(bench)])
    assert exit_.value.code == 2
    assert "no ladder for preset 1536p15" in capsys.readouterr().err
