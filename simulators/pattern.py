"""A camera that films a moving test pattern: the stand-in source for tests and replay templates.

It needs no world: a sliding luma ramp, a bright box crossing the frame (reported in the SEI as a
passer-by with its exact bounding box), and the frame number encoded as a bar code along the top
rows, so a decoded picture can be checked against its SEI. Frames are drawn straight into yuv420p
planes with numpy and encoded with :class:`rtcc.media.encoder.H264Encoder`; ``capture`` is
blocking CPU work (run it in an executor).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np

from rtcc.media.encoder import VIDEO_CLOCK, H264Encoder
from rtcc.media.h264 import AccessUnit
from rtcc.media.sei import GroundTruth, Subject, build_sei_nal, insert_sei

BAR_BITS = 16
"""Bits of the frame number drawn as black/white cells in the top 16 rows."""


@dataclass(frozen=True, slots=True)
class PatternFrame:
    """Same fields as ``simulators.camera.EncodedFrame``."""

    camera_id: str
    seq: int
    capture_us: int
    au: AccessUnit
    keyframe: bool
    truth: GroundTruth


class PatternCamera:
    """A :class:`~simulators.source.FrameSource` drawing a moving pattern (see module doc)."""

    def __init__(
        self,
        camera_id: str,
        *,
        width: int = 640,
        height: int = 360,
        fps: float = 10.0,
        gop_seconds: float = 1.0,
        bitrate: int | None = None,
        household: str | None = None,
    ) -> None:
        self.camera_id = camera_id
        self.width = width
        self.height = height
        self.fps = fps
        self.household = household
        self._encoder = H264Encoder(width, height, fps, gop_seconds=gop_seconds, bitrate=bitrate)
        sps, pps = self._encoder.sps, self._encoder.pps
        assert sps is not None and pps is not None
        self.sps: bytes = sps
        self.pps: bytes = pps
        self.seq = 0
        self._lock = threading.Lock()
        yy, xx = np.mgrid[0:height, 0:width]
        self._ramp = ((xx + yy) % 256).astype(np.uint8)
        self._chroma = np.full((height // 2, width), 128, dtype=np.uint8)

    def force_keyframe(self) -> None:
        self._encoder.force_keyframe()

    def box(self, seq: int) -> tuple[int, int, int, int]:
        """Bounding box (x, y, w, h) of the moving box in frame ``seq``."""
        w, h = self.width // 8, self.height // 3
        x = (seq * 8) % max(1, self.width - w)
        return (x, self.height // 2 - h // 2, w, h)

    def picture(self, seq: int) -> np.ndarray:
        """The yuv420p planes (H*3/2, W) of frame ``seq``."""
        y = np.roll(self._ramp, seq * 4, axis=1)
        x0, y0, w, h = self.box(seq)
        y[y0 : y0 + h, x0 : x0 + w] = 235
        cell = self.width // BAR_BITS
        for bit in range(BAR_BITS):
            y[0:16, bit * cell : (bit + 1) * cell] = 235 if (seq >> bit) & 1 else 16
        return np.vstack([y, self._chroma])

    def capture(self, capture_us: int) -> PatternFrame:
        with self._lock:  # one encoder: captures of one camera never overlap
            seq = self.seq
            self.seq += 1
            pts = round(seq * VIDEO_CLOCK / self.fps)
            au = self._encoder.encode(self.picture(seq), pts=pts)
            if au is None:  # zerolatency never holds frames back; be safe anyway
                flushed = self._encoder.flush()
                if not flushed:
                    raise RuntimeError(f"{self.camera_id}: encoder returned no frame")
                au = flushed[-1]
            x, y, w, h = self.box(seq)
            subject = Subject(id=f"{self.camera_id}-box", household=self.household,
                              role="passer_by", d=5.0, band="recognise", bbox=(x, y, w, h),
                              masked=False)
            truth = GroundTruth(cam=self.camera_id, seq=seq, t=capture_us, subjects=(subject,))
            nals = insert_sei(au.nals, build_sei_nal(truth))
            return PatternFrame(self.camera_id, seq, capture_us, AccessUnit(nals, au.pts),
                                au.keyframe, truth)

    def close(self) -> None:
        self._encoder.close()
