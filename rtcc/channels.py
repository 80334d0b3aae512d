"""The live-channel schema in Redis (docs/channels.md): writing and reading frames, fast-start GOPs,
camera states and the frame-metadata stream.

The hub writes through :class:`ChannelWriter`, which only *queues* commands on a pipeline the caller
executes (the hub batches many cameras into one round trip). The wall and the analyzer read with
the ``read_*``/``xread_*`` coroutines. Field values are bytes on the wire; readers decode them into
the slotted values below so nobody else parses stream fields by hand.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aredis
from redis.asyncio.cluster import PipelineCommand
from redis.crc import key_slot
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

from rtcc import keys
from rtcc.connections import is_cluster
from rtcc.vocabulary import CameraState

Command = tuple[Any, ...] | list[bytes | memoryview]
"""One Redis command: a tuple of its arguments (bytes, str or numbers), or a list of byte
strings (a large payload among them as a memoryview) that together are the command already
RESP-encoded."""

CLUSTER_POLL_S = 0.01
"""On a Redis Cluster, :func:`xread_frames` polls (see there) with this pause between rounds."""

PAYLOAD_BY_REFERENCE = 2048
"""Access units at least this large are written to Redis without a copy into the batch."""

#: Entries kept in ``rtcc:meta:frames`` and ``rtcc:cameras:events`` (approximate trimming).
META_MAXLEN = 100_000
EVENTS_MAXLEN = 10_000


@dataclass(slots=True)
class Frame:
    """One delivered access unit and its metadata, as stored in ``rtcc:{cam}:video``.

    Not frozen, though nothing changes one: the hub builds one per frame, and a frozen
    dataclass's ``__init__`` (``object.__setattr__`` per field) costs 1.5 µs against 0.4."""

    cam: str
    seq: int
    t: int
    """Capture time, unix microseconds."""
    ta: int
    """Hub arrival time, unix microseconds."""
    key: bool
    au: bytes
    """Annex-B access unit (4-byte start codes, SPS/PPS before every IDR)."""
    meta: bytes = b""
    """The ground-truth JSON from the SEI, or empty."""


@dataclass(frozen=True, slots=True)
class Entry:
    """A frame with its stream entry id (``<ms>-<n>``)."""

    id: str
    frame: Frame


@dataclass(frozen=True, slots=True)
class FrameMeta:
    """One entry of ``rtcc:meta:frames``: a delivered frame without its video bytes."""

    id: str
    cam: str
    seq: int
    t: int
    ta: int
    key: bool
    meta: bytes


@dataclass(frozen=True, slots=True)
class StateRecord:
    """The ``rtcc:{cam}:state`` hash."""

    cam: str
    state: str
    """A :class:`~rtcc.vocabulary.CameraState` when the hub writes it; :func:`read_state` gives
    the stored word unchecked (the wall shows a word it does not know as reconnecting)."""
    reason: str = ""
    since: float = 0.0
    source: str = ""
    """Source URL with credentials redacted (or ``whip``)."""
    reconnects: int = 0
    frames: int = 0


def _s(value: bytes | str | None) -> str:
    if value is None:
        return ""
    return value.decode() if isinstance(value, bytes) else value


def _frame(cam: str, fields: Mapping[bytes, bytes]) -> Frame:
    return Frame(
        cam=cam,
        seq=int(fields.get(b"seq", b"0")),
        t=int(fields.get(b"t", b"0")),
        ta=int(fields.get(b"ta", b"0")),
        key=fields.get(b"key") == b"1",
        au=fields.get(b"au", b""),
        meta=fields.get(b"meta", b""),
    )


