"""Bytes-level media codecs, pure and fast (no asyncio, no sockets, no Redis).

- :mod:`rtcc.media.h264` — Annex-B framing, NAL types, emulation prevention, access units, SPS.
- :mod:`rtcc.media.sei` — the ground-truth SEI message of the ARCHITECTURE contract.
- :mod:`rtcc.media.rtp` — RTP and the RFC 6184 H.264 payload format (re-exports
  :mod:`rtcc.media.rtcp` and :mod:`rtcc.media.interleaved`).
- :mod:`rtcc.media.sdp` — SDP for RTSP DESCRIBE.
- :mod:`rtcc.media.encoder` — libx264 encoding and FFmpeg decoding through PyAV (blocking).
"""
