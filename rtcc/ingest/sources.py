"""Where the hub's cameras come from: a sources file (TOML or JSON) or the consent registry.

A sources file lists cameras as ``{id, url | whip, token?, transport?}``::

    # TOML                                   // JSON
    [[cameras]]                              [{"id": "cam-0001",
    id = "cam-0001"                            "url": "rtsp://user:pw@127.0.0.1:8554/cams/cam-0001"},
    url = "rtsp://127.0.0.1:8554/cams/cam-0001"  {"id": "door-7", "whip": true, "token": "s3cret"}]
    transport = "udp"          # optional, default tcp
    [[cameras]]
    id = "door-7"
    whip = true
    token = "s3cret"           # WHIP bearer token of this camera

(JSON may also be ``{"cameras": [...]}``.) Errors name the file, the camera's index and id and
the field. Registry cameras carry an optional ``source`` field: an RTSP URL or ``whip``; a
``whip_token`` field, when the registry keeps one, becomes the bearer token.
"""

from __future__ import annotations

import json
import logging
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import redis.asyncio as aredis

from rtcc import keys
from rtcc.errors import ConfigError
from rtcc.logs import redact_url

log = logging.getLogger(__name__)

TRANSPORTS = ("tcp", "udp")
_FIELDS = {"id", "url", "whip", "token", "transport"}


@dataclass(frozen=True, slots=True)
class Source:
    """One camera the hub ingests: pulled over RTSP (``url``) or pushed over WHIP."""

    id: str
    url: str | None = field(default=None, repr=False)
    whip: bool = False
    token: str | None = field(default=None, repr=False)
    transport: str = "tcp"

    @property
    def kind(self) -> str:
        return "whip" if self.whip else "rtsp"

    @property
    def redacted(self) -> str:
        """What logs and the API may show: the URL without its password, or ``whip``."""
        return "whip" if self.whip else redact_url(self.url or "")

    def __repr__(self) -> str:
        return f"Source(id={self.id!r}, source={self.redacted!r}, transport={self.transport!r})"


def validate_source(raw: Any, where: str) -> Source:
    """One source from a decoded mapping; ConfigError names ``where`` and the field."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a table/object, got {type(raw).__name__}")
    unknown = sorted(set(raw) - _FIELDS)
    if unknown:
        raise ConfigError(f"{where}: unknown field {unknown[0]!r} "
                          f"(known: {', '.join(sorted(_FIELDS))})")
    cam = raw.get("id")
    if not isinstance(cam, str) or not cam.strip():
        raise ConfigError(f"{where}: field 'id': expected a non-empty string")
    try:
        keys.video(cam)
    except ValueError:
        raise ConfigError(f"{where}: field 'id': {cam!r} may not contain braces") from None
    where = f"{where} ({cam})"
    url, whip = raw.get("url"), raw.get("whip", False)
    if not isinstance(whip, bool):
        raise ConfigError(f"{where}: field 'whip': expected true or false")
    if (url is None) == (not whip):
        raise ConfigError(f"{where}: give exactly one of 'url' (RTSP) or 'whip = true'")
    if url is not None:
        if not isinstance(url, str):
            raise ConfigError(f"{where}: field 'url': expected a string")
        parts = urlsplit(url)
        if parts.scheme.lower() not in ("rtsp", "rtsps") or not parts.hostname:
            raise ConfigError(f"{where}: field 'url': expected rtsp://HOST[:PORT]/PATH, got "
                              f"{redact_url(url)!r}")
        if parts.scheme.lower() == "rtsps":
            raise ConfigError(f"{where}: field 'url': rtsps (RTSP over TLS) is not supported")
        try:
            parts.port  # noqa: B018 - raises ValueError for a bad port
        except ValueError:
            raise ConfigError(f"{where}: field 'url': bad port in {redact_url(url)!r}") from None
    token = raw.get("token")
    if token is not None and (not isinstance(token, str) or not token):
        raise ConfigError(f"{where}: field 'token': expected a non-empty string")
    transport = raw.get("transport", "tcp")
    if transport not in TRANSPORTS:
        raise ConfigError(f"{where}: field 'transport': expected 'tcp' or 'udp', "
                          f"got {transport!r}")
    return Source(id=cam, url=url, whip=whip, token=token, transport=transport)


def parse_sources(doc: Any, origin: str) -> list[Source]:
    """Sources from a decoded document: a list, or a mapping with a ``cameras`` list."""
    items = doc.get("cameras") if isinstance(doc, dict) else doc
    if isinstance(doc, dict):
        extra = sorted(set(doc) - {"cameras"})
        if extra:
            raise ConfigError(f"{origin}: unknown top-level key {extra[0]!r} (expected 'cameras')")
    if not isinstance(items, list):
        raise ConfigError(f"{origin}: expected a list of cameras (TOML: [[cameras]] tables)")
    sources: list[Source] = []
    seen: dict[str, int] = {}
    for i, raw in enumerate(items):
        src = validate_source(raw, f"{origin}: camera {i}")
        if src.id in seen:
            raise ConfigError(f"{origin}: camera {i} ({src.id}): duplicate id "
                              f"(first at camera {seen[src.id]})")
        seen[src.id] = i
        sources.append(src)
    return sources


def load_sources_file(path: str | Path) -> list[Source]:
    """Read a ``.toml`` or ``.json`` sources file (by extension; other names are read as TOML
    when they parse as TOML, else as JSON)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError(f"{p}: cannot read sources file ({err.strerror})") from err
    except UnicodeDecodeError as err:
        raise ConfigError(f"{p}: not UTF-8 text") from err
    suffix = p.suffix.lower()
    as_json = suffix == ".json"
    if suffix not in (".json", ".toml"):
        try:
            tomllib.loads(text)
        except tomllib.TOMLDecodeError:
            as_json = True
    if as_json:
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as err:
            raise ConfigError(f"{p}: invalid JSON at line {err.lineno} column {err.colno}: "
                              f"{err.msg}") from err
    else:
        try:
            doc = tomllib.loads(text)
        except tomllib.TOMLDecodeError as err:
            raise ConfigError(f"{p}: invalid TOML: {err}") from err
    return parse_sources(doc, str(p))


def _text(value: bytes | str | None) -> str:
    if value is None:
        return ""
    return value.decode() if isinstance(value, bytes) else value


async def load_registry_sources(state: aredis.Redis) -> list[Source]:
    """Cameras of the registry that have a ``source`` (an RTSP URL or ``whip``).

    A registry camera with an unusable source is skipped with a warning naming it (the registry
    is edited by people; one typo must not stop the hub)."""
    ids = sorted(_text(m) for m in await state.smembers(keys.CAMERAS))
    if not ids:
        return []
    pipe = state.pipeline(transaction=False)
    for cam in ids:
        pipe.hmget(keys.camera(cam), ["source", "whip_token", "transport"])
    rows = await pipe.execute()
    out: list[Source] = []
    for cam, (source, token, transport) in zip(ids, rows, strict=True):
        src_text = _text(source).strip()
        if not src_text:
            continue
        raw: dict[str, Any] = {"id": cam}
        if src_text.lower() == "whip":
            raw["whip"] = True
        else:
            raw["url"] = src_text
        if _text(token):
            raw["token"] = _text(token)
        if _text(transport):
            raw["transport"] = _text(transport)
        try:
            out.append(validate_source(raw, f"registry camera {cam}"))
        except ConfigError as err:
            log.warning("skipping %s", err)
    return out


def by_id(sources: Iterable[Source]) -> dict[str, Source]:
    return {s.id: s for s in sources}
