"""Replay mode: templates recorded once, replayed by many cameras with fresh SEI and clocks."""

from __future__ import annotations

import asyncio
import time

import pytest

from rtcc.media.encoder import decode_annexb
from rtcc.media.h264 import join_annexb
from rtcc.media.sei import build_sei_nal, find_ground_truth
from simulators.pattern import PatternCamera
from simulators.replay import ReplayCamera, Template, record_template
from simulators.rtp_out import chunk_nals
from tests.sim.conftest import SMALL, pyav_pull, read_barcode

T0 = 1_800_000_000_000_000


@pytest.fixture(scope="module")
def template() -> Template:
    cam = PatternCamera("tpl", width=SMALL[0], height=SMALL[1], fps=10)
    try:
        for _ in range(3):  # the recording must start with an IDR wherever the encoder is
            cam.capture(T0)
        return record_template(cam, "tpl", fps=10, width=SMALL[0], height=SMALL[1],
                               seconds=2.0, start_us=T0)
    finally:
        cam.close()


def test_recording_keeps_slices_and_subjects_without_sei(template: Template) -> None:
    assert len(template.frames) == 20
    assert [i for i, f in enumerate(template.frames) if f.keyframe] == [0, 10]
    assert template.next_keyframe[0] == 0 and template.next_keyframe[3] == 10
    assert template.next_keyframe[15] == 0  # wraps to the loop start
    for frame in template.frames:
        kinds = [n[0] & 0x1F for n in frame.head + frame.body]
        assert 6 not in kinds
        assert frame.head_chunks == chunk_nals(frame.head, 1388)
        assert frame.body_chunks == chunk_nals(frame.body, 1388)
        assert len(frame.subjects) == 1 and frame.subjects[0].role == "passer_by"
    assert [n[0] & 0x1F for n in template.frames[0].head] == [7, 8]
    assert template.bitrate > 10_000


def test_replayed_frames_decode_across_the_loop_with_fresh_ground_truth(
        template: Template) -> None:
    cam = ReplayCamera('cam-"42"\u00e9', template, start_index=0)  # needs JSON escaping
    frames = [cam.next_frame(T0 + i * 100_000) for i in range(45)]
    data = b"".join(join_annexb(f.nals) for f in frames)
    pictures = decode_annexb(data, format="gray")
    assert len(pictures) == 45
    # the picture loops with the template (pattern frames 3..22 were recorded)...
    assert [read_barcode(p) for p in pictures] == [3 + i % 20 for i in range(45)]
    # ...while the ground truth is this camera's own, frame after frame
    for i, f in enumerate(frames):
        truth = find_ground_truth(f.nals)
        assert truth is not None
        assert (truth.cam, truth.seq, truth.t) == ('cam-"42"\u00e9', i, T0 + i * 100_000)
        assert truth.subjects == template.frames[i % 20].subjects
        # the replay's assembled SEI is byte for byte what rtcc.media builds
        [sei] = [n for n in f.nals if n[0] & 0x1F == 6]
        assert sei == build_sei_nal(truth)
        assert f.octets == sum(map(len, f.chunks or ()))
        assert f.chunks == chunk_nals(f.nals, 1388)
        assert f.keyframe == (i % 10 == 0)


def test_keyframe_request_skips_ahead_and_staggered_starts(template: Template) -> None:
    cam = ReplayCamera("c", template, start_index=13)
    assert not cam.next_frame(T0).keyframe
    cam.force_keyframe()
    frame = cam.next_frame(T0)
    assert frame.keyframe and cam.index == 1  # jumped to index 0 (wrapped), now past it
    cam.force_keyframe()  # mid-GOP again: next IDR is index 10
    assert cam.next_frame(T0).keyframe and cam.index == 11
    seq = cam.seq
    cam.skip_frame()
    assert (cam.seq, cam.index) == (seq + 1, 12)


async def test_replay_fleet_serves_cameras_from_one_template(make_fleet) -> None:
    fleet = await make_fleet(3, replay=True, replay_templates=1)
    assert len(fleet.templates) == 1
    pulls = await asyncio.gather(*(asyncio.to_thread(pyav_pull, fleet.rtsp_url(cam), "tcp", 12)
                                   for cam in ("cam-0", "cam-2")))
    for cam, frames in zip(("cam-0", "cam-2"), pulls, strict=True):
        assert len(frames) >= 12 and frames[0].keyframe
        truths = [f.truth for f in frames]
        assert all(t is not None and t.cam == cam for t in truths)
        seqs = [t.seq for t in truths if t]
        assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
        steps = [b.t - a.t for a, b in zip(truths, truths[1:], strict=False) if a and b]
        assert all(s > 0 and s % 100_000 == 0 for s in steps)  # 10 fps (or a skipped beat)
    # the camera nobody watched still advanced its sequence (at 10 fps)
    idle = fleet.cameras["cam-1"].replay
    assert idle is not None and idle.seq >= 10
    assert fleet.cameras["cam-1"].feed.frames_published == 0


async def test_frame_clock_catches_up_after_a_stall_and_skips_beyond_a_second(make_fleet) -> None:
    fleet = await make_fleet(2, replay=True, replay_templates=1)
    cam = fleet.cameras["cam-0"].replay
    assert cam is not None
    await asyncio.sleep(0.35)
    seq0, t0 = cam.seq, time.monotonic()
    time.sleep(0.6)  # noqa: ASYNC251 -- the process gets no CPU for six frame intervals: every frame still goes
    await asyncio.sleep(0.35)
    sent, elapsed = cam.seq - seq0, time.monotonic() - t0
    assert fleet.cycles_skipped == 0
    assert abs(sent - elapsed * 10) <= 2, (sent, elapsed)
    time.sleep(1.5)  # noqa: ASYNC251 -- beyond MAX_CATCH_UP_SECONDS: the missed beats are given up and counted
    await asyncio.sleep(0.25)
    assert fleet.cycles_skipped >= 5


async def test_no_frame_is_stamped_with_a_capture_time_still_to_come(make_fleet) -> None:
    fleet = await make_fleet(7, replay=True, replay_templates=1)
    ticks: list[tuple[int, float]] = []
    original = fleet._tick

    def spy(cam, tick_us, loop):  # type: ignore[no-untyped-def]
        ticks.append((tick_us + cam.skew_us, time.time() * 1e6))
        original(cam, tick_us, loop)

    fleet._tick = spy  # type: ignore[method-assign]
    await asyncio.sleep(0.6)
    assert len(ticks) >= 7 * 4
    # Every camera's frame goes out at or after the instant it is stamped with (1 ms for the
    # clock's own resolution), and not much later on an idle loop.
    assert all(capture <= now + 1000 for capture, now in ticks), \
        max(capture - now for capture, now in ticks)
    assert sorted(now - capture for capture, now in ticks)[len(ticks) // 2] < 20_000
