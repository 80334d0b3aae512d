"""The in-process fan-out against a real Redis and the registry's real consent cache."""

import asyncio
import time

import pytest

from rtcc.errors import ConsentError
from rtcc.media.sei import Subject
from rtcc.registry.cache import ConsentCache
from rtcc.wall.consent import WallConsent
from rtcc.wall.fanout import FeedHub
from rtcc.wall.frames import ViewerQueue, WallFrame
from rtcc.wall.protocol import unpack_frame
from tests.wall.conftest import seed_registry, set_tier


@pytest.fixture
async def hub(redis):
    await seed_registry(redis, {
        "cam-a": ("hh-a", "live"),
        "cam-b": ("hh-b", "live"),
        "cam-c": ("hh-c", "request"),
    }, {"hh-d": "live", "hh-e": "none"})
    cache = ConsentCache(redis)
    consent = WallConsent(cache, {"hh-d": "live", "hh-e": "none"})
    hub = FeedHub(redis, consent)
    consent.on_change(hub.consent_changed)
    await cache.start()
    await hub.start()
    yield hub
    await hub.close()
    consent.close()
    await cache.close()


async def frames_of(queue: ViewerQueue, n: int, within: float = 5.0) -> list[WallFrame]:
    out: list[WallFrame] = []
    deadline = time.monotonic() + within
    while len(out) < n:
        item = await asyncio.wait_for(queue.get(), deadline - time.monotonic())
        if isinstance(item, WallFrame):
            out.append(item)
    return out


async def queued(queue: ViewerQueue) -> list[WallFrame]:
    """The frames waiting in a queue, taken out without waiting for more."""
    out = []
    while len(queue):
        item = await queue.get()
        if isinstance(item, WallFrame):
            out.append(item)
    return out


def closer(log: list):
    return lambda cam, reason: log.append((cam, reason, time.monotonic()))


async def test_first_frame_is_the_cached_keyframe_at_once(hub, feeder):
    await feeder(["cam-a"], gop=10)
    await asyncio.sleep(0.55)  # mid-GOP: the cache holds a keyframe and some delta frames
    q = ViewerQueue()
    t0 = time.monotonic()
    index = await hub.subscribe("cam-a", q, closer([]))
    first = (await frames_of(q, 1))[0]
    assert time.monotonic() - t0 < 0.2
    assert first.key and first.index == index
    header, payload = unpack_frame(first.wire)
    assert header.key and payload.startswith(b"\x00\x00\x00\x01")
    # A second viewer joining later gets a keyframe first too, from the in-process cache.
    await asyncio.sleep(0.35)
    q2 = ViewerQueue()
    await hub.subscribe("cam-a", q2, closer([]))
    burst = await frames_of(q2, 2, within=1)
    assert burst[0].key and burst[1].seq == burst[0].seq + 1


async def test_each_stream_is_read_once_whatever_the_viewers(hub, feeder):
    f = await feeder(["cam-a", "cam-b"])
    await asyncio.sleep(0.3)
    viewers = [ViewerQueue() for _ in range(6)]
    for i, q in enumerate(viewers):
        await hub.subscribe("cam-a" if i % 2 else "cam-b", q, closer([]))
    start_read = hub.frames_read
    await asyncio.sleep(1.5)
    read = hub.frames_read - start_read
    written = sum(f.seq.values())
    # Every frame written during the window was read once (not once per viewer).
    assert 26 <= read <= 34, (read, written)
    for q in viewers:
        seqs = [x.seq for x in await queued(q)]
        assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))  # no gaps
        assert len(seqs) >= 14


async def test_a_viewer_that_never_reads_slows_nobody_and_stays_bounded(hub, feeder):
    await feeder(["cam-a"], width=640, height=360)
    await asyncio.sleep(0.3)
    stuck = ViewerQueue(max_bytes=20_000, max_frames=5)
    reader = ViewerQueue()
    await hub.subscribe("cam-a", stuck, closer([]))
    await hub.subscribe("cam-a", reader, closer([]))
    got = await frames_of(reader, 25, within=5)
    seqs = [f.seq for f in got]
    assert seqs == list(range(seqs[0], seqs[0] + 25))
    assert stuck.queued_bytes <= 20_000 and len(stuck) <= 5
    assert stuck.dropped["cam-a"] > 0
    assert reader.dropped["cam-a"] == 0


async def test_a_camera_that_is_not_live_cannot_be_subscribed(hub, feeder):
    await feeder(["cam-c"])
    with pytest.raises(ConsentError, match="cam-c"):
        await hub.subscribe("cam-c", ViewerQueue(), closer([]))
    with pytest.raises(ConsentError, match="cam-zz"):
        await hub.subscribe("cam-zz", ViewerQueue(), closer([]))
    assert hub.following() == []


async def test_revocation_closes_delivery_within_one_second(hub, feeder, redis):
    await feeder(["cam-a", "cam-b"])
    qa, qb = ViewerQueue(), ViewerQueue()
    closed: list = []
    await hub.subscribe("cam-a", qa, closer(closed))
    await hub.subscribe("cam-b", qb, closer(closed))
    await frames_of(qa, 3)
    t0 = time.monotonic()
    await set_tier(redis, "cam-a", "none")
    for _ in range(200):
        if closed:
            break
        await asyncio.sleep(0.01)
    assert closed and closed[0][:2] == ("cam-a", "revoked")
    assert closed[0][2] - t0 < 1.0
    assert not any(f.cam == "cam-a" for f in await queued(qa))
    assert hub.tile_state("cam-a") == "revoked"
    # The other camera keeps flowing.
    await frames_of(qb, 5, within=2)
    with pytest.raises(ConsentError):
        await hub.subscribe("cam-a", ViewerQueue(), closer([]))


async def test_exposure_counts_follow_household_consent(hub, feeder, redis):
    people = (
        Subject("r1", "hh-a", "resident", 2.0, "identify", (1, 1, 5, 9), False),  # cam-a live
        Subject("r2", "hh-b", "resident", 4.0, "recognise", (1, 1, 5, 9), False),  # cam-b live
        Subject("v1", "hh-a", "visitor", 4.0, "recognise", (1, 1, 5, 9), False),  # never agreed
        Subject("d1", "hh-d", "dog_walker", 9.0, "observe", (1, 1, 5, 9), False),  # seed live
        Subject("n1", "hh-e", "resident", 9.0, "observe", (1, 1, 5, 9), False),  # seed none
        Subject("p1", None, "passer_by", 12.0, "detect", (1, 1, 5, 9), False),
        Subject("m1", None, "passer_by", 12.0, "detect", (1, 1, 5, 9), True),  # masked
    )
    await feeder(["cam-a"], subjects=lambda cam, seq: people)
    q = ViewerQueue()
    await hub.subscribe("cam-a", q, closer([]))
    frame = (await frames_of(q, 2))[-1]
    header, _ = unpack_frame(frame.wire)
    # The visitor of the live household, the hh-e resident and the passer-by never agreed.
    assert (header.people, header.exposed) == (6, 3)
    await set_tier(redis, "cam-b", "registry")  # hh-b no longer consents to live
    await asyncio.sleep(0.3)
    later = (await frames_of(q, 2))[-1]
    assert (later.people, later.exposed) == (6, 4)
