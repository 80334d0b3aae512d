"""The browser faces' static files: the shared folder ``rtcc/web/static/`` at ``/static/``, and
the same serving rules for a face's own folder (the wall's ``/wall/static/``).

What lives in the shared folder (docs/pages.md describes each module's API): ``session.js``
(login form, token, sign-out, 401), ``api.js`` (JSON calls, errors in plain words), ``live.js``
(the server-sent events of ``/api/events``), ``map.js`` (the one map, over the vendored Leaflet),
``ui.css`` (type, colours, forms, phone-first layout) and ``vendor/<name>/`` (third-party code,
each with its licence and a line in ``vendor/VENDORED.md``).

Serving rules, for every file:

* ``Cache-Control: no-cache`` with a strong ``ETag`` (a digest of the bytes): the browser keeps a
  copy but asks each time, so a new rtcc is picked up at the next load and an ES module never
  runs next to an older sibling; an unchanged file costs a ``304``.
* text files (scripts, stylesheets, SVG, JSON, Markdown) are sent gzipped to clients that accept
  it (Leaflet's 415 KB module is 105 KB on the wire); each file is read and compressed once per
  version (size and modification time) and kept in memory: the folders are small.
* only regular files under the folder, no dotfiles, no directory listings, no ``..``: anything
  else is a 404 like a missing file.

:func:`page` answers a face's HTML page with the same ``no-cache`` rule, and
:func:`json_document` a large JSON document (the map) gzipped, with an ``ETag``.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import json
import mimetypes
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from rtcc.errors import NotFound

STATIC = Path(__file__).parent / "static"
PREFIX = "/static/"
COMPRESSIBLE = frozenset({".js", ".mjs", ".css", ".svg", ".json", ".md", ".html", ".txt"})
TYPES = {".js": "text/javascript", ".mjs": "text/javascript", ".css": "text/css",
         ".md": "text/markdown", ".svg": "image/svg+xml", ".png": "image/png",
         ".json": "application/json", ".html": "text/html", ".txt": "text/plain"}


@dataclass(frozen=True, slots=True)
class _File:
    version: tuple[int, int]
    """(size, mtime_ns) when read."""
    content_type: str
    etag: str
    raw: bytes
    gzipped: bytes | None


class StaticFolder:
    """One folder served under one URL prefix with the rules above."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self._files: dict[Path, _File] = {}

    def _resolve(self, relative: str) -> Path:
        parts = relative.split("/")
        if not relative or any(p in ("", ".", "..") or p.startswith(".") for p in parts):
            raise NotFound(f"no such file: {relative!r}")
        path = (self.root / relative).resolve()
        if not path.is_relative_to(self.root) or not path.is_file():
            raise NotFound(f"no such file: {relative!r}")
        return path

    def _load(self, path: Path) -> _File:
        stat = path.stat()
        version = (stat.st_size, stat.st_mtime_ns)
        cached = self._files.get(path)
        if cached is not None and cached.version == version:
            return cached
        raw = path.read_bytes()
        suffix = path.suffix.lower()
        content_type = TYPES.get(suffix) or mimetypes.guess_type(path.name)[0] \
            or "application/octet-stream"
        gzipped = gzip.compress(raw, 9, mtime=0) if suffix in COMPRESSIBLE else None
        entry = _File(version, content_type, f'"{hashlib.sha256(raw).hexdigest()[:32]}"', raw,
                      gzipped if gzipped is not None and len(gzipped) < len(raw) else None)
        self._files[path] = entry
        return entry

    async def handle(self, request: web.Request) -> web.Response:
        path = self._resolve(request.match_info["path"])
        entry = await asyncio.to_thread(self._load, path)
        headers = {"Cache-Control": "no-cache", "ETag": entry.etag, "Vary": "Accept-Encoding"}
        if entry.etag in _etags(request.headers.get("If-None-Match", "")):
            return web.Response(status=304, headers=headers)
        body = entry.raw
        if entry.gzipped is not None and _accepts_gzip(request.headers.get("Accept-Encoding")):
            body = entry.gzipped
            headers["Content-Encoding"] = "gzip"
        charset = "utf-8" if entry.content_type.startswith("text/") else None
        return web.Response(body=body, content_type=entry.content_type, charset=charset,
                            headers=headers)


def _etags(header: str) -> set[str]:
    return {tag.strip().removeprefix("W/") for tag in header.split(",") if tag.strip()}


def _accepts_gzip(header: str | None) -> bool:
    for item in (header or "").split(","):
        name, _, params = item.strip().partition(";")
        if name.strip().lower() in ("gzip", "*"):
            return params.replace(" ", "") not in ("q=0", "q=0.0", "q=0.00", "q=0.000")
    return False


def add_folder(app: web.Application, prefix: str, root: Path) -> StaticFolder:
    """Serve ``root`` under ``prefix`` (ending in ``/``) with the rules of this module."""
    folder = StaticFolder(root)
    app.router.add_get(prefix + "{path:.+}", folder.handle)
    return folder


async def page(path: Path) -> web.FileResponse:
    """A face's HTML page: never stale (``no-cache``), it names the modules to load."""
    return web.FileResponse(path, headers={"Cache-Control": "no-cache"})


def _encode(doc: Any, gzipped: bool) -> tuple[bytes, str]:
    body = json.dumps(doc, separators=(",", ":")).encode()
    digest = hashlib.sha256(body).hexdigest()[:32]
    if gzipped:
        return gzip.compress(body, 6, mtime=0), f'"{digest}-gz"'
    return body, f'"{digest}"'


async def json_document(request: web.Request, doc: Any, *,
                        content_type: str = "application/json") -> web.Response:
    """A large JSON document for a page (the map): encoded, and gzipped when the client accepts
    it, on a worker thread. Never stored by the browser (``no-store``: it is what one user may
    see); a page that kept the previous version sends its ``ETag`` back in ``If-None-Match`` and
    gets a ``304`` when nothing changed."""
    gzipped = _accepts_gzip(request.headers.get("Accept-Encoding"))
    body, etag = await asyncio.to_thread(_encode, doc, gzipped)
    headers = {"Cache-Control": "no-store", "ETag": etag, "Vary": "Accept-Encoding"}
    if etag in _etags(request.headers.get("If-None-Match", "")):
        return web.Response(status=304, headers=headers)
    if gzipped:
        headers["Content-Encoding"] = "gzip"
    return web.Response(body=body, content_type=content_type, headers=headers)


_SHARED = web.AppKey("shared_static", StaticFolder)


def setup(app: web.Application) -> None:
    """Serve the shared folder at ``/static/`` (idempotent: each face calls it)."""
    if _SHARED not in app:
        app[_SHARED] = add_folder(app, PREFIX, STATIC)
