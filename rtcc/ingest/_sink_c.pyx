# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Compiled twin of :class:`rtcc.ingest.sink.FrameSink`, the per-frame step of every driver.

Same behaviour, attributes and log lines as the pure-Python sink, which stays the reference and
the fallback (see :mod:`rtcc.compiled`); a differential property test drives both with the same
random access units (tests/ingest/test_sink_compiled.py). What compiling buys: the NAL units are
scanned, the ground-truth SEI is found and its ``seq`` and ``t`` read, and the Annex-B access unit
is assembled in one allocation, all without Python-level loops. The consent gate, the writer and
anything unusual (an escaped camera id, an SEI holding several messages, JSON that is not the
compact form) go through the same Python code as the pure-Python sink.
"""

import logging
import time

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from libc.stdint cimport int64_t, uint8_t
from libc.string cimport memcmp, memcpy

from rtcc.errors import MediaError

log = logging.getLogger("rtcc.ingest.sink")

cdef enum:
    _NAL_IDR = 5
    _NAL_SEI = 6
    _NAL_SPS = 7
    _NAL_PPS = 8
    _USER_DATA_UNREGISTERED = 5

# Bound on first use: rtcc.ingest.sink imports this module.
cdef object _Frame = None
cdef object _with_parameter_sets = None
cdef object _ground_truth_json = None
cdef object _from_json = None
cdef object _regex_head = None
cdef object _capture_time_us = None
cdef bytes _UUID = b""


cdef _bind():
    global _Frame, _with_parameter_sets, _ground_truth_json, _from_json, _regex_head, _UUID
    global _capture_time_us
    from rtcc.channels import Frame
    from rtcc.ingest.sink import _regex_head as regex_head
    from rtcc.ingest.sink import capture_time_us
    from rtcc.media.h264 import with_parameter_sets
    from rtcc.media.sei import GROUND_TRUTH_UUID, GroundTruth, ground_truth_json
    _Frame = Frame
    _with_parameter_sets = with_parameter_sets
    _ground_truth_json = ground_truth_json
    _from_json = GroundTruth.from_json
    _regex_head = regex_head
    _capture_time_us = capture_time_us
    _UUID = GROUND_TRUTH_UUID


cdef inline Py_ssize_t _find(const uint8_t* p, Py_ssize_t start, Py_ssize_t end,
                             const char* needle, Py_ssize_t m):
    """First offset of ``needle`` in p[start:end], or -1 (bytes.find)."""
    cdef Py_ssize_t i
    end -= m
    i = start
    while i <= end:
        if p[i] == <uint8_t>needle[0] and memcmp(p + i, needle, m) == 0:
            return i
        i += 1
    return -1


cdef inline bint _has_escape_3(const uint8_t* p, Py_ssize_t n):
    """``b"\\x00\\x00\\x03" in p[:n]``."""
    cdef Py_ssize_t i
    for i in range(n - 2):
        if p[i] == 0 and p[i + 1] == 0 and p[i + 2] == 3:
            return True
    return False


cdef object _sei_json(bytes nal):
    """rtcc.media.sei.ground_truth_json: its in-place fast path here, the rest in Python."""
    cdef const uint8_t* p = <const uint8_t*>PyBytes_AS_STRING(nal)
    cdef Py_ssize_t n = PyBytes_GET_SIZE(nal)
    cdef Py_ssize_t end = n - 1 if n and p[n - 1] == 0x80 else n
    cdef Py_ssize_t pos = 2
    cdef Py_ssize_t size = 0
    if end > 19 and p[0] & 0x1F == _NAL_SEI and p[1] == _USER_DATA_UNREGISTERED \
            and not _has_escape_3(p, n):
        while pos < end and p[pos] == 0xFF:
            size += 255
            pos += 1
        if pos < end:
            size += p[pos]
            pos += 1
            if pos + size == end and end - pos >= 16 \
                    and memcmp(p + pos, PyBytes_AS_STRING(_UUID), 16) == 0:
                return PyBytes_FromStringAndSize(<const char*>p + pos + 16, end - pos - 16)
    return _ground_truth_json(nal)


cdef object _digits(const uint8_t* p, Py_ssize_t start, Py_ssize_t end):
    """int(p[start:end]) for a run of ASCII digits."""
    cdef int64_t value = 0
    cdef Py_ssize_t i
    if end - start > 18:
        return int(PyBytes_FromStringAndSize(<const char*>p + start, end - start))
    for i in range(start, end):
        value = value * 10 + (p[i] - 48)
    return value


cdef object _compact_head(bytes raw):
    """rtcc.ingest.sink.compact_head."""
    cdef const uint8_t* p = <const uint8_t*>PyBytes_AS_STRING(raw)
    cdef Py_ssize_t n = PyBytes_GET_SIZE(raw)
    cdef Py_ssize_t seq_at, t_at, end, i
    if n < 8 or memcmp(p, b'{"cam":"', 8) != 0:
        return None
    seq_at = _find(p, 8, n, b'","seq":', 8)
    if seq_at < 0:
        return None
    for i in range(8, seq_at):
        if p[i] == 0x5C:  # a backslash: escapes in the id, let the regex judge them
            return _regex_head(raw)
    for i in range(8, seq_at):
        if p[i] == 0x22:
            return None
    seq_at += 8
    t_at = _find(p, seq_at, n, b',"t":', 5)
    if t_at < 0:
        return None
    end = t_at + 5
    while end < n and 48 <= p[end] <= 57:
        end += 1
    if end == t_at + 5 or end == n or (p[end] != 0x2C and p[end] != 0x7D) or seq_at == t_at:
        return None
    for i in range(seq_at, t_at):
        if not 48 <= p[i] <= 57:
            return None
    return _digits(p, seq_at, t_at), _digits(p, t_at + 5, end)


cdef class FrameSink:
    """See :class:`rtcc.ingest.sink.FrameSink`."""

    cdef public str cam
    cdef public object gate
    cdef public object writer
    cdef public object metrics
    cdef public object _m
    cdef public object sps
    cdef public object pps
    cdef public object _sr
    cdef public bint _need_key
    cdef public bint _awaiting_first
    cdef public object _seq
    cdef public bint _gated
    cdef public int64_t received
    cdef public int64_t delivered
    cdef public double last_arrival
    cdef public int64_t _sei_errors
    cdef public object _on_first_frame

    def __init__(self, str cam, gate, writer, metrics, on_first_frame=None):
        if _Frame is None:
            _bind()
        self.cam = cam
        self.gate = gate
        self.writer = writer
        self.metrics = metrics
        self._m = metrics.camera(cam)
        self.sps = None
        self.pps = None
        self._sr = None
        self._need_key = True
        self._awaiting_first = True
        self._seq = 0
        self._gated = False
        self.received = 0
        self.delivered = 0
        self.last_arrival = 0.0
        self._sei_errors = 0
        self._on_first_frame = on_first_frame

    def set_parameter_sets(self, sps, pps):
        if sps:
            self.sps = sps
        if pps:
            self.pps = pps

    def on_sender_report(self, ntp_unix, rtp_timestamp):
        self._sr = (ntp_unix, rtp_timestamp & 0xFFFFFFFF)

    def reset(self):
        self._need_key = True
        self._awaiting_first = True
        self._sr = None

    def _ground_truth(self, nals):
        """(seq, capture µs, JSON as sent) of the access unit's ground-truth SEI, if any."""
        cdef bytes raw = None
        try:
            for nal in nals:
                if nal and (<bytes?>nal)[0] & 0x1F == _NAL_SEI:
                    raw = _sei_json(nal)
                    if raw is not None:
                        break
            if raw is None:
                return None
            head = _compact_head(raw)
            if head is not None:
                return head[0], head[1], raw
            gt = _from_json(raw)
            return gt.seq, gt.t, raw
        except MediaError as err:
            self._sei_errors += 1
            if self._sei_errors in (1, 10, 100) or self._sei_errors % 1000 == 0:
                log.warning("%s: unreadable ground-truth SEI (%d so far): %s", self.cam,
                            self._sei_errors, err)
            return None

    def capture_time_us(self, rtp_timestamp, arrival_us):
        return _capture_time_us(self._sr, rtp_timestamp, arrival_us)

    def on_access_unit(self, nals, rtp_timestamp, bint complete=True, arrival_us=None):
        """Handle one access unit; True when it was queued for the wall channel."""
        if arrival_us is None:
            arrival_us = int(time.time() * 1e6)
        self.received += 1
        own_seq = self._seq
        self._seq = own_seq + 1
        self.last_arrival = arrival_us / 1e6
        m = self._m
        m.frames_in += 1
        cdef Py_ssize_t size = 0
        cdef bint key = False
        cdef int kind
        cdef object sps = None
        cdef object pps = None
        cdef list seis = None
        cdef bytes nal
        for nal in nals:
            if nal is None:
                raise TypeError("a NAL unit must be bytes, not None")
            if PyBytes_GET_SIZE(nal) == 0:
                raise IndexError("index out of range")
            size += PyBytes_GET_SIZE(nal) + 4
            kind = nal[0] & 0x1F
            if kind == _NAL_IDR:
                key = True
            elif kind == _NAL_SPS:
                sps = nal
            elif kind == _NAL_PPS:
                pps = nal
            elif kind == _NAL_SEI:
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
            nals = _with_parameter_sets(nals, self.sps, self.pps)
        truth = self._ground_truth(seis) if seis is not None else None
        if truth is not None:
            seq, t, meta = truth
            self._seq = seq + 1
        else:
            seq, t, meta = own_seq, _capture_time_us(self._sr, rtp_timestamp, arrival_us), b""
        if not self.gate.admit(self.cam):
            self._gated = True
            return False
        if self._gated:
            # The gate reopened mid-GOP: the channel must restart at a keyframe.
            if not key:
                self.metrics.dropped(self.cam, "awaiting_keyframe")
                return False
            self._gated = False
        frame = _Frame(self.cam, seq, t, arrival_us, key, _annex_b(nals), meta)
        if not self.writer.submit(frame):
            return False
        self.delivered += 1
        if self._on_first_frame is not None:
            callback, self._on_first_frame = self._on_first_frame, None
            callback()
        return True


