"""Runs tests/wall/browser_suite.py (headless Chromium against sim + hub + wall) inside a
loopback-only network namespace, and checks that every one of its tests passed."""

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from load_tests.wall_stack import netns_command

ROOT = Path(__file__).resolve().parents[2]
SUITE = [
    "test_login_form_leads_to_a_wall_of_every_live_camera",
    "test_every_tile_decodes_frames",
    "test_screenshot_of_the_wall",
    "test_exposure_counters_follow_the_frames",
    "test_revocation_blanks_the_tile_within_one_second",
    "test_a_crafted_websocket_subscription_is_refused",
    "test_whep_focus_view_plays_in_the_browser",
    "test_layouts_from_2x2_to_8x8",
    "test_mse_fallback_plays",
    "test_main_thread_rendering_plays",
    "test_cold_start_draws_on_the_main_thread_until_the_workers_are_ready",
    "test_yuv_painter_matches_chromium_colours[bt709]",
    "test_yuv_painter_matches_chromium_colours[smpte170m]",
    "test_yuv_painter_matches_chromium_colours[bt709-full]",
    "test_the_security_policy_blocks_nothing_the_wall_uses",
    "test_a_64_tile_page_opened_at_once_shows_every_first_picture",
]


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_wall_in_headless_chromium(tmp_path):
    report = tmp_path / "browser.xml"
    cmd = netns_command([sys.executable, "-m", "pytest", "tests/wall/browser_suite.py", "-q",
                         "-p", "no:cacheprovider", "-o", "timeout=200",
                         f"--junitxml={report}"])
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=230)
    output = f"{proc.stdout[-6000:]}\n{proc.stderr[-3000:]}"
    assert proc.returncode == 0, output
    cases = {c.get("name", ""): c for c in ET.parse(report).iter("testcase")}
    assert sorted(cases) == sorted(SUITE), output
    failed = [n for n, c in cases.items() if len(c)]  # a failure/error/skip child element
    assert not failed, output
