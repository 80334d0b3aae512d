"""A channel writer for the wall's tests: real H.264 (PyAV libx264) written in the hub's schema.

A short test card is encoded once per size (a moving bar and a per-camera colour band, GOP of
``gop`` frames) and replayed for every camera with fresh ground truth (SEI with the camera id,
sequence, capture time and subjects) through :class:`rtcc.channels.ChannelWriter`, exactly the
writer the hub uses. This lets the wall be tested without a simulator fleet and hub running.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import redis.asyncio as aredis

from rtcc.channels import ChannelWriter, Frame, StateRecord
from rtcc.ingest.resp import RespConnection
from rtcc.ingest.resp_cluster import ClusterRespConnection, connection_like
from rtcc.media.encoder import H264Encoder
from rtcc.media.h264 import AccessUnit, join_annexb
from rtcc.media.sei import GroundTruth, Subject, build_sei_nal, insert_sei
from rtcc.vocabulary import CameraState

SubjectsFn = Callable[[str, int], Sequence[Subject]]


def encode_card(width: int, height: int, frames: int, gop: int, fps: float = 10.0,
                noise: int = 0, bitrate: int | None = None) -> list[AccessUnit]:
    """``frames`` access units of a moving test card; keyframes every ``gop`` frames.
    ``noise`` (0-255) adds random grain, which makes frames big (for bandwidth tests)."""
    rng = np.random.default_rng(1)
    enc = H264Encoder(width, height, fps, gop_seconds=gop / fps, bitrate=bitrate)
    out: list[AccessUnit] = []
    yy, xx = np.mgrid[0:height, 0:width]
    base = np.zeros((height, width, 3), np.uint8)
    base[..., 0] = (xx * 255 // max(1, width - 1)).astype(np.uint8)
    base[..., 1] = (yy * 255 // max(1, height - 1)).astype(np.uint8)
    base[..., 2] = 96
    for i in range(frames + 8):
        img = base.copy()
        x0 = (i * width // max(1, frames)) % width
        img[:, x0:x0 + max(4, width // 16)] = 255
        if noise:
            grain = rng.integers(0, noise, size=img.shape, dtype=np.uint8)
            img = np.maximum(img, grain)
        au = enc.encode(img)
        if au is not None:
            out.append(au)
    out.extend(enc.flush())
    enc.close()
    return out[:frames]


@dataclass
class ChannelFeeder:
    """Writes ``cams`` at ``fps`` into the live channels until stopped."""

    redis: aredis.Redis
    cams: list[str]
    width: int = 320
    height: int = 180
    fps: float = 10.0
    gop: int = 10
    subjects: SubjectsFn | None = None
    clip_frames: int = 20
    noise: int = 0
    bitrate: int | None = None
    seq: dict[str, int] = field(default_factory=dict)
    paused: set[str] = field(default_factory=set)
    _task: asyncio.Task[None] | None = None
    _stopping: bool = False
    _conn: RespConnection | ClusterRespConnection | None = None
    _clip: list[AccessUnit] = field(default_factory=list)

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._clip = await loop.run_in_executor(
            None, encode_card, self.width, self.height, self.clip_frames, self.gop, self.fps,
            self.noise, self.bitrate)
        self._conn = connection_like(self.redis)
        writer = ChannelWriter()
        cmds: list[Any] = []
        for cam in self.cams:
            state = StateRecord(cam, CameraState.LIVE, since=time.time(), source="test")
            writer.set_state(cmds, state)
            writer.add_event(cmds, state)
        await self._conn.execute(cmds)
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        # A flag as well as cancel(): redis-py can swallow a CancelledError that lands while a
        # connection is being opened, and the loop would then run on.
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._conn is not None:
            self._conn.close()

    async def write_round(self, writer: ChannelWriter) -> None:
        """One frame for every camera that is not paused, in one batch (as the hub writes)."""
        assert self._conn is not None
        now = time.time()
        cmds: list[Any] = []
        pending: list[tuple[str, bool]] = []
        for cam in self.cams:
            if cam in self.paused:
                continue
            seq = self.seq.get(cam, 0)
            self.seq[cam] = seq + 1
            au = self._clip[seq % len(self._clip)]
            t = int(now * 1e6)
            subjects = tuple(self.subjects(cam, seq)) if self.subjects else ()
            gt = GroundTruth(cam, seq, t, subjects)
            nals = insert_sei(au.nals, build_sei_nal(gt))
            frame = Frame(cam, seq, t, t, au.keyframe, join_annexb(nals), gt.to_json())
            writer.add_frame(cmds, frame, int(now * 1000))
            pending.append((cam, au.keyframe))
        replies = await self._conn.execute(cmds)
        gops: list[Any] = []
        for i, (cam, key) in enumerate(pending):
            if key:
                writer.set_gop(gops, cam, replies[2 * i])
        await self._conn.execute(gops)

    async def _run(self) -> None:
        writer = ChannelWriter()
        period = 1.0 / self.fps
        next_at = time.monotonic()
        while not self._stopping:
            await self.write_round(writer)
            next_at += period
            await asyncio.sleep(max(0.0, next_at - time.monotonic()))
