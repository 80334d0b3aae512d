"""The capacity plan's arithmetic, worked by hand on round numbers, and how it reads the
benchmarks' results (load_tests.plan)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from load_tests.plan import Assumptions, Costs, compare, costs_from, fit, main, plan

COSTS = Costs(preset="720p15", fps=15.0, bitrate_bps=1_000_000.0, hub_fixed_cores=0.05,
              hub_cores_per_stream=0.0005, hub_max_cores_measured=0.5, redis_fixed_cores=0.01,
              redis_cores_per_stream=0.0002, redis_mb_per_camera=1.5, meta_stream_mb=13.0,
              wall_cores_per_viewer_stream=0.002, analyzer_frames_per_core=25_000.0,
              sources={k: "test" for k in ("hub", "redis", "bitrate", "wall", "analyzer")})


def test_fit_splits_a_fixed_part_from_the_part_per_stream() -> None:
    # 0.1 cores at 100 cameras, 0.5 at 1,000: 0.4 / 900 per stream, the rest fixed
    a, b = fit([(100, 0.1), (1000, 0.5)])
    assert b == pytest.approx(0.4 / 900) and a == pytest.approx(0.1 - 100 * 0.4 / 900)
    # one camera count: no fixed part to tell apart
    assert fit([(500, 0.3), (500, 0.32)]) == (0.0, pytest.approx(0.62 / 1000))
    # a fixed part below zero is noise: through zero instead
    assert fit([(100, 0.01), (1000, 0.5)]) == (0.0, pytest.approx(0.51 / 1100))
    assert COSTS.hub_per_stream(100) == pytest.approx(0.05 / 100 + 0.0005)


def test_jackson_by_hand() -> None:
    p = plan(1500, 4, COSTS, Assumptions())
    # one worker: 0.05 + 1,500 x 0.0005 = 0.8 cores > 0.7; two: 0.05 + 750 x 0.0005 = 0.425
    assert p["hub"]["workers_busy"] == 2 and p["hub"]["workers"] == 3
    assert p["hub"]["cores_per_worker"] == pytest.approx(0.425)
    assert p["hub"]["cores"] == pytest.approx(2 * 0.05 + 1500 * 0.0005)  # 0.85
    # Redis: (1,500 x 1.5 MB + 13 MB) = 2.263 GB -> 1 master by memory; one server's work
    # 0.01 + 1,500 x 0.0002 = 0.31 cores -> 1 by CPU (0.7 - 0.014 usable); at least 3 masters,
    # each 0.014 cores above the one server's work
    assert p["redis"]["memory_gb"] == pytest.approx(2.263)
    assert p["redis"]["memory_gb_with_replicas"] == pytest.approx(4.526)
    assert (p["redis"]["masters_by_memory"], p["redis"]["masters_by_cpu"],
            p["redis"]["masters"]) == (1, 1, 3)
    assert p["redis"]["cores"] == pytest.approx(0.31 + 3 * 0.014)
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
    # a worker holds what fits in 0.7 cores: 0.05 + n x 0.0005 <= 0.7 -> n <= 1,300
    assert p["hub"]["workers_busy"] == math.ceil(100_000 / 1300) == 77
    # one server's work 0.01 + 20 = 20.01 cores -> 30 masters by CPU; 150 GB -> 7 by memory
    assert (p["redis"]["masters_by_cpu"], p["redis"]["masters_by_memory"]) == (30, 7)
    assert p["redis"]["masters"] == 30
    # the metadata stream is one key: half of 20 cores on one master
    assert p["redis"]["meta_stream_outgrows_a_core"]
    assert p["wall"]["servers"] == math.ceil(40 * 16 * 0.002 / 0.7) == 2


def test_a_fixed_worker_and_master_count_is_kept_for_the_comparison_with_a_run() -> None:
    p = plan(300, 4, COSTS, Assumptions(), workers=2, masters=5)
    assert p["hub"]["workers_busy"] == 2 and p["redis"]["masters"] == 5
    assert p["hub"]["cores"] == pytest.approx(2 * 0.05 + 300 * 0.0005)
    assert p["redis"]["cores"] == pytest.approx(0.01 + 300 * 0.0002 + 5 * 0.014)


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
                "slo": {"loss": ok, "streams_up": True, "p99": ok},
                "redis_cores": n * 0.0002, "delivered_mbit_s_per_stream": 1.05,
                "memory": {"video_key_bytes": {"median": 1.4e6}, "meta_stream_mb": 12.5}}

    return {"presets": {"720p15": {
        "preset": {"fps": 15.0},
        "ladder": {"steps": [step(250, 0.2), step(500, 0.3), step(1000, 0.9, ok=False)],
                   "repeats": [step(500, 0.3), step(500, 0.32), step(500, 0.28)]}}}}


def test_costs_come_from_the_passing_ladder_steps() -> None:
    c = costs_from(_bench(), "720p15", "bench.json")
    # the failing 1,000 is left out; (250, 0.2) and four at 500 (0.3, 0.3, 0.32, 0.28):
    # mean 450 cameras, 0.28 cores; slope 20 / 50,000 = 0.0004, fixed 0.28 - 0.18 = 0.1
    assert [n for n, _ in c.ladder] == [250, 500, 500, 500, 500]
    assert c.hub_cores_per_stream == pytest.approx(0.0004)
    assert c.hub_fixed_cores == pytest.approx(0.1)
    assert c.redis_cores_per_stream == pytest.approx(0.0002)
    assert c.redis_fixed_cores == pytest.approx(0.0, abs=1e-9)
    assert c.bitrate_bps == pytest.approx(1.05e6)
    assert c.redis_mb_per_camera == pytest.approx(1.4) and c.meta_stream_mb == 12.5
    assert c.hub_max_cores_measured == 0.32
    with pytest.raises(ValueError, match="no ladder for preset 1080p15"):
        costs_from(_bench(), "1080p15", "bench.json")


def test_a_busy_machine_s_steps_without_loss_still_give_the_costs() -> None:
    bench = _bench()
    lad = bench["presets"]["720p15"]["ladder"]
    for st in lad["steps"] + lad["repeats"]:
        st["pass"] = False  # p99 over 100 ms: another job on the machine
    lad["steps"][2]["slo"]["loss"] = False  # the 1,000-camera step lost frames
    c = costs_from(bench, "720p15", "bench.json")
    assert "steps without loss" in c.sources["hub"]
    assert [n for n, _ in c.ladder] == [250, 500, 500, 500, 500]


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