cdef int64_t _copied = 0


def bytes_copied():
    """Bytes the compiled sink has copied so far (the Annex-B assembly of delivered frames)."""
    return _copied


cdef bytes _annex_b(nals):
    """START_CODE + START_CODE.join(nals), in one allocation."""
    global _copied
    if not nals:
        return b"\x00\x00\x00\x01"
    cdef Py_ssize_t total = 0
    cdef Py_ssize_t n
    cdef bytes nal
    for nal in nals:
        if nal is None:
            raise TypeError("a NAL unit must be bytes, not None")
        total += 4 + PyBytes_GET_SIZE(nal)
    cdef bytes out = PyBytes_FromStringAndSize(NULL, total)
    cdef char* w = PyBytes_AS_STRING(out)
    for nal in nals:
        n = PyBytes_GET_SIZE(nal)
        w[0] = 0
        w[1] = 0
        w[2] = 0
        w[3] = 1
        memcpy(w + 4, PyBytes_AS_STRING(nal), n)
        w += 4 + n
    _copied += total
    return out


def compact_head(bytes raw not None):
    """:func:`rtcc.ingest.sink.compact_head`, compiled (what the sink runs; for the tests)."""
    if _Frame is None:
        _bind()
    return _compact_head(raw)


def ground_truth_json(bytes nal not None):
    """:func:`rtcc.media.sei.ground_truth_json`, compiled (for the tests)."""
    if _Frame is None:
        _bind()
    return _sei_json(nal)
