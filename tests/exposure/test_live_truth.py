"""Live analysis against the simulator's ground truth, for a fixed seed.

Real simulated cameras render and encode H.264 with the ground-truth SEI; the test takes each
access unit's Annex-B bytes, finds the SEI without decoding (as the hub does), writes the
metadata entries of docs/channels.md and lets the analyzer count them from Redis. The
expected totals come from the simulator's own ``truth`` objects, never from the stream: every
frame is 100 ms after the previous one, so each unmasked subject in a frame is 100,000 µs.
A second, looser check compares with continuous time: where the scene puts each person every
10 ms, inside or outside the camera's visibility polygon.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

import numpy as np
import pytest
import redis.asyncio as aredis
import shapely

from rtcc import keys
from rtcc.exposure.live import BEYOND, LiveAnalyzer
from rtcc.media.h264 import split_annexb
from rtcc.media.sei import find_ground_truth_json
from rtcc.vocabulary import HOUSEHOLD_ROLES
from rtcc.world.synth import synthesize
from rtcc.world.visibility import visibility_polygons
from simulators.camera import SimCamera
from simulators.clock import SimClock
from simulators.rates import SceneRates
from simulators.scene import Scene
from tests.exposure.meta import xadd_meta

FPS = 10
FRAMES = 150
STEP_US = 1_000_000 // FPS
T0_US = 1_800_000_000_000_000
TIME_SCALE = 30.0


@pytest.mark.slow
async def test_live_totals_equal_the_simulators_ground_truth(redis: aredis.Redis) -> None:
    world = synthesize(30, 11, camera_rate=0.6, live_rate=0.3)
    live_households = {h.id for h in world.households.values() if h.consent == "live"}
    rates = SceneRates(passers_by_per_hour=3.0, visitors_per_hour=0.5, deliveries_per_hour=0.5,
                       resident_outings_per_hour=0.5, dog_share=0.8, dog_walks_per_hour=1.0)
    scene = Scene(world, rates, seed=5)
    clock = SimClock(TIME_SCALE, datetime(2026, 6, 2, 17, 0), wall_origin=T0_US / 1e6)
    cam_ids = sorted(world.cameras)[:3]
    cams = [SimCamera(world, world.cameras[c], scene, width=320, height=180, fps=FPS,
                      clock=clock) for c in cam_ids]
    expected: Counter[str] = Counter()
    seen_roles: set[str] = set()
    try:
        for i in range(FRAMES):
            t = T0_US + i * STEP_US
            pipe = redis.pipeline(transaction=False)
            for cam in cams:
                frame = cam.capture(t)
                for s in frame.truth.subjects:
                    if s.masked:
                        continue
                    seen_roles.add(s.role)
                    ok = s.household in live_households and s.role in HOUSEHOLD_ROLES
                    key = f"{cam.camera_id}|{s.role}|{s.band or BEYOND}|{'c' if ok else 'n'}"
                    expected[key] += STEP_US
                # As the hub does: find the SEI in the delivered bytes without decoding.
                meta = find_ground_truth_json(split_annexb(frame.au.annexb()))
                assert meta is not None
                xadd_meta(pipe, cam.camera_id, frame.seq, frame.capture_us, meta,
                          ta=frame.capture_us + 2_000, key=frame.keyframe)
            await pipe.execute()
    finally:
        for cam in cams:
            cam.close()
    assert len(seen_roles) >= 3, seen_roles  # the seed puts people of several kinds in view

    analyzer = LiveAnalyzer(redis, consenting=lambda h: h in live_households, batch=64)
    assert await analyzer.drain() == FRAMES * len(cams)
    raw: Any = await redis.hgetall(keys.EXPOSURE_STREAMS)
    got = {k.decode(): int(v) for k, v in raw.items()}
    assert got == dict(expected)

    # Continuous time: the scene sampled every 10 ms (wall) inside each visibility polygon.
    views = visibility_polygons(world, [world.cameras[c] for c in cam_ids])
    for cid in cam_ids:
        wall_seconds = 0.0
        visits = 0
        inside_before: set[str] = set()
        view = views[cid]
        shapely.prepare(view)
        for w in np.arange(T0_US, T0_US + FRAMES * STEP_US, 10_000):
            state = scene.state_at(clock.scene_time_us(int(w)))
            if len(state) == 0:
                inside_before = set()
                continue
            inside = shapely.contains_xy(view, state.xy[:, 0], state.xy[:, 1])
            now = {str(i) for i, ok in zip(state.ids, inside, strict=True) if ok}
            visits += len(now - inside_before)
            inside_before = now
            wall_seconds += 0.01 * len(now)
        counted = sum(v for k, v in got.items() if k.startswith(f"{cid}|")) / 1e6
        masked = 0.0  # synthesized cameras carry no masks
        # Frames sample every 100 ms: each visit gains or loses under a frame at its ends.
        assert abs(counted + masked - wall_seconds) <= 0.1 * visits + 0.3, (cid, counted,
                                                                            wall_seconds, visits)
