"""Sending the hub's H.264 to a WebRTC peer without re-encoding (aiortc passthrough).

:class:`PassthroughTrack` is an aiortc video track whose ``recv()`` yields ``av.Packet`` objects
holding Annex-B access units (SPS/PPS precede every IDR in the channel), which aiortc's H.264
encoder merely packetizes (``H264Encoder.pack``). Frames come from a bounded
:class:`~rtcc.wall.frames.ViewerQueue`, so a peer that cannot keep up drops to the next keyframe.

RTP timestamps follow the wall's clock at hand-over, not the capture clock: the cached GOP is
handed over in one burst and must not become a GOP-long playout delay in the browser's jitter
buffer. Keyframe requests (PLI/FIR) cannot be honoured on passthrough; the cached GOP at start and
short GOPs take their place.
"""

from __future__ import annotations

import time
from fractions import Fraction

import av
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError

from rtcc.wall.frames import ViewerQueue, WallFrame

VIDEO_CLOCK = 90_000
TIME_BASE = Fraction(1, VIDEO_CLOCK)


class PassthroughTrack(MediaStreamTrack):
    """A video track of pre-encoded access units from one camera's feed."""

    kind = "video"

    def __init__(self, queue: ViewerQueue) -> None:
        super().__init__()
        self.queue = queue
        self._start = time.monotonic()
        self._last_pts = -1
        self.sent = 0
        self.last_capture_us = 0

    async def recv(self) -> av.Packet:  # type: ignore[override]
        while True:
            item = await self.queue.get()
            if item is None:
                self.stop()
                raise MediaStreamError
            if isinstance(item, WallFrame):
                break
        pts = int((time.monotonic() - self._start) * VIDEO_CLOCK)
        pts = max(pts, self._last_pts + 1)  # strictly increasing, also within a GOP burst
        self._last_pts = pts
        packet = av.Packet(item.au)
        packet.pts = pts
        packet.time_base = TIME_BASE
        self.sent += 1
        self.last_capture_us = item.t
        return packet

