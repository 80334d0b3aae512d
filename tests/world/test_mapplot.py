"""The map: a real PNG whose pixels show the tiers, the live views and the buildings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib import image as mpimg
from matplotlib.colors import to_rgb

from rtcc.world.mapplot import BUILDING, LIVE_VIEW, TIER_COLOURS, render_map, summary_title
from rtcc.world.synth import synthesize


def _share(img: np.ndarray, colour: str, tol: float = 0.02) -> float:
    """Share of pixels within ``tol`` of an exact colour (RGB floats)."""
    rgb = np.asarray(to_rgb(colour))
    close = np.all(np.abs(img[..., :3] - rgb) <= tol, axis=-1)
    return float(close.mean())


def test_map_shows_tiers_buildings_and_live_views(tmp_path: Path) -> None:
    world = synthesize(100, 7, live_rate=0.3)
    out = tmp_path / "map.png"
    render_map(world, out)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    img = mpimg.imread(out)
    h, w = img.shape[:2]
    assert w == 1800 and h > 1000
    # Parcels of every tier present in the world are drawn in their colour.
    for tier in ("none", "registry", "request", "live"):
        assert any(x.consent == tier for x in world.households.values())
        assert _share(img, TIER_COLOURS[tier]) > 0.0005, tier
    assert _share(img, BUILDING) > 0.02
    # Live views: vermillion blended over the map: strongly red pixels that no tier colour has.
    red = (img[..., 0] > 0.75) & (img[..., 1] < 0.75) & (img[..., 2] < 0.65)
    assert red.mean() > 0.01


def test_views_none_has_no_view_colour(tmp_path: Path) -> None:
    world = synthesize(30, 2, live_rate=0.5)
    out = tmp_path / "plain.png"
    render_map(world, out, show_views="none", title="plain")
    img = mpimg.imread(out)
    assert _share(img, LIVE_VIEW, tol=0.01) < 0.002  # only the live camera markers


def test_summary_title_counts() -> None:
    world = synthesize(40, 3)
    title = summary_title(world)
    assert "40 households" in title and f"{len(world.cameras)} cameras" in title
