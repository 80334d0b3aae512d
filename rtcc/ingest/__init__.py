"""The ingest hub: cameras in (RTSP pull, WHIP push), access units out to the live Redis.

Modules, in data-flow order: :mod:`~rtcc.ingest.sources` (which cameras) ->
:mod:`~rtcc.ingest.supervisor` (one supervised worker per camera) ->
:mod:`~rtcc.ingest.rtsp_client` / :mod:`~rtcc.ingest.whip_endpoint` (drivers) ->
:mod:`~rtcc.ingest.sink` (access units to frames) -> :mod:`~rtcc.ingest.gate` (consent) ->
:mod:`~rtcc.ingest.writer` (batched into Redis over :mod:`~rtcc.ingest.resp`);
:mod:`~rtcc.ingest.lease` and :mod:`~rtcc.ingest.ownership` share cameras between hub workers;
:mod:`~rtcc.ingest.metrics` and :mod:`~rtcc.ingest.compiled` report; :mod:`~rtcc.ingest.hub`
assembles it (``setup(app)``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rtcc.ingest.hub import setup

__all__ = ["setup"]


def __getattr__(name: str) -> object:
    # ``setup`` is imported when asked for, so that the commands reading this package's pure
    # modules do not load the web layer.
    if name == "setup":
        from rtcc.ingest.hub import setup

        return setup
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
