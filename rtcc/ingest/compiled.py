"""Which compiled twins of the per-packet code the hub runs.

The hub's hottest classes have Cython twins: ``InterleavedReader`` and ``H264Depacketizer`` in
``rtcc/media/_rtp_c.pyx``, ``FrameSink`` in ``rtcc/ingest/_sink_c.pyx``. Each pure-Python module
picks up its twin when it imports, unless :data:`rtcc.compiled.NO_EXTENSIONS` is set, and keeps
its own class when the twin was not built. :func:`extensions` says which are in use: the hub's
``/metrics`` (``rtcc_hub_compiled``), the benchmarks' headers and the tests report it.
"""

from __future__ import annotations

from rtcc.ingest import sink
from rtcc.media import interleaved, rtp


def extensions() -> dict[str, bool]:
    """Compiled twin in use, per class."""
    return {
        "FrameSink": sink.FrameSink is not sink.FrameSinkPy,
        "InterleavedReader": interleaved.InterleavedReader is not interleaved.InterleavedReaderPy,
        "H264Depacketizer": rtp.H264Depacketizer is not rtp.H264DepacketizerPy,
    }


def describe() -> str:
    """The classes that run compiled, for benchmark headers."""
    used = [name for name, on in extensions().items() if on]
    return ", ".join(used) if used else "none (pure Python)"
