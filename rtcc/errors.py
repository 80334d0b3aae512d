"""rtcc's own exceptions: everything the CLI reports as a one-line error derives from RtccError.

HTTP handlers raise these too; one middleware (:mod:`rtcc.web.errors`) turns each into JSON
``{"error": message, "field": name or null}`` with its status code.
"""

from __future__ import annotations


class RtccError(Exception):
    """Base class of every error rtcc raises on purpose.

    ``field`` names the offending input (``"tier"``, ``"area.coordinates"``, ``"cam"``) where
    there is one."""

    field: str | None = None


class ConfigError(RtccError):
    """A setting (flag or RTCC_* variable) has a value that cannot be used."""


class RedisUnavailable(RtccError):
    """Redis did not answer within the retry budget."""


class RedisServerMissing(RtccError):
    """The embedded default needs a redis-server binary that is not installed."""


class WorldError(RtccError):
    """A world file is invalid; ``problems`` holds one line per problem."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        head = f"{source}: {len(problems)} problem{'s' if len(problems) != 1 else ''}"
        super().__init__("\n".join([head, *problems]))


class ExtractError(WorldError):
    """An OpenStreetMap extract (or footprint file) that cannot be imported, said in one line."""

    def __init__(self, source: str, problem: str) -> None:
        super().__init__(source, [problem])
        self.args = (f"{source}: {problem}",)


class MediaError(RtccError):
    """Bytes that are not valid H.264, RTP, SEI or SDP."""


class ProtocolError(RtccError):
    """A peer broke a network protocol (RTSP, WHIP, WebSocket)."""


class ConsentError(RtccError):
    """An action that the consent registry does not allow."""


class NotFound(RtccError):
    """An id that does not exist (``field``: where it was given, if known)."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class AuthError(RtccError):
    """Missing or invalid credentials, or a role that may not do this; ``realm`` is the one
    named in the HTTP challenge (``WWW-Authenticate: Bearer realm=...``)."""

    def __init__(self, message: str, realm: str = "rtcc") -> None:
        super().__init__(message)
        self.realm = realm


class InvalidInput(RtccError):
    """A value given by a user (API body, query, CLI argument) is not acceptable.

    ``field`` names the offending field (``"tier"``, ``"area.coordinates"``) or is ``None``."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class PayloadTooLarge(InvalidInput):
    """A body larger than the endpoint accepts (HTTP 413)."""


class UnsupportedMediaType(InvalidInput):
    """A body of a content type the endpoint does not take (HTTP 415)."""


class NotAcceptable(InvalidInput):
    """A request rtcc understands but cannot serve as asked, e.g. an SDP offer without the one
    codec the endpoint speaks (HTTP 406)."""


class MethodNotAllowed(RtccError):
    """A method the resource does not support (HTTP 405); ``allow`` lists the ones it does."""

    def __init__(self, message: str, allow: str) -> None:
        super().__init__(message)
        self.allow = allow


class Busy(RtccError):
    """Out of capacity for now (HTTP 503); ``retry_after`` in whole seconds."""

    def __init__(self, message: str, retry_after: int = 5) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class TokenExpired(AuthError):
    """A bearer token that was valid and has expired (HTTP 401)."""


class Forbidden(AuthError):
    """Authenticated, but this role or user may not do this."""


class RateLimited(AuthError):
    """Too many failed attempts; ``retry_after`` is in whole seconds."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Conflict(RtccError):
    """The action does not fit the current state (already decided, already exists)."""


class ScenarioError(ConfigError):
    """A scenario file (TOML) is unreadable or has a key or value that cannot be used."""
