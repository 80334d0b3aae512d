# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Compiled twins of :class:`rtcc.media.interleaved.InterleavedReader` and
:class:`rtcc.media.rtp.H264Depacketizer`, for the hub's per-packet path.

Same behaviour, attributes and error messages as the pure-Python classes, which stay the
reference and the fallback (no compiler at install time, or ``RTCC_NO_EXTENSIONS=1``); the
Python modules pick these up when they import. A differential property test feeds both the same
random byte streams (tests/media/test_compiled.py) and the RTP tests run against both.

What compiling buys: headers are read from the buffer instead of through ``struct``, and
:meth:`InterleavedReader.feed_into` hands every interleaved RTP packet from the TCP buffer
straight to the depacketizer, so the only Python objects per packet are the NAL units it carries.
"""

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.ref cimport Py_INCREF, Py_XDECREF, PyObject
from libc.stdint cimport int64_t, uint8_t
from libc.string cimport memcpy

cdef extern from "Python.h":
    int _PyBytes_Resize(PyObject** string, Py_ssize_t newsize) except -1
    char* _PyBytes_AS_STRING "PyBytes_AS_STRING" (PyObject* string)

from rtcc.errors import MediaError

RTSP_MESSAGE = -1

cdef enum:
    _RTP_HEADER = 12
    _STAP_A = 24
    _STAP_B = 25
    _MTAP16 = 26
    _MTAP24 = 27
    _FU_A = 28
    _FU_B = 29
    _MAX_DROPOUT = 3000
    _MAX_MISORDER = 100
    _NO_CHANNEL = -2

# Bound on first use: rtcc.media.rtp and rtcc.media.interleaved import this module.
cdef object _AccessUnit = None
cdef object _body_length = None


cdef _bind():
    global _AccessUnit, _body_length
    from rtcc.media.interleaved import message_body_length
    from rtcc.media.rtp import ReceivedAccessUnit
    _AccessUnit = ReceivedAccessUnit
    _body_length = message_body_length


cdef int64_t _copied = 0
"""Bytes this module copied out of received buffers (slices, fragments, joined leftovers)."""


def bytes_copied():
    """Bytes the compiled reader and depacketizer have copied so far (benchmarks: bytes
    copied per byte delivered)."""
    return _copied


cdef inline bytes _slice(const uint8_t* p, Py_ssize_t n):
    global _copied
    _copied += n
    return PyBytes_FromStringAndSize(<const char*>p, n)


cdef enum:
    _FU_START_CAPACITY = 65536


cdef class InterleavedReader:
    """See :class:`rtcc.media.interleaved.InterleavedReader`."""

    cdef bytes _buf
    cdef public Py_ssize_t max_header
    cdef public Py_ssize_t max_body

    def __init__(self, Py_ssize_t max_header=16384, Py_ssize_t max_body=1 << 20):
        self._buf = b""
        self.max_header = max_header
        self.max_body = max_body

    @property
    def buffered(self):
        return PyBytes_GET_SIZE(self._buf)

    def feed(self, data):
        return self._split(data, _NO_CHANNEL, None)

    def feed_into(self, data, int rtp_channel, H264Depacketizer depacketizer not None):
        """:meth:`feed`, with the RTP packets of ``rtp_channel`` depacketized on the way: the
        access units they complete and the other items, in the order they completed."""
        return self._split(data, rtp_channel, depacketizer)

    cdef list _split(self, data, int rtp_channel, H264Depacketizer dp):
        global _copied
        cdef bytes buf
        cdef bytes lead = self._buf
        cdef Py_ssize_t off = 0
        cdef Py_ssize_t held = PyBytes_GET_SIZE(lead)
        cdef Py_ssize_t need, size
        cdef list out = []
        if type(data) is bytes:
            buf = <bytes>data
        else:
            buf = bytes(data)
        cdef Py_ssize_t n = PyBytes_GET_SIZE(buf)
        if held:
            # Only the item left unfinished by the last read is joined with the start of this
            # one; the rest of the read is parsed where it lies (a keyframe spans many reads).
            if (<const uint8_t*>PyBytes_AS_STRING(lead))[0] == 0x24:
                if held < 4:
                    off = min(4 - held, n)
                    lead = lead + buf[:off]
                    _copied += held + off
                    held = PyBytes_GET_SIZE(lead)
                    if held < 4:
                        self._buf = lead
                        return out
                size = ((<const uint8_t*>PyBytes_AS_STRING(lead))[2] << 8) \
                    | (<const uint8_t*>PyBytes_AS_STRING(lead))[3]
                need = 4 + size - held
                if need > n - off:
                    self._buf = lead + buf[off:]
                    _copied += held + n - off
                    return out
                lead = lead + buf[off:off + need]
                _copied += held + need
                off += need
                self._parse(lead, 0, rtp_channel, dp, out)
            else:  # an RTSP message: rare and small, joined whole
                buf = lead + buf
                _copied += PyBytes_GET_SIZE(buf)
                n = PyBytes_GET_SIZE(buf)
        cdef Py_ssize_t pos = self._parse(buf, off, rtp_channel, dp, out)
        self._buf = b"" if pos == n else _slice(<const uint8_t*>PyBytes_AS_STRING(buf) + pos,
                                                n - pos)
        return out

    cdef Py_ssize_t _parse(self, bytes buf, Py_ssize_t pos, int rtp_channel,
                           H264Depacketizer dp, list out) except -1:
        """Split ``buf`` from ``pos`` into ``out``; the offset of the first unfinished item."""
        cdef const uint8_t* p = <const uint8_t*>PyBytes_AS_STRING(buf)
        cdef Py_ssize_t n = PyBytes_GET_SIZE(buf)
        cdef Py_ssize_t end
        cdef int first, channel
        try:
            while pos < n:
                first = p[pos]
                if first == 0x24:  # '$'
                    if n - pos < 4:
                        break
                    end = pos + 4 + ((p[pos + 2] << 8) | p[pos + 3])
                    if end > n:
                        break
                    channel = p[pos + 1]
                    if channel == rtp_channel:
                        if dp._out:
                            out += dp._take()
                        dp._feed_counted(p + pos + 4, end - pos - 4, out)
                    else:
                        out.append((channel, _slice(p + pos + 4, end - pos - 4)))
                    pos = end
                elif 0x41 <= first <= 0x5A:  # an RTSP request or status line
                    end = self._message_end(buf, pos)
                    if end < 0 or end > n:
                        break
                    out.append((RTSP_MESSAGE, _slice(p + pos, end - pos)))
                    pos = end
                elif first == 0x0D or first == 0x0A:
                    pos += 1
                else:
                    raise MediaError(
                        f"RTSP/TCP stream out of sync at byte 0x{first:02x}: "
                        "expected '$' (interleaved frame) or an RTSP message"
                    )
        except MediaError:
            self._buf = b""
            raise
        return pos

    cdef Py_ssize_t _message_end(self, bytes buf, Py_ssize_t pos) except -2:
        head_end = buf.find(b"\r\n\r\n", pos, pos + self.max_header + 4)
        sep = 4
        if head_end < 0:
            head_end = buf.find(b"\n\n", pos, pos + self.max_header + 2)
            sep = 2
        if head_end < 0:
            if PyBytes_GET_SIZE(buf) - pos > self.max_header:
                raise MediaError(f"RTSP message header exceeds {self.max_header} bytes")
            return -1
        if _body_length is None:
            _bind()
        return head_end + sep + _body_length(buf[pos:head_end], self.max_body)


cdef class H264Depacketizer:
    """See :class:`rtcc.media.rtp.H264Depacketizer`."""

    cdef public int64_t packets_received
    cdef public int64_t octets_received
    cdef public int64_t lost
    cdef public int64_t duplicates
    cdef public int64_t discarded
    cdef public int64_t resyncs
    cdef public int64_t garbage
    cdef public int64_t garbage_run
    cdef public object last_error
    cdef int64_t _last_seq  # -1: none yet
    cdef int64_t _bad_seq  # -1: none
    cdef int64_t _ssrc  # -1: none yet
    cdef bint _open
    cdef int64_t _ts
    cdef list _nals
    cdef bint _complete
    cdef int _seq_first
    cdef int _seq_last
    # The NAL unit being reassembled from FU-A fragments, written straight into the bytes object
    # that becomes it (one copy per byte; grown with _PyBytes_Resize, cut to size at the end).
    # NULL when no fragmented NAL unit is open.
    cdef PyObject* _fu
    cdef Py_ssize_t _fu_len
    cdef Py_ssize_t _fu_cap
    cdef int _fu_type
    cdef list _out

    def __init__(self):
        self.last_error = None
        self._last_seq = -1
        self._bad_seq = -1
        self._ssrc = -1
        self._open = False
        self._nals = []
        self._complete = True
        self._fu = NULL
        self._out = []

    def __dealloc__(self):
        Py_XDECREF(self._fu)
        self._fu = NULL

    cdef inline void _fu_drop(self):
        Py_XDECREF(self._fu)
        self._fu = NULL

    @property
    def source_ssrc(self):
        return None if self._ssrc < 0 else self._ssrc

    @property
    def highest_seq(self):
        return None if self._last_seq < 0 else self._last_seq

    def feed(self, bytes packet not None):
        self._feed(<const uint8_t*>PyBytes_AS_STRING(packet), PyBytes_GET_SIZE(packet),
                   self._out)
        return self._take()

    def feed_many(self, packets):
        cdef list out = self._take()
        cdef bytes packet
        for packet in packets:
            if packet is None:
                raise TypeError("an RTP packet must be bytes, not None")
            self._feed_counted(<const uint8_t*>PyBytes_AS_STRING(packet),
                               PyBytes_GET_SIZE(packet), out)
        return out

    def flush(self):
        if self._open:
            self._out.append(self._emit())
        return self._take()

    cdef list _take(self):
        cdef list out = self._out
        if not out:
            return []
        self._out = []
        return out

    cdef int _feed_counted(self, const uint8_t* p, Py_ssize_t n, list out) except -1:
        """One packet of feed_many: a garbage packet is counted, not raised."""
        try:
            self._feed(p, n, out)
        except MediaError as err:
            self.garbage += 1
            self.garbage_run += 1
            self.last_error = err
        else:
            self.garbage_run = 0
        return 0

    cdef int _feed(self, const uint8_t* p, Py_ssize_t n, list out) except -1:
        cdef Py_ssize_t pos = _RTP_HEADER
        cdef Py_ssize_t end = n
        cdef int b0, pad
        if n > _RTP_HEADER and p[0] == 0x80:
            pass  # the usual header: no padding, extension or CSRC
        else:
            if n < _RTP_HEADER:
                raise MediaError(f"RTP packet too short ({n} bytes, header needs 12)")
            b0 = p[0]
            if b0 >> 6 != 2:
                raise MediaError(f"RTP version {b0 >> 6}, expected 2")
            pos = _RTP_HEADER + 4 * (b0 & 0x0F)
            if b0 & 0x10:
                if n < pos + 4:
                    raise MediaError("RTP header extension truncated")
                pos += 4 + 4 * ((p[pos + 2] << 8) | p[pos + 3])
            if b0 & 0x20:
                pad = p[n - 1]
                if pad == 0 or pad > n - pos:
                    raise MediaError(f"RTP padding length {pad} is invalid")
                end -= pad
            if pos > end:
                raise MediaError("RTP header (CSRC list or extension) runs past the packet")
        cdef bint marker = p[1] & 0x80
        cdef int64_t seq = (p[2] << 8) | p[3]
        cdef int64_t timestamp = ((<int64_t>p[4] << 24) | (p[5] << 16) | (p[6] << 8) | p[7])
        cdef int64_t ssrc = ((<int64_t>p[8] << 24) | (p[9] << 16) | (p[10] << 8) | p[11])
        cdef int64_t diff
        cdef bint gap = False
        if self._ssrc != ssrc:
            if self._open:
                self._complete = False
                out.append(self._emit())
            self._ssrc = ssrc
            self._last_seq = -1
        cdef int64_t last_seq = self._last_seq
        if last_seq >= 0 and seq != ((last_seq + 1) & 0xFFFF):
            diff = (seq - last_seq) & 0xFFFF
            if diff == 0 or diff > 0x10000 - _MAX_MISORDER:
                self.duplicates += 1
                return 0
            if diff >= _MAX_DROPOUT:
                if seq != self._bad_seq:
                    self._bad_seq = (seq + 1) & 0xFFFF
                    self.discarded += 1
                    return 0
                self.resyncs += 1
                diff = 1
                gap = True
            if diff > 1:
                self.lost += diff - 1
                gap = True
            if gap:
                self._fu_drop()
                if self._open:
                    self._complete = False
        self._last_seq = seq
        self._bad_seq = -1
        self.packets_received += 1
        self.octets_received += end - pos
        if self._open and timestamp != self._ts:
            out.append(self._emit())
        if not self._open:
            self._open = True
            self._ts = timestamp
            self._complete = not gap
            self._seq_first = <int>seq
        self._seq_last = <int>seq
        try:
            self._payload(p + pos, end - pos)
        except MediaError:
            self._complete = False
            self._fu_drop()
            raise
        finally:
            if marker:
                out.append(self._emit())
        return 0

    cdef object _emit(self):
        if self._fu != NULL:  # a fragmented NAL unit never got its end
            self._fu_drop()
            self._complete = False
        if _AccessUnit is None:
            _bind()
        au = _AccessUnit(self._ts, tuple(self._nals), self._complete, self._seq_first,
                         self._seq_last)
        self._open = False
        self._nals = []
        self._complete = True
        return au

    cdef int _payload(self, const uint8_t* p, Py_ssize_t n) except -1:
        if n == 0:
            raise MediaError("RTP packet has an empty H.264 payload")
        cdef int kind = p[0] & 0x1F
        cdef Py_ssize_t pos, size
        cdef list nals
        if kind == _FU_A:
            return self._fragment(p, n)
        if self._fu != NULL:  # a new NAL unit while a fragment was open: that one is broken
            self._fu_drop()
            self._complete = False
        if 1 <= kind <= 23:
            self._nals.append(_slice(p, n))
        elif kind == _STAP_A:
            nals = []
            pos = 1
            while pos < n:
                if pos + 2 > n:
                    raise MediaError("STAP-A truncated inside a NAL unit size")
                size = (p[pos] << 8) | p[pos + 1]
                pos += 2
                if size == 0 or pos + size > n:
                    raise MediaError(f"STAP-A NAL unit size {size} invalid ({n - pos} left)")
                nals.append(_slice(p + pos, size))
                pos += size
            if not nals:
                raise MediaError("STAP-A holds no NAL unit")
            self._nals += nals
        elif kind == _STAP_B or kind == _MTAP16 or kind == _MTAP24 or kind == _FU_B:
            raise MediaError(f"NAL type {kind} is not allowed in packetization-mode 1")
        else:
            raise MediaError(f"unknown NAL type {kind} in RTP payload")
        return 0

    cdef int _fragment(self, const uint8_t* p, Py_ssize_t n) except -1:
        global _copied
        if n < 3:
            raise MediaError(f"FU-A packet too short ({n} bytes)")
        cdef int header = p[1]
        cdef int kind = header & 0x1F
        cdef Py_ssize_t need, cap
        cdef object nal
        if header & 0x80 and header & 0x40:
            raise MediaError("FU-A with both start and end bits set")
        if kind == 0 or kind >= _STAP_A:
            raise MediaError(f"FU-A carries invalid NAL type {kind}")
        if header & 0x80:
            if self._fu != NULL:
                self._complete = False
                self._fu_drop()
            cap = _FU_START_CAPACITY if n - 1 <= _FU_START_CAPACITY else 2 * n
            nal = PyBytes_FromStringAndSize(NULL, cap)
            self._fu = <PyObject*>nal
            Py_INCREF(nal)
            _PyBytes_AS_STRING(self._fu)[0] = <char>((p[0] & 0xE0) | kind)
            memcpy(_PyBytes_AS_STRING(self._fu) + 1, p + 2, n - 2)
            _copied += n - 2
            self._fu_len = n - 1
            self._fu_cap = cap
            self._fu_type = kind
            return 0
        if self._fu == NULL:
            # Its start was lost (already counted) or we joined mid-stream.
            self._complete = False
            return 0
        if kind != self._fu_type:
            self._fu_drop()
            raise MediaError(f"FU-A type changed from {self._fu_type} to {kind} mid-fragment")
        need = self._fu_len + n - 2
        if need > self._fu_cap:
            cap = max(need, 2 * self._fu_cap)
            _PyBytes_Resize(&self._fu, cap)  # on failure it frees and NULLs self._fu
            self._fu_cap = cap
        memcpy(_PyBytes_AS_STRING(self._fu) + self._fu_len, p + 2, n - 2)
        _copied += n - 2
        self._fu_len = need
        if header & 0x40:
            if self._fu_len != self._fu_cap:
                _PyBytes_Resize(&self._fu, self._fu_len)
            nal = <object>self._fu  # a new reference; the field's own goes below
            Py_XDECREF(self._fu)
            self._fu = NULL
            self._nals.append(nal)
        return 0
