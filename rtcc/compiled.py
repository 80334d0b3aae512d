"""Which compiled twins of the per-packet code are in use.

The hub's hottest classes have Cython twins: ``InterleavedReader`` and ``H264Depacketizer`` in
``rtcc/media/_rtp_c.pyx``, ``FrameSink`` in ``rtcc/ingest/_sink_c.pyx``. pip builds them when a C
compiler and the Python headers are there (``./run`` installs both on Debian). The pure-Python
modules stay the reference: each picks up its twin when it imports, unless ``RTCC_NO_EXTENSIONS``
is set (the aiohttp convention), and keeps its own class when the twin was not built.
:func:`extensions` says which are in use: the hub's ``/metrics`` (``rtcc_hub_compiled``), the
benchmarks' headers and the tests report it.
"""

from __future__ import annotations

import os

from rtcc.config import is_true

NO_EXTENSIONS = is_true(os.environ.get("RTCC_NO_EXTENSIONS", ""))
"""Set ``RTCC_NO_EXTENSIONS=1`` to run the pure-Python code everywhere (read at import, before
any setting is loaded: the classes are chosen when their modules import)."""


def extensions() -> dict[str, bool]:
    """Compiled twin in use, per class."""
    from rtcc.ingest import sink
    from rtcc.media import interleaved, rtp

    return {
        "FrameSink": sink.FrameSink is not sink.FrameSinkPy,
        "InterleavedReader": interleaved.InterleavedReader is not interleaved.InterleavedReaderPy,
        "H264Depacketizer": rtp.H264Depacketizer is not rtp.H264DepacketizerPy,
    }


def describe() -> str:
    """The classes that run compiled, for benchmark headers."""
    used = [name for name, on in extensions().items() if on]
    return ", ".join(used) if used else "none (pure Python)"
