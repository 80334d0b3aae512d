"""One camera's access units -> channel frames: parameter sets, ground truth, capture time, gate.

Every source driver (RTSP client, WHIP endpoint) hands each reassembled access unit to its
camera's :class:`FrameSink` on the event loop. The sink never decodes video. It

* remembers SPS/PPS (from the SDP's sprop-parameter-sets and in-band) and puts them before every
  IDR that arrives without them, so any keyframe in the channel starts a decoder;
* drops what a decoder could not use: access units with lost packets and everything after them
  up to the next keyframe (``incomplete``), and anything before the first keyframe
  (``awaiting_keyframe``);
* reads the ground-truth SEI (sequence, capture time, subjects) without decoding; for streams
  without it, the capture time comes from the RTCP sender report's NTP/RTP mapping, else from
  the arrival time;
* asks the consent gate, then queues the frame with the writer.
"""

from __future__ import annotations

import contextlib
import logging
import re
import time
from collections.abc import Callable, Sequence

from rtcc.channels import Frame
from rtcc.compiled import NO_EXTENSIONS
from rtcc.errors import MediaError
from rtcc.ingest.gate import FrameGate
from rtcc.ingest.metrics import HubMetrics
from rtcc.ingest.writer import FrameWriter
from rtcc.media.h264 import NAL_IDR, NAL_PPS, NAL_SEI, NAL_SPS, START_CODE, with_parameter_sets
from rtcc.media.sei import GroundTruth, find_ground_truth_json

log = logging.getLogger(__name__)

CLOCK_RATE = 90_000
_COMPACT_HEAD = re.compile(rb'\{"cam":"(?:[^"\\]|\\.)*","seq":(\d+),"t":(\d+)[,}]')
"""The start of the contract's compact ground-truth JSON, as ``GroundTruth.to_json`` writes it."""


def compact_head(raw: bytes) -> tuple[int, int] | None:
    """(seq, capture µs) from the start of a compact ground-truth JSON, as ``_COMPACT_HEAD``
    matches it (a property test checks they agree), with three ``find`` calls instead of the
    regex: it runs for every frame. None when ``raw`` does not start that way.

    In valid JSON a ``"`` inside the camera id is escaped, so the first ``","seq":`` after
    ``{"cam":"`` ends the id."""
    if not raw.startswith(b'{"cam":"'):
        return None
    seq_at = raw.find(b'","seq":', 8)
    if seq_at < 0:
        return None
    if raw.find(b"\\", 8, seq_at) >= 0:
        return _regex_head(raw)  # escapes in the id: let the regex judge them
    if raw.find(b'"', 8, seq_at) >= 0:
        return None
    seq_at += 8
    t_at = raw.find(b',"t":', seq_at)
    if t_at < 0:
        return None
    end = t_at + 5
    while end < len(raw) and 48 <= raw[end] <= 57:  # the capture time's digits
        end += 1
    seq = raw[seq_at:t_at]
    if end == t_at + 5 or end == len(raw) or raw[end] not in b",}" or not seq.isdigit():
        return None
    return int(seq), int(raw[t_at + 5:end])


def capture_time_us(sr: tuple[float, int] | None, rtp_timestamp: int | None,
                    arrival_us: int) -> int:
    """A frame's capture time from the last RTCP sender report ``sr`` (NTP as unix seconds, RTP
    timestamp), or its arrival time without one. Both sinks call it."""
    if sr is None or rtp_timestamp is None:
        return arrival_us
    # Signed 32-bit difference: frames just before the report map to earlier times.
    diff = ((rtp_timestamp - sr[1] + 0x80000000) & 0xFFFFFFFF) - 0x80000000
    return round((sr[0] + diff / CLOCK_RATE) * 1e6)


def _regex_head(raw: bytes) -> tuple[int, int] | None:
    head = _COMPACT_HEAD.match(raw)
    return None if head is None else (int(head.group(1)), int(head.group(2)))