class ChannelWriter:
    """Builds the schema's write commands (tuples of RESP arguments) for a batch.

    The caller appends them to one list per batch and sends it as one pipeline (the hub uses
    :class:`rtcc.ingest.resp.RespConnection`; ``redis-py`` users can replay the tuples with
    ``pipe.execute_command(*cmd)``). ``live_window`` seconds of video are kept per camera: every
    XADD trims with ``MINID ~ now - window`` so nothing older survives (approximately: Redis trims
    whole radix-tree nodes, so a few extra entries may linger until the next write).
    """

    def __init__(self, live_window: float = 10.0, meta_maxlen: int = META_MAXLEN,
                 events_maxlen: int = EVENTS_MAXLEN) -> None:
        self.window_ms = int(live_window * 1000)
        self.meta_maxlen = meta_maxlen
        self.events_maxlen = events_maxlen
        self._prefixes: dict[str, tuple[bytes, bytes]] = {}
        self._minid_ms = -1
        self._minid = b""

    def add_frame(self, cmds: list[Command], frame: Frame, now_ms: int) -> None:
        """XADD the frame to its channel and its metadata to ``rtcc:meta:frames``.

        The reply of the first command is the new entry id (for :meth:`set_gop`). Both commands
        are emitted already RESP-encoded (a list of byte strings, see
        :func:`rtcc.ingest.resp.pack`): this runs for every frame of every camera, and the
        constant parts of each command are encoded once per camera.
        """
        prefixes = self._prefixes.get(frame.cam)
        if prefixes is None:
            prefixes = self._prefixes[frame.cam] = self._encode_prefixes(frame.cam)
        video, meta_head = prefixes
        if now_ms != self._minid_ms:
            minid = b"%d" % (now_ms - self.window_ms)
            self._minid_ms, self._minid = now_ms, b"$%d\r\n%s\r\n$1\r\n*\r\n" % (len(minid), minid)
        seq, t, ta = b"%d" % frame.seq, b"%d" % frame.t, b"%d" % frame.ta
        fields = (b"$3\r\nseq\r\n$%d\r\n%s\r\n$1\r\nt\r\n$%d\r\n%s\r\n$2\r\nta\r\n$%d\r\n%s\r\n"
                  b"$3\r\nkey\r\n$1\r\n%s\r\n$4\r\nmeta\r\n$%d\r\n"
                  % (len(seq), seq, len(t), t, len(ta), ta, b"1" if frame.key else b"0",
                     len(frame.meta)))
        au = frame.au
        # A large access unit is marked (a memoryview, rtcc.ingest.resp.PAYLOAD_AT) to be
        # written to the socket from where it is instead of copied into the batch.
        cmds.append([video, self._minid, b"$2\r\nau\r\n$%d\r\n" % len(au),
                     memoryview(au) if len(au) >= PAYLOAD_BY_REFERENCE else au, b"\r\n",
                     fields, frame.meta, b"\r\n"])
        cmds.append([meta_head, fields, frame.meta, b"\r\n"])

    def _encode_prefixes(self, cam: str) -> tuple[bytes, bytes]:
        def bulk(value: bytes) -> bytes:
            return b"$%d\r\n%s\r\n" % (len(value), value)

        video = b"*18\r\n" + bulk(b"XADD") + bulk(keys.video(cam).encode()) + bulk(b"MINID") + \
            bulk(b"~")
        meta = b"*18\r\n" + bulk(b"XADD") + bulk(keys.FRAME_META.encode()) + bulk(b"MAXLEN") + \
            bulk(b"~") + bulk(b"%d" % self.meta_maxlen) + bulk(b"*") + bulk(b"cam") + \
            bulk(cam.encode())
        return video, meta

    def set_gop(self, cmds: list[Command], cam: str, entry_id: bytes | str) -> None:
        """Point the camera's fast-start key at its newest keyframe entry.

        It expires with the live window so a stopped camera leaves nothing behind."""
        cmds.append(("SET", keys.gop(cam), entry_id, "PX", self.window_ms))

    def set_state(self, cmds: list[Command], state: StateRecord) -> None:
        """Write the state hash and keep ``rtcc:cameras:live`` in step with it."""
        cmds.append(("HSET", keys.camera_state(state.cam), "state", state.state,
                     "reason", state.reason, "since", f"{state.since:.3f}",
                     "source", state.source, "reconnects", state.reconnects,
                     "frames", state.frames))
        cmds.append(("SADD" if state.state == CameraState.LIVE else "SREM", keys.LIVE_CAMERAS,
                     state.cam))

    def add_event(self, cmds: list[Command], state: StateRecord) -> None:
        """Append a state change to ``rtcc:cameras:events`` (capped)."""
        cmds.append(("XADD", keys.CAMERA_EVENTS, "MAXLEN", "~", self.events_maxlen, "*",
                     "cam", state.cam, "state", state.state, "reason", state.reason,
                     "t", f"{state.since:.3f}"))

    def clear_channel(self, cmds: list[Command], cam: str) -> None:
        """Remove a camera's video and fast-start key (consent revoked: nothing stays readable)."""
        cmds.append(("DEL", keys.video(cam), keys.gop(cam)))
        cmds.append(("SREM", keys.LIVE_CAMERAS, cam))

    def forget_camera(self, cmds: list[Command], cam: str) -> None:
        """A camera left the hub: drop its channel and state."""
        self.clear_channel(cmds, cam)
        cmds.append(("DEL", keys.camera_state(cam)))


