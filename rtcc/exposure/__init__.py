"""The neighbour-exposure analyzer: who ends up on the police wall without having agreed.

Static analysis (pure, from geometry and consent tiers):

* :mod:`~rtcc.exposure.consent` - the tiers an analysis runs against (world seeds, a consent
  file, the registry or its export).
* :mod:`~rtcc.exposure.static` - per camera, per household, per neighbourhood; built on
  :mod:`~rtcc.exposure.bands` (cumulative DORI band regions), :mod:`~rtcc.exposure.coverage`
  (street coverage, trackability) and :mod:`~rtcc.exposure.breakdown` (groups by attribute),
  returning the value types of :mod:`~rtcc.exposure.results`.
* :mod:`~rtcc.exposure.counterfactuals` (+ :mod:`~rtcc.exposure.masks`) - privacy masks, a
  resolution cap, request-only access; :mod:`~rtcc.exposure.sweep` - opt-in-rate sweeps in
  worker processes.

Live analysis (asyncio, Redis): :mod:`~rtcc.exposure.live` (the consumer-group analyzer),
:mod:`~rtcc.exposure.live_metrics` (Prometheus), :mod:`~rtcc.exposure.service` (in
``rtcc serve``, and ``rtcc exposure --live``).

Output: :mod:`~rtcc.exposure.schema` (the versioned JSON, docs/exposure-schema.md),
:mod:`~rtcc.exposure.table` (text), :mod:`~rtcc.exposure.report` with
:mod:`~rtcc.exposure.report_sections`, :mod:`~rtcc.exposure.charts`,
:mod:`~rtcc.exposure.mapsvg` and :mod:`~rtcc.exposure.oversight` (the self-contained HTML report
and its Surveillance Impact Report). :mod:`~rtcc.exposure.scenario` reads the policy scenarios
in ``scenarios/``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rtcc.exposure.service import setup

__all__ = ["setup"]


def __getattr__(name: str) -> object:
    # ``setup`` is imported when asked for, so that the commands reading this package's pure
    # modules do not load the web layer.
    if name == "setup":
        from rtcc.exposure.service import setup

        return setup
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
