"""Logging setup and credential redaction shared by every rtcc process."""

from __future__ import annotations

import logging
import re
import sys
from urllib.parse import urlsplit, urlunsplit

_USERINFO = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<userinfo>[^@/\s]+)@", re.IGNORECASE)


def redact_url(url: str) -> str:
    """Return ``url`` with any password replaced by ``***`` (user names are kept).

    >>> redact_url("rtsp://admin:hunter2@127.0.0.1:8554/cams/c1")
    'rtsp://admin:***@127.0.0.1:8554/cams/c1'
    >>> redact_url("redis://:secret@localhost/0")
    'redis://:***@localhost/0'
    """
    parts = urlsplit(url)
    if parts.password is None:
        return url
    user = parts.username or ""
    try:
        port = parts.port
    except ValueError:  # several hosts (a Redis Cluster seed list): keep them as written
        hosts = parts.netloc.rpartition("@")[2]
        return urlunsplit(parts._replace(netloc=f"{user}:***@{hosts}"))
    host = parts.hostname or ""
    if port is not None:
        host = f"{host}:{port}"
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


def redact_credentials(text: str) -> str:
    """Redact the userinfo of every URL inside free text (log lines, error messages)."""

    def _sub(m: re.Match[str]) -> str:
        userinfo = m.group("userinfo")
        user = userinfo.split(":", 1)[0]
        masked = f"{user}:***" if ":" in userinfo else "***"
        return f"{m.group('scheme')}{masked}@"

    return _USERINFO.sub(_sub, text)


class _RedactingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact_credentials(super().format(record))


def setup_logging(level: str = "info", stream=None) -> None:  # type: ignore[no-untyped-def]
    """Configure the root logger once: one line per record, credentials always redacted."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(
        _RedactingFormatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # aioice/aiortc are chatty at INFO about every candidate pair.
    for noisy in ("aioice", "aiortc", "asyncio"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
