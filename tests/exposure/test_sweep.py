"""Opt-in-rate sweeps: one draw worked out by hand, workers agreeing with one process, progress."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest

from rtcc.errors import ConfigError
from rtcc.exposure.sweep import Geometry, Progress, SweepSpec, evaluate, parse_rates, run_sweep
from rtcc.world.geojson import save_world
from rtcc.world.synth import synthesize


def hand_geometry() -> Geometry:
    # cam0 (h0's) sees h0 and h1; cam1 (h2's) sees h2 and h1; a city camera sees h2.
    return Geometry(
        n_households=3,
        cam_owner=np.array([0, 2, -1]),
        cam_fixed_live=np.array([False, False, True]),
        pair_cam=np.array([0, 0, 1, 1, 2]),
        pair_hh=np.array([0, 1, 2, 1, 2]),
        detect=[], sidewalks=[], sidewalk_m=0.0)


@pytest.mark.parametrize(("rate", "live_cams", "non", "exposed", "leakage"), [
    (0.0, 1, 3, 1, 1 / 3),   # only the city camera: h2 of h0, h1, h2
    (0.3, 2, 2, 2, 1.0),     # h0 joins: cam0 shows h1; the city camera h2
    (0.6, 2, 1, 1, 1.0),     # h1 joins too (no camera): h2 is left, and seen
    (0.95, 3, 0, 0, None),   # everybody joined
])
def test_one_draw_by_hand(rate: float, live_cams: int, non: int, exposed: int,
                          leakage: float | None) -> None:
    u = np.array([0.1, 0.5, 0.9])
    row = evaluate(hand_geometry(), u, rate)
    assert row["live_cameras"] == live_cams
    assert row["non_consenting"] == non
    assert row["exposed_non_consenting"] == exposed
    assert row["consent_leakage"] == (pytest.approx(leakage) if leakage is not None else None)
    assert "trackability" not in row


def test_parse_rates() -> None:
    rates = parse_rates("0:1:21")
    assert len(rates) == 21 and rates[1] == 0.05 and rates[-1] == 1.0
    assert parse_rates("0,0.25,1") == (0.0, 0.25, 1.0)
    with pytest.raises(ConfigError, match="--rates 'a:b'"):
        parse_rates("a:b")
    with pytest.raises(ConfigError, match="between 0 and 1"):
        SweepSpec((0.5, 1.5), (0,), households=10)
    with pytest.raises(ConfigError, match="either a world file or --households"):
        SweepSpec((0.5,), (0,))


def test_workers_agree_with_one_process_and_curves_grow(tmp_path: Path) -> None:
    path = tmp_path / "w.geojson"
    save_world(synthesize(120, 4, camera_rate=0.4), path)
    spec = SweepSpec(parse_rates("0:1:6"), (0, 1, 2), world_path=str(path))
    one = run_sweep(spec, workers=1, progress=False)
    two = run_sweep(spec, workers=2, progress=False)
    assert one.rows == two.rows and two.workers == 2
    for seed in spec.seeds:
        rows = [r for r in one.rows if r["seed"] == seed]
        cams = [r["live_cameras"] for r in rows]
        track = [r["trackability"] for r in rows]
        assert cams == sorted(cams) and cams[0] < cams[-1]
        assert track == sorted(track)
    by = one.by_rate()
    assert [b["rate"] for b in by] == list(spec.rates)
    assert by[0]["min"] <= by[0]["median"] <= by[0]["max"]


def test_synthesized_worlds_differ_by_seed() -> None:
    spec = SweepSpec((0.5,), (0, 1), households=60, synth_options={"camera_rate": 0.5},
                     coverage=False)
    rows = run_sweep(spec, workers=1, progress=False).rows
    assert rows[0]["seed"] == 0 and rows[1]["seed"] == 1
    assert (rows[0]["live_cameras"], rows[0]["exposed_non_consenting"]) != \
        (rows[1]["live_cameras"], rows[1]["exposed_non_consenting"])


def test_progress_lines_without_a_terminal() -> None:
    out = io.StringIO()
    bar = Progress(20, "sweep", out)
    for _ in range(20):
        bar.advance(1)
    lines = out.getvalue().splitlines()
    assert 2 <= len(lines) <= 11  # about one line per tenth when stderr is not a terminal
    assert lines[-1].startswith("sweep [##############################] 20/20")
