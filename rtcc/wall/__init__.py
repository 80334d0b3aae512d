"""The monitor wall: a browser page of live camera tiles, a neighbourhood map and a focus view.

Served by ``rtcc serve`` (no separate front-end server): the page and its plain ES modules under
``/wall/``, one multiplexing WebSocket per page at ``/wall/ws``, WHEP playback per camera at
``/wall/whep/{cam}``, and JSON for the page at ``/api/wall/cameras``, ``/api/wall/map`` and
``/api/map`` (the map every page draws, :mod:`rtcc.web.mapdoc`). :func:`setup` registers it all
with one line in :mod:`rtcc.app`.

Modules: :mod:`.protocol` (the binary frame header and control messages), :mod:`.frames` (bounded
per-viewer queues), :mod:`.fanout` (each camera's Redis stream read once), :mod:`.ws` (the
WebSocket session), :mod:`.whep` and :mod:`.passthrough` (WebRTC without re-encoding),
:mod:`.consent` and :mod:`.exposure` (who consents, who is exposed), :mod:`.access` (tokens and
audit through the registry), :mod:`.service` (assembly, the world's map), :mod:`.routes` (HTTP
handlers).
"""

from __future__ import annotations

from rtcc.wall.routes import WALL, setup

__all__ = ["WALL", "setup"]