class FrameSink:
    """Per-camera frame path shared by all drivers (see module docstring)."""

    def __init__(self, cam: str, gate: FrameGate, writer: FrameWriter,
                 metrics: HubMetrics, on_first_frame: Callable[[], None] | None = None) -> None:
        self.cam = cam
        self.gate = gate
        self.writer = writer
        self.metrics = metrics
        self._m = metrics.camera(cam)
        self.sps: bytes | None = None
        self.pps: bytes | None = None
        self._sr: tuple[float, int] | None = None  # (NTP as unix seconds, RTP timestamp)
        self._need_key = True
        self._awaiting_first = True
        self._seq = 0
        self._gated = False
        self.received = 0
        self.delivered = 0
        self.last_arrival = 0.0
        self._sei_errors = 0
        self._on_first_frame = on_first_frame

    def set_parameter_sets(self, sps: bytes | None, pps: bytes | None) -> None:
        if sps:
            self.sps = sps
        if pps:
            self.pps = pps

    def on_sender_report(self, ntp_unix: float, rtp_timestamp: int) -> None:
        self._sr = (ntp_unix, rtp_timestamp & 0xFFFFFFFF)

    def reset(self) -> None:
        """A new connection: wait for a keyframe again, forget the old clock mapping."""
        self._need_key = True
        self._awaiting_first = True
        self._sr = None

    def _ground_truth(self, nals: Sequence[bytes]) -> tuple[int, int, bytes] | None:
        """(seq, capture µs, JSON as sent) of the access unit's ground-truth SEI, if any.

        The contract's compact form is read in place (:func:`compact_head`, about 1 µs); anything
        else goes through the validating parser. A broken SEI costs the frame its metadata, not its
        delivery."""
        try:
            raw = find_ground_truth_json(nals)
            if raw is None:
                return None
            head = compact_head(raw)
            if head is not None:
                return head[0], head[1], raw
            gt = GroundTruth.from_json(raw)
            return gt.seq, gt.t, raw
        except MediaError as err:
            self._sei_errors += 1
            if self._sei_errors in (1, 10, 100) or self._sei_errors % 1000 == 0:
                log.warning("%s: unreadable ground-truth SEI (%d so far): %s", self.cam,
                            self._sei_errors, err)
            return None

    def capture_time_us(self, rtp_timestamp: int | None, arrival_us: int) -> int:
        return capture_time_us(self._sr, rtp_timestamp, arrival_us)

    def on_access_unit(self, nals: Sequence[bytes], rtp_timestamp: int | None,
                       complete: bool = True, arrival_us: int | None = None) -> bool:
        """Handle one access unit; True when it was queued for the wall channel."""
        if arrival_us is None:
            arrival_us = int(time.time() * 1e6)
        self.received += 1
        own_seq = self._seq  # the hub's count of access units, used when there is no SEI
        self._seq = own_seq + 1
        self.last_arrival = arrival_us / 1e6
        m = self._m
        m.frames_in += 1
        size = 0
        key = False
        sps = pps = None
        seis: list[bytes] | None = None
        for nal in nals:
            size += len(nal) + 4
            kind = nal[0] & 0x1F
            if kind == NAL_IDR:
                key = True
            elif kind == NAL_SPS:
                sps = nal
            elif kind == NAL_PPS:
                pps = nal
            elif kind == NAL_SEI:
                if seis is None:
                    seis = [nal]
                else:
                    seis.append(nal)
        m.bytes_in += size
        if sps is not None:
            self.sps = sps
        if pps is not None:
            self.pps = pps
        if not complete:
            self._need_key = True
            self.metrics.dropped(self.cam, "incomplete")
            return False
        if self._need_key:
            if not key:
                self.metrics.dropped(
                    self.cam, "awaiting_keyframe" if self._awaiting_first else "incomplete")
                return False
            self._need_key = False
            self._awaiting_first = False
        if key:
            nals = with_parameter_sets(nals, self.sps, self.pps)
        truth = self._ground_truth(seis) if seis is not None else None
        if truth is not None:
            seq, t, meta = truth
            self._seq = seq + 1
        else:
            seq, t, meta = own_seq, capture_time_us(self._sr, rtp_timestamp, arrival_us), b""
        if not self.gate.admit(self.cam):
            self._gated = True
            return False
        if self._gated:
            # The gate reopened mid-GOP: the channel must restart at a keyframe.
            if not key:
                self.metrics.dropped(self.cam, "awaiting_keyframe")
                return False
            self._gated = False
        frame = Frame(self.cam, seq, t, arrival_us, key, START_CODE + START_CODE.join(nals),
                      meta)
        if not self.writer.submit(frame):
            return False
        self.delivered += 1
        if self._on_first_frame is not None:
            callback, self._on_first_frame = self._on_first_frame, None
            callback()
        return True


FrameSinkPy = FrameSink
"""The pure-Python sink: the reference for the compiled one, and its fallback."""
if not NO_EXTENSIONS:
    with contextlib.suppress(ImportError):  # not built: the pure-Python sink stands in
        from rtcc.ingest._sink_c import FrameSink  # type: ignore[assignment,no-redef]
