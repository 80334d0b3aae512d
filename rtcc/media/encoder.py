"""H.264 encoding and decoding with PyAV's libx264 / FFmpeg decoder.

Blocking CPU work: callers on an event loop run :meth:`H264Encoder.encode` and
:func:`decode_annexb` in an executor or a thread (aiortc's MediaPlayer pattern).

The encoder is set up for live surveillance video the way the hub and browsers want it:
constrained baseline (no B-frames, no CABAC), zero-latency tuning (one access unit out per frame
in), a fixed GOP (no scene-cut IDRs), SPS/PPS repeated before every IDR so any client can join at
any keyframe, and a VBV cap so keyframes stay small (aiortc's jitter buffer holds 128 packets).
"""

from __future__ import annotations

import logging
from collections import deque
from fractions import Fraction

import av
import numpy as np
from av.video.frame import PictureType

from rtcc.errors import MediaError
from rtcc.media.h264 import AccessUnit, parameter_sets, split_annexb, with_parameter_sets

log = logging.getLogger(__name__)

#: RTP clock rate of video; encoder pts are in these units so they map straight to RTP.
VIDEO_CLOCK = 90_000
#: Longest GOP allowed: a client joining mid-stream waits at most this long for a picture.
MAX_GOP_SECONDS = 2.0
# Automatic bitrate cap in bits per pixel per frame; 0.2 puts 640x360 at 10 fps near 460 kbit/s,
# in line with what doorbell cameras send at that size.
_AUTO_BITS_PER_PIXEL = 0.2


