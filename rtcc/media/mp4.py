"""An Annex-B H.264 clip wrapped in MP4 for a browser's ``<video>``, without re-encoding.

Evidence clips are stored as collected (Annex-B access units, the bytes their sha256 covers);
browsers play H.264 only inside a container, so the clip is remuxed with PyAV (libavformat) into a
fragmented MP4 (``empty_moov``: written in one pass to memory, playable as it arrives). Each
picture is timed by the capture time in its ground-truth SEI (``t``, microseconds) when every
picture carries one, else at the frame rate of the stream's SPS (VUI timing), else at
:data:`DEFAULT_FPS`. Pure: bytes in, bytes out (blocking: run it on a worker thread).
"""

from __future__ import annotations

import io
import json
from fractions import Fraction

import av

from rtcc.errors import MediaError
from rtcc.media.h264 import split_annexb
from rtcc.media.sei import find_ground_truth_json

TIME_BASE = Fraction(1, 90000)
DEFAULT_FPS = 10.0
MOVFLAGS = "frag_keyframe+empty_moov+default_base_moof"


def _capture_us(data: bytes) -> int | None:
    raw = find_ground_truth_json(split_annexb(data))
    if raw is None:
        return None
    try:
        t = json.loads(raw).get("t")
    except ValueError:
        return None
    return t if isinstance(t, int) and not isinstance(t, bool) else None


def annexb_to_mp4(clip: bytes) -> bytes:
    """The clip as fragmented MP4; MediaError when it holds no decodable H.264 picture."""
    try:
        source = av.open(io.BytesIO(clip), mode="r", format="h264")
    except av.FFmpegError as err:
        raise MediaError(f"not an H.264 clip: {err}") from None
    try:
        if not source.streams.video:
            raise MediaError("not an H.264 clip: no video stream")
        stream = source.streams.video[0]
        packets = [p for p in source.demux(stream) if p.size]
        if not packets:
            raise MediaError("the clip holds no picture")
        rate = stream.codec_context.framerate
        fps = float(rate) if rate and 1 <= float(rate) <= 240 else DEFAULT_FPS
        times = [_capture_us(bytes(p)) for p in packets]
        ticks: list[int]
        if all(t is not None for t in times):
            first = times[0] or 0
            ticks = [round(((t or 0) - first) * 90000 / 1e6) for t in times]
        else:
            ticks = [round(i * 90000 / fps) for i in range(len(packets))]
        step = round(90000 / fps)
        out = io.BytesIO()
        sink = av.open(out, "w", format="mp4", options={"movflags": MOVFLAGS})
        try:
            video = sink.add_stream_from_template(stream)
            video.time_base = TIME_BASE
            last = -1
            for i, packet in enumerate(packets):
                # Never backwards: a camera's clock may step; a sample must follow the last one.
                tick = max(ticks[i], last + 1)
                following = ticks[i + 1] if i + 1 < len(ticks) else tick + step
                packet.pts = packet.dts = tick
                packet.duration = max(1, following - tick)
                packet.time_base = TIME_BASE
                packet.stream = video
                sink.mux(packet)
                last = tick
        finally:
            sink.close()
        return out.getvalue()
    except av.FFmpegError as err:
        raise MediaError(f"cannot wrap the clip in MP4: {err}") from None
    finally:
        source.close()
