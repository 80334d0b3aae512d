"""The map at 10,000 households (``rtcc world synth --households 10000``) in a real headless
Chromium, within generous bounds: the figures themselves come from load_tests/bench_map.py
(docs/benchmarks.md, "The map"), whose page, pan-and-zoom script and measurements this test
shares. Its own stack (no cameras streaming) and browser."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from load_tests.bench_map import RESOURCES, SCRIPT, browser, frame_summary, open_map
from load_tests.map_stack import MapStack

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


@pytest.fixture(scope="module")
def stack() -> Iterator[MapStack]:
    with MapStack(households=10_000, seed=1) as s:
        yield s


def test_ten_thousand_households_draw_and_pan_within_generous_bounds(stack: MapStack) -> None:
    token = stack.operator_token()
    with browser() as b:
        context, page = open_map(b, stack, "wall", token, stack.operator, "operator",
                                 timeout=90)
        try:
            drawn = page.evaluate("() => window.wall.mapDrawnAt")
            wire = page.evaluate(RESOURCES, "/api/map")
            data = page.evaluate("""() => { const d = window.wall.map().data;
              return [d.parcels.count, d.buildings.count, d.cameras.count, d.views.count]; }""")
            frames = page.evaluate(SCRIPT, "wall")
        finally:
            context.close()
    world = stack.world
    tiers = stack.camera_tiers()
    shown = sum(t in ("registry", "live") for t in tiers.values())
    assert data[:3] == [len(world.households), len(world.buildings), shown]
    assert data[3] >= shown * 0.9  # views: every shown camera that sees anything
    # The bounds are 2 s, 3 MB and a p95 of 33 ms on a quiet machine. The suite shares
    # two cores with everything else: generous bounds, that a map redrawn whole at every frame
    # or a document sent as GeoJSON would still break.
    assert drawn < 20_000, f"drawn after {drawn:.0f} ms"
    assert 0 < wire["mapTransfer"] < 3_000_000, wire
    summary = frame_summary(frames[2:])
    assert summary["frames"] > 100, summary
    assert summary["p95_ms"] < 250, summary