class H264Encoder:
    """libx264 encoder of one camera's frames into :class:`AccessUnit` objects.

    ``pts`` given to :meth:`encode` and returned on access units are in 90 kHz units; by default
    frame ``n`` gets ``round(n * 90000 / fps)``.  With ``bitrate=None`` quality is constant
    (CRF 23) under a VBV cap of ~0.2 bit per pixel per frame; with a bitrate, that average rate is
    the target and the cap, unless ``maxrate`` (the cap) and ``bufsize`` (the VBV buffer, bits)
    say otherwise; ``ipratio`` is libx264's keyframe-to-P-frame quantiser ratio (default 1.4).
    :attr:`sps` and :attr:`pps` are known right after construction (for SDP) and are also sent
    in-band before every IDR.
    """

    def __init__(
        self,
        width: int,
        height: int,
        fps: float,
        gop_seconds: float = 1.0,
        bitrate: int | None = None,
        preset: str = "ultrafast",
        threads: int = 1,
        qp: int | None = None,
        maxrate: int | None = None,
        bufsize: int | None = None,
        ipratio: float | None = None,
    ) -> None:
        if width <= 0 or height <= 0 or width % 2 or height % 2:
            raise MediaError(f"frame size {width}x{height} must be positive and even (yuv420p)")
        if not 0 < fps <= 120:
            raise MediaError(f"fps {fps} out of range (0, 120]")
        if not 0 < gop_seconds <= MAX_GOP_SECONDS:
            raise MediaError(f"gop_seconds {gop_seconds} out of range (0, {MAX_GOP_SECONDS}]")
        if qp is not None and not 0 <= qp <= 51:
            raise MediaError(f"qp {qp} out of range 0..51")
        if qp is not None and bitrate is not None:
            raise MediaError("give a bitrate or a constant qp, not both")
        if bitrate is not None and bitrate < 10_000:
            raise MediaError(f"bitrate {bitrate} bit/s is too low (min 10000)")
        if (maxrate is not None or bufsize is not None) and bitrate is None:
            raise MediaError("maxrate and bufsize shape a bitrate: give the bitrate too")
        if maxrate is not None and bitrate is not None and maxrate < bitrate:
            raise MediaError(f"maxrate {maxrate} bit/s is below the bitrate {bitrate}")
        if bufsize is not None and bufsize < 10_000:
            raise MediaError(f"bufsize {bufsize} bit is too small (min 10000)")
        if ipratio is not None and not 1.0 <= ipratio <= 2.0:
            raise MediaError(f"ipratio {ipratio} out of range 1..2")
        self.width = width
        self.height = height
        self.fps = fps
        self.keyint = max(1, round(gop_seconds * fps))
        self.frames_in = 0
        cap = maxrate or bitrate or round(width * height * fps * _AUTO_BITS_PER_PIXEL)
        kbit = max(10, cap // 1000)
        buf_kbit = max(10, (bufsize or cap) // 1000)
        x264_params = [
            "repeat-headers=1",  # SPS/PPS before every IDR, even with a global header
            "scenecut=0",
            f"keyint={self.keyint}",
            f"min-keyint={self.keyint}",
            "bframes=0",
            "annexb=1",
        ]
        if qp is not None:
            # Constant quantiser: no rate control at all, so libx264 skips the per-frame
            # complexity analysis (half the encoding cost of a simple picture); sizes follow
            # the picture, with no cap.
            x264_params.append(f"qp={qp}")
        else:
            # By default one second of buffer: no frame can exceed cap/8 bytes. With a bitrate,
            # a maxrate above it and a buffer of a few seconds this is the constrained VBR of
            # IP cameras: the average at the bitrate, bursts (keyframes) up to the buffer.
            x264_params += [f"vbv-maxrate={kbit}", f"vbv-bufsize={buf_kbit}"]
            if bitrate is None:
                x264_params.append("crf=23")
        if ipratio is not None:
            x264_params.append(f"ipratio={ipratio:g}")
        try:
            ctx = av.CodecContext.create("libx264", "w")
            ctx.width = width
            ctx.height = height
            ctx.pix_fmt = "yuv420p"
            ctx.time_base = Fraction(1, VIDEO_CLOCK)
            ctx.framerate = Fraction(fps).limit_denominator(1001)
            ctx.gop_size = self.keyint
            ctx.max_b_frames = 0
            ctx.thread_count = threads
            if bitrate is not None:
                ctx.bit_rate = bitrate
            # global_header makes libx264 put SPS/PPS into extradata at open, so an SDP can be
            # written before the first frame; repeat-headers keeps them in-band as well.
            ctx.flags |= av.codec.context.Flags.global_header
            ctx.options = {
                "preset": preset,
                "profile": "baseline",
                "tune": "zerolatency",
                "forced-idr": "1",
                "x264-params": ":".join(x264_params),
            }
            ctx.open()
        except (av.FFmpegError, ValueError) as err:
            raise MediaError(f"cannot open libx264 ({width}x{height}, {preset}): {err}") from err
        self._ctx: av.VideoCodecContext | None = ctx
        sps, pps = parameter_sets(split_annexb(bytes(ctx.extradata or b"")))
        if sps is None or pps is None:
            raise MediaError("libx264 produced no SPS/PPS in its global header")
        self.sps: bytes = sps
        self.pps: bytes = pps
        self._force_next = False
        self._ready: deque[AccessUnit] = deque()

    def force_keyframe(self) -> None:
        """Make the next encoded frame an IDR (with SPS/PPS); the GOP restarts there."""
        self._force_next = True

    def encode(
        self, frame: np.ndarray | av.VideoFrame, pts: int | None = None
    ) -> AccessUnit | None:
        """Encode one frame: RGB24 ``(H, W, 3)`` uint8, yuv420p ``(H*3/2, W)`` uint8 or an
        ``av.VideoFrame``.  Returns the access unit, or None while the encoder holds it back.
        """
        ctx = self._require_open()
        vframe = self._to_frame(frame)
        vframe.pts = round(self.frames_in * VIDEO_CLOCK / self.fps) if pts is None else pts
        vframe.time_base = ctx.time_base
        if self._force_next:
            vframe.pict_type = PictureType.I
            self._force_next = False
        self.frames_in += 1
        try:
            packets = ctx.encode(vframe)
        except av.FFmpegError as err:
            raise MediaError(f"libx264 failed on frame {self.frames_in - 1}: {err}") from err
        self._collect(packets)
        return self._ready.popleft() if self._ready else None

    def flush(self) -> list[AccessUnit]:
        """Drain the encoder: every access unit not yet returned."""
        ctx = self._require_open()
        try:
            self._collect(ctx.encode(None))
        except av.FFmpegError as err:
            raise MediaError(f"libx264 failed while flushing: {err}") from err
        out = list(self._ready)
        self._ready.clear()
        return out

    def close(self) -> None:
        """Release the codec; idempotent."""
        self._ctx = None
        self._ready.clear()

    def __enter__(self) -> H264Encoder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _require_open(self) -> av.VideoCodecContext:
        if self._ctx is None:
            raise MediaError("encoder is closed")
        return self._ctx

    def _to_frame(self, frame: np.ndarray | av.VideoFrame) -> av.VideoFrame:
        if isinstance(frame, av.VideoFrame):
            if (frame.width, frame.height) != (self.width, self.height):
                raise MediaError(
                    f"frame is {frame.width}x{frame.height}, encoder expects "
                    f"{self.width}x{self.height}"
                )
            return frame if frame.format.name == "yuv420p" else frame.reformat(format="yuv420p")
        if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8:
            raise MediaError("frame must be a uint8 numpy array or an av.VideoFrame")
        w, h = self.width, self.height
        if frame.shape == (h, w, 3):
            rgb = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
            return rgb.reformat(format="yuv420p")
        if frame.shape == (h * 3 // 2, w):
            return av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="yuv420p")
        raise MediaError(
            f"frame shape {frame.shape} is neither RGB24 ({h}, {w}, 3) "
            f"nor yuv420p ({h * 3 // 2}, {w})"
        )

    def _collect(self, packets: list[av.Packet]) -> None:
        for packet in packets:
            nals = split_annexb(bytes(packet))
            # repeat-headers already puts SPS/PPS before each IDR; this keeps that a guarantee.
            full = with_parameter_sets(nals, self.sps, self.pps)
            self._ready.append(AccessUnit(full, packet.pts or 0))


def decode_annexb(data: bytes, format: str = "rgb24", strict: bool = True) -> list[np.ndarray]:
    """Decode an Annex-B H.264 byte stream into frames (``rgb24`` (H, W, 3) by default).

    ``strict`` raises MediaError on the first undecodable access unit; otherwise such units are
    skipped, as a player would (e.g. slices before the first keyframe after a loss).
    """
    try:
        ctx = av.CodecContext.create("h264", "r")
        # parse(None) flushes the parser's last access unit.
        packets = [*ctx.parse(data), *ctx.parse(None)]
    except av.FFmpegError as err:
        raise MediaError(f"H.264 parse failed: {err}") from err
    frames: list[np.ndarray] = []
    for index, packet in enumerate([*packets, None]):  # None drains the decoder
        try:
            decoded = ctx.decode(packet)
        except av.FFmpegError as err:
            if strict:
                raise MediaError(f"H.264 decode failed at access unit {index}: {err}") from err
            continue
        frames.extend(frame.to_ndarray(format=format) for frame in decoded)
    return frames