# --- readers (wall, analyzer, tests) -----------------------------------------------------------


async def read_gop(redis: aredis.Redis, cam: str) -> list[Entry]:
    """The frames from the newest keyframe on: what a new viewer needs to start decoding."""
    gop = await redis.get(keys.gop(cam))
    if gop is None:
        return []
    rows: Any = await redis.xrange(keys.video(cam), min=gop, max="+")
    return [Entry(_s(entry_id), _frame(cam, fields)) for entry_id, fields in rows]


async def read_latest(redis: aredis.Redis, cam: str, count: int = 1) -> list[Entry]:
    """The newest ``count`` frames of a channel, newest first (``XREVRANGE``)."""
    rows: Any = await redis.xrevrange(keys.video(cam), count=count)
    return [Entry(_s(entry_id), _frame(cam, fields)) for entry_id, fields in rows]


async def read_range(redis: aredis.Redis, cam: str, start: str = "-", end: str = "+",
                     count: int | None = None) -> list[Entry]:
    rows: Any = await redis.xrange(keys.video(cam), min=start, max=end, count=count)
    return [Entry(_s(entry_id), _frame(cam, fields)) for entry_id, fields in rows]


async def xread_frames(redis: aredis.Redis, after: Mapping[str, str], *,
                       count: int | None = None, block_ms: int | None = None) -> list[Entry]:
    """Frames newer than ``after[cam]`` (an entry id, or ``$`` for "from now") for each camera.

    With ``block_ms`` it waits up to that long for at least one frame (``XREAD BLOCK``). On a
    Redis Cluster the cameras are read per hash slot (:func:`_xread_cluster`).
    """
    if not after:
        return []
    if is_cluster(redis):
        return await _xread_cluster(redis, after, count=count, block_ms=block_ms)
    streams: Any = {keys.video(cam): last for cam, last in after.items()}
    by_key = {keys.video(cam): cam for cam in after}
    reply: Any = await redis.xread(streams, count=count, block=block_ms)
    # RESP2 shape: [[key, [(id, fields), ...]], ...]
    return _entries(reply, by_key)


def _entries(reply: Any, by_key: Mapping[str, str]) -> list[Entry]:
    out: list[Entry] = []
    for stream_key, rows in reply or []:
        cam = by_key[_s(stream_key)]
        out.extend(Entry(_s(entry_id), _frame(cam, fields)) for entry_id, fields in rows)
    return out


