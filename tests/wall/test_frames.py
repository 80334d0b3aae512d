"""The per-viewer queue: bounded, drops to the next keyframe, control messages first."""

import asyncio

from rtcc.wall.frames import ViewerQueue, WallFrame
from rtcc.wall.protocol import FrameHeader, pack_frame


def frame(cam: str, seq: int, key: bool, size: int = 100) -> WallFrame:
    wire = pack_frame(FrameHeader(0, seq, seq, key), b"\x00" * size)
    return WallFrame(cam, 0, seq, seq, key, wire)


async def drain(q: ViewerQueue) -> list:
    out = []
    while len(q) or q._control:
        out.append(await q.get())
    return out


async def test_a_camera_starts_at_a_keyframe():
    q = ViewerQueue()
    q.add_camera("a")
    assert not q.offer(frame("a", 1, False))
    assert q.offer(frame("a", 2, True))
    assert q.offer(frame("a", 3, False))
    assert [f.seq for f in await drain(q)] == [2, 3]
    assert q.dropped["a"] == 1


async def test_overflow_drops_to_the_next_keyframe_and_stays_bounded():
    size = 1000
    q = ViewerQueue(max_bytes=5 * (size + 20), max_frames=1000)
    q.add_camera("a")
    q.add_camera("b")
    q.offer(frame("a", 0, True, size))
    q.offer(frame("b", 0, True, size))
    for seq in range(1, 30):  # nobody reads: 29 more frames each, GOP of 10
        q.offer(frame("a", seq, seq % 10 == 0, size))
        q.offer(frame("b", seq, seq % 10 == 0, size))
        assert q.queued_bytes <= q.max_bytes
    got = await drain(q)
    a = [f.seq for f in got if f.cam == "a"]
    # Queued until full, then nothing of "a" until a keyframe found room (none did: still full).
    assert a == [0, 1, 2]
    assert q.dropped["a"] == 27
    # Once drained, the next keyframe gets in and the stream continues from it.
    assert not q.offer(frame("a", 31, False, size))
    assert q.offer(frame("a", 40, True, size))
    assert q.offer(frame("a", 41, False, size))
    assert [f.seq for f in await drain(q)] == [40, 41]


async def test_frame_count_bound():
    q = ViewerQueue(max_bytes=10**9, max_frames=3)
    q.add_camera("a")
    results = [q.offer(frame("a", i, i == 0)) for i in range(6)]
    assert results == [True, True, True, False, False, False]
    assert len(q) == 3


async def test_removing_a_camera_forgets_its_frames():
    q = ViewerQueue()
    q.add_camera("a")
    q.add_camera("b")
    q.offer(frame("a", 0, True))
    q.offer(frame("b", 0, True))
    q.remove_camera("a")
    assert not q.offer(frame("a", 1, True))
    assert [f.cam for f in await drain(q)] == ["b"]


async def test_control_overtakes_frames_and_get_waits():
    q = ViewerQueue()
    q.add_camera("a")
    q.offer(frame("a", 0, True))
    q.push_control('{"op":"x"}')
    assert await q.get() == '{"op":"x"}'
    first = await q.get()
    assert isinstance(first, WallFrame) and first.seq == 0
    waiter = asyncio.ensure_future(q.get())
    await asyncio.sleep(0.01)
    assert not waiter.done()
    q.offer(frame("a", 1, False))
    got = await asyncio.wait_for(waiter, 1)
    assert isinstance(got, WallFrame) and got.seq == 1


async def test_close_wakes_the_reader_with_none():
    q = ViewerQueue()
    waiter = asyncio.ensure_future(q.get())
    await asyncio.sleep(0)
    q.close()
    assert await asyncio.wait_for(waiter, 1) is None
    assert not q.push_control("x")
