"""The flag that turns the compiled twins of the per-packet code off (aiohttp's
``NO_EXTENSIONS`` pattern): set ``RTCC_NO_EXTENSIONS=1`` to run the pure-Python code everywhere.

It is read here, at the bottom of the house, when the first module with a twin imports (before
any setting is loaded: the classes are chosen at import); ``rtcc.config`` validates the same
variable as the ``no_extensions`` setting. Which twins actually run is reported by
:mod:`rtcc.ingest.compiled`.
"""

from __future__ import annotations

import os

TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
"""How a boolean ``RTCC_*`` variable says yes (``rtcc.config`` reads booleans with these)."""

NO_EXTENSIONS = os.environ.get("RTCC_NO_EXTENSIONS", "").strip().lower() in TRUE_WORDS
