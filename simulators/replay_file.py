"""A user's own H.264 recording as a replay template: real footage through the hub, no re-encoding.

``rtcc sim --replay-file FILE`` serves every camera from ``FILE`` (MP4, MKV, MOV, an Annex-B
``.h264`` file: anything FFmpeg demuxes), looped, each camera with its own ground-truth SEI (its
id, sequence number and capture time; no subjects, since nobody labelled the footage). The file is
demuxed with PyAV and its packets are taken as they are; MP4-style streams (length-prefixed NAL
units, parameter sets in the ``avcC`` box) go through FFmpeg's ``h264_mp4toannexb`` bitstream
filter, which rewrites the framing, not the picture. Whatever SEI the file carries is dropped
(ours goes in its place); SPS and PPS are put before every IDR when the file lacks them there.

The loop starts at the first IDR and holds at most ``max_seconds`` of the file. A stream with
B-frames is served in decode order with capture times that rise frame by frame, as a camera sends
it; decoders that reorder by timestamp may then show B-frames out of order (cameras rarely use
them; a warning says so). Blocking work: call it before the event loop starts serving.
"""

from __future__ import annotations

import logging
from fractions import Fraction
from pathlib import Path

from rtcc.errors import ConfigError
from rtcc.media.h264 import NAL_IDR, parameter_sets, split_annexb, with_parameter_sets
from simulators.replay import DEFAULT_MAX_PAYLOAD, Template, make_template, template_frame

log = logging.getLogger(__name__)

MAX_SECONDS = 120.0
"""Longest loop taken from a file (a minute of 2 Mbit/s is 15 MB held in memory per file)."""


def _fps(stream: object) -> float:
    for name in ("average_rate", "guessed_rate", "base_rate"):
        rate = getattr(stream, name, None)
        if rate:
            fps = float(Fraction(rate))
            if 0.5 <= fps <= 120:
                return fps
    return 0.0


def load_recording(path: Path, *, max_seconds: float = MAX_SECONDS,
                   max_payload: int = DEFAULT_MAX_PAYLOAD) -> Template:
    """The file's H.264 stream as a loop (ConfigError naming the file and what is wrong)."""
    import av
    from av.bitstream import BitStreamFilterContext

    where = f"--replay-file {path}"
    if not path.is_file():
        raise ConfigError(f"{where}: no such file")
    try:
        container = av.open(str(path))
    except av.FFmpegError as err:
        raise ConfigError(f"{where}: not a media file FFmpeg can read ({err})") from None
    try:
        if not container.streams.video:
            raise ConfigError(f"{where}: the file has no video stream")
        stream = container.streams.video[0]
        codec = stream.codec_context.name
        if codec != "h264":
            raise ConfigError(f"{where}: the video is {codec}, expected H.264 (re-encoding is "
                              "not done here: convert it with ffmpeg -c:v libx264)")
        width, height = stream.codec_context.width, stream.codec_context.height
        fps = _fps(stream)
        if not fps:
            raise ConfigError(f"{where}: the video stream has no frame rate")
        extradata = bytes(stream.codec_context.extradata or b"")
        # avcC extradata (version byte 1) means length-prefixed NAL units in the packets.
        bsf = BitStreamFilterContext("h264_mp4toannexb", stream) \
            if extradata[:1] == b"\x01" else None
        limit = max(1, round(max_seconds * fps))
        units: list[tuple[tuple[bytes, ...], bool]] = []
        reordered = False
        last_pts = None
        try:
            for packet in container.demux(stream):
                if packet.size == 0:
                    continue
                if packet.pts is not None and last_pts is not None and packet.pts < last_pts:
                    reordered = True
                if packet.pts is not None:
                    last_pts = packet.pts
                for out in bsf.filter(packet) if bsf is not None else (packet,):
                    nals = tuple(split_annexb(bytes(out)))
                    key = any(n and n[0] & 0x1F == NAL_IDR for n in nals)
                    if units or key:  # the loop starts at the first IDR
                        units.append((nals, key))
                if len(units) >= limit:
                    break
        except av.FFmpegError as err:
            raise ConfigError(f"{where}: demuxing failed after {len(units)} frames "
                              f"({err})") from None
    finally:
        container.close()
    if not units:
        raise ConfigError(f"{where}: no IDR frame in the H.264 stream")
    sps, pps = parameter_sets(units[0][0])
    if (sps is None or pps is None) and extradata:
        ex_sps, ex_pps = parameter_sets(split_annexb(extradata)) if extradata[:1] != b"\x01" \
            else (None, None)
        sps, pps = sps or ex_sps, pps or ex_pps
    if sps is None or pps is None:
        raise ConfigError(f"{where}: no SPS/PPS before the first IDR")
    if reordered:
        log.warning("%s: the stream has B-frames; they are served in decode order", path)
    frames = [template_frame(with_parameter_sets(nals, sps, pps) if key else nals, key,
                             (), max_payload) for nals, key in units]
    template = make_template(path.name, sps, pps, fps=fps, width=width, height=height,
                             frames=frames)
    log.info("%s: %d frames (%.1f s) at %dx%d, %g fps, %.0f kbit/s", path, len(frames),
             len(frames) / fps, width, height, fps, template.bitrate / 1000)
    return template
