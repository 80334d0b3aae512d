"""The residents' app: a resident's own household and cameras, what each camera would put on the
police wall, who watched it, and the police requests they answer. Served by ``rtcc serve`` at
``/home/`` (roles ``all`` and ``wall``), plain ES modules over the shared ones of ``/static/``
(docs/pages.md, docs/residents.md).

Modules: :mod:`.words` (every text a resident reads, in plain words), :mod:`.household` (my
cameras, their tiers, schedules, expiry and history), :mod:`.sees` (what a camera sees: the
exposure analyzer for one camera), :mod:`.watched` (the household's part of the audit log),
:mod:`.inbox` (requests waiting and answered, the clip preview), :mod:`.notices` (the resident's
event kinds on ``/api/events``), :mod:`.routes` (HTTP handlers and :func:`setup`).
"""

from __future__ import annotations

from rtcc.home.routes import setup

__all__ = ["setup"]