async def _xread_cluster(redis: Any, after: Mapping[str, str], *, count: int | None,
                         block_ms: int | None) -> list[Entry]:
    """:func:`xread_frames` on a Redis Cluster: one XREAD per hash slot (a multi-key command must
    stay in one slot), all of one master's in one pipeline, all masters at once.

    A blocking XREAD per slot would hold one connection per camera, so this polls instead: it
    reads without blocking and, while nothing came, pauses :data:`CLUSTER_POLL_S` until
    ``block_ms`` has passed. ``$`` ("from now") is taken as the current time. The pipelines go
    straight to each master's connection pool because redis-py would ask the server where the
    keys of every XREAD are (``COMMAND GETKEYS``, one round trip each); a redirection or a lost
    master reloads the slot map and retries through redis-py's own routing, once.
    """
    now = f"{now_ms()}-0"
    by_key = {keys.video(cam): cam for cam in after}
    slots: dict[int, dict[str, str]] = {}
    for cam, last in after.items():
        key = keys.video(cam)
        slots.setdefault(key_slot(key.encode()), {})[key] = now if last == "$" else last
    head = ("COUNT", count) if count else ()
    deadline = time.monotonic() + (block_ms or 0) / 1000
    while True:
        out: list[Entry] = []
        by_node: dict[Any, list[PipelineCommand]] = {}
        for group in slots.values():
            node = redis.get_node_from_key(next(iter(group)))
            cmds = by_node.setdefault(node, [])
            cmds.append(PipelineCommand(len(cmds), "XREAD", *head, "STREAMS", *group,
                                        *group.values()))
        results = await asyncio.gather(*(node.execute_pipeline(cmds)
                                         for node, cmds in by_node.items()),
                                       return_exceptions=True)
        if any(isinstance(r, BaseException) for r in results):
            await redis.nodes_manager.initialize()
            err = next(r for r in results if isinstance(r, BaseException))
            raise RedisConnectionError(f"Redis Cluster read failed: {err}") from err
        for cmds in by_node.values():
            for cmd in cmds:
                reply = cmd.result
                if isinstance(reply, Exception):  # MOVED, ASK, CLUSTERDOWN: let redis-py route
                    reply = await redis.execute_command(*cmd.args)
                out.extend(_entries(reply, by_key))
        if out or not block_ms or time.monotonic() >= deadline:
            return out
        await asyncio.sleep(min(CLUSTER_POLL_S, max(0.0, deadline - time.monotonic())))


async def read_state(redis: aredis.Redis, cam: str) -> StateRecord | None:
    raw = await redis.hgetall(keys.camera_state(cam))
    if not raw:
        return None
    f = {_s(k): _s(v) for k, v in raw.items()}
    return StateRecord(
        cam=cam, state=f.get("state", ""), reason=f.get("reason", ""),
        since=float(f.get("since") or 0), source=f.get("source", ""),
        reconnects=int(f.get("reconnects") or 0), frames=int(f.get("frames") or 0),
    )


async def live_cameras(redis: aredis.Redis) -> set[str]:
    return {_s(m) for m in await redis.smembers(keys.LIVE_CAMERAS)}


async def read_events(redis: aredis.Redis, count: int = 100) -> list[dict[str, str]]:
    """The newest camera state events, newest first."""
    rows: Any = await redis.xrevrange(keys.CAMERA_EVENTS, count=count)
    return [{"id": _s(i), **{_s(k): _s(v) for k, v in f.items()}} for i, f in rows]


def _meta(entry_id: bytes | str, fields: Mapping[bytes, bytes]) -> FrameMeta:
    return FrameMeta(
        id=_s(entry_id), cam=_s(fields.get(b"cam")), seq=int(fields.get(b"seq", b"0")),
        t=int(fields.get(b"t", b"0")), ta=int(fields.get(b"ta", b"0")),
        key=fields.get(b"key") == b"1", meta=fields.get(b"meta", b""),
    )


async def ensure_meta_group(redis: aredis.Redis, group: str = keys.FRAME_META_GROUP,
                            start: str = "0") -> None:
    """Create the analyzer's consumer group on ``rtcc:meta:frames`` if it does not exist."""
    try:
        await redis.xgroup_create(keys.FRAME_META, group, id=start, mkstream=True)
    except ResponseError as err:
        if "BUSYGROUP" not in str(err):
            raise


async def read_meta_group(redis: aredis.Redis, consumer: str, *,
                          group: str = keys.FRAME_META_GROUP, count: int = 1000,
                          block_ms: int | None = None) -> list[FrameMeta]:
    """New frame metadata for this consumer of the group (ack with :func:`ack_meta`)."""
    reply: Any = await redis.xreadgroup(group, consumer, {keys.FRAME_META: ">"}, count=count,
                                   block=block_ms)
    out: list[FrameMeta] = []
    for _key, rows in reply or []:
        out.extend(_meta(i, f) for i, f in rows if f)
    return out


async def ack_meta(redis: aredis.Redis, ids: Iterable[str],
                   group: str = keys.FRAME_META_GROUP) -> int:
    id_list = list(ids)
    if not id_list:
        return 0
    return int(await redis.xack(keys.FRAME_META, group, *id_list))


def now_ms() -> int:
    return int(time.time() * 1000)
