"""Frames as the wall fans them out, and the bounded per-viewer queue that drops to keyframes.

Runs on the event loop only. :class:`WallFrame` is built once per access unit by the fan-out and
shared by every viewer. :class:`ViewerQueue` sits between the fan-out and one viewer (a WebSocket
page or a WHEP peer): ``offer`` never blocks and never grows the queue past its bounds; when a
frame does not fit, that camera's frames are dropped until its next keyframe, so the viewer's
decoder always resumes on a decodable picture (the aiortc ``MediaRelay(buffered=False)`` idea,
made H.264-aware).
"""

from __future__ import annotations

import asyncio
from collections import Counter, deque
from dataclasses import dataclass

from rtcc.wall.protocol import HEADER_SIZE

DEFAULT_MAX_BYTES = 4 * 1024 * 1024
DEFAULT_MAX_FRAMES = 512
MAX_CONTROL = 256
"""Control messages waiting for one viewer; more means the viewer is gone or hostile."""


@dataclass(frozen=True, slots=True)
class WallFrame:
    cam: str
    index: int
    """The camera's wall-wide index (the binary header's ``camera`` field)."""
    seq: int
    t: int
    """Capture time, unix microseconds."""
    key: bool
    wire: bytes
    """The complete binary WebSocket message: header + Annex-B access unit."""
    exposed: int = 0
    people: int = 0

    @property
    def au(self) -> bytes:
        """The Annex-B access unit (a copy: only the WHEP path needs it on its own)."""
        return self.wire[HEADER_SIZE:]

    @property
    def size(self) -> int:
        return len(self.wire)


class ViewerQueue:
    """Frames waiting for one viewer, bounded in bytes and in count.

    Per camera it tracks whether the viewer may take a delta frame: a camera starts (and restarts
    after any drop) in "waiting for a keyframe", so a decoder never receives a P-frame whose
    reference it did not get.
    """

    def __init__(self, max_bytes: int = DEFAULT_MAX_BYTES,
                 max_frames: int = DEFAULT_MAX_FRAMES) -> None:
        self.max_bytes = max_bytes
        self.max_frames = max_frames
        self._frames: deque[WallFrame] = deque()
        self._control: deque[str] = deque()
        self._bytes = 0
        self._cams: set[str] = set()
        self._need_key: set[str] = set()
        self._ready = asyncio.Event()
        self._closed = False
        self.delivered: Counter[str] = Counter()
        self.dropped: Counter[str] = Counter()
        """Frames not queued because the viewer was behind (counted per camera)."""

    @property
    def queued_bytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._frames)

    def add_camera(self, cam: str) -> None:
        self._cams.add(cam)
        self._need_key.add(cam)

    def remove_camera(self, cam: str) -> None:
        """Stop taking frames of ``cam`` and forget the ones already queued."""
        self._cams.discard(cam)
        self._need_key.discard(cam)
        if any(f.cam == cam for f in self._frames):
            kept = deque(f for f in self._frames if f.cam != cam)
            self._frames = kept
            self._bytes = sum(f.size for f in kept)

    def offer(self, frame: WallFrame) -> bool:
        """Queue ``frame`` if it fits; never blocks. Returns True when queued."""
        cam = frame.cam
        if self._closed or cam not in self._cams:
            return False
        if cam in self._need_key and not frame.key:
            self.dropped[cam] += 1
            return False
        if self._bytes + frame.size > self.max_bytes or len(self._frames) >= self.max_frames:
            self._need_key.add(cam)
            self.dropped[cam] += 1
            return False
        self._need_key.discard(cam)
        self._frames.append(frame)
        self._bytes += frame.size
        self._ready.set()
        return True

    def push_control(self, message: str) -> bool:
        """Queue a control message; it overtakes queued frames. False when the viewer has
        let too many pile up (the caller should drop the viewer)."""
        if self._closed or len(self._control) >= MAX_CONTROL:
            return False
        self._control.append(message)
        self._ready.set()
        return True

    async def get(self) -> WallFrame | str | None:
        """The next control message or frame, waiting for one; None once closed."""
        while not self._frames and not self._control:
            if self._closed:
                return None
            self._ready.clear()
            await self._ready.wait()
        if self._closed:
            return None
        if self._control:
            return self._control.popleft()
        frame = self._frames.popleft()
        self._bytes -= frame.size
        self.delivered[frame.cam] += 1
        return frame

    def close(self) -> None:
        self._closed = True
        self._frames.clear()
        self._control.clear()
        self._bytes = 0
        self._ready.set()
