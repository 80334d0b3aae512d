"""One frozen settings object for every rtcc process.

Each setting is read from, in order: a command-line flag, the environment variable ``RTCC_<NAME>``,
then its default. Values are cast strictly; a bad value raises :class:`ConfigError` naming the flag
or variable it came from. No other module reads ``os.environ``: settings are passed down.
Secrets (``redis_url`` may carry a password) are redacted in ``repr`` and in ``describe()``.
"""

from __future__ import annotations

import dataclasses
import os
import zoneinfo
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from rtcc.compiled import TRUE_WORDS
from rtcc.errors import ConfigError
from rtcc.logs import redact_url
from rtcc.vocabulary import SERVE_ROLES, ServeRole

_TRUE = set(TRUE_WORDS)
_FALSE = {"0", "false", "no", "off"}
_LOG_LEVELS = ("debug", "info", "warning", "error")


def is_true(raw: str) -> bool:
    """Whether a flag's text means yes (1, true, yes, on)."""
    return raw.strip().lower() in _TRUE


def _bool(raw: str) -> bool:
    low = raw.strip().lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    raise ValueError(f"expected one of {sorted(_TRUE | _FALSE)}")


def _int(raw: str) -> int:
    try:
        return int(raw.strip(), 10)
    except ValueError:
        raise ValueError("expected an integer") from None


def _float(raw: str) -> float:
    try:
        value = float(raw.strip())
    except ValueError:
        raise ValueError("expected a number") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError("expected a finite number")
    return value


def _port(raw: str) -> int:
    value = _int(raw)
    if not 0 <= value <= 65535:
        raise ValueError("expected a TCP port 0-65535")
    return value


def _positive(cast: Callable[[str], Any]) -> Callable[[str], Any]:
    def check(raw: str) -> Any:
        value = cast(raw)
        if value <= 0:
            raise ValueError("expected a value > 0")
        return value

    return check


def _log2_n(raw: str) -> int:
    value = _int(raw)
    if not 10 <= value <= 20:
        raise ValueError("expected an exponent from 10 to 20 (scrypt N = 2^this)")
    return value


def _at_least(low: int, cast: Callable[[str], Any]) -> Callable[[str], Any]:
    def check(raw: str) -> Any:
        value = cast(raw)
        if value < low:
            raise ValueError(f"expected a value >= {low}")
        return value

    return check


def _log_level(raw: str) -> str:
    low = raw.strip().lower()
    if low not in _LOG_LEVELS:
        raise ValueError(f"expected one of {', '.join(_LOG_LEVELS)}")
    return low


def _redis_url(raw: str) -> str:
    url = raw.strip()
    if url and not url.startswith(("redis://", "rediss://", "unix://", "redis+cluster://",
                                   "rediss+cluster://")):
        raise ValueError("expected a redis://, rediss://, unix:// or redis+cluster:// URL "
                         "(a Redis Cluster: redis+cluster://host:port[,host:port...])")
    return url


def _clip_url(raw: str) -> str:
    url = raw.strip()
    if url and (not url.startswith(("http://", "https://")) or "{camera}" not in url):
        raise ValueError("expected an http:// or https:// URL containing {camera}")
    return url


def _timezone(raw: str) -> str:
    name = raw.strip()
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ValueError("expected an IANA time zone such as UTC or America/Chicago") from None
    return name


def _role(raw: str) -> ServeRole:
    low = raw.strip().lower()
    if low not in SERVE_ROLES:
        raise ValueError(f"expected one of {', '.join(SERVE_ROLES)}")
    return low


def _worker_id(raw: str) -> str:
    value = raw.strip()
    if not value or any(not (c.isalnum() or c in "._:-") for c in value) or len(value) > 100:
        raise ValueError("expected 1-100 letters, digits, '.', '_', ':' or '-'")
    return value


def _path(raw: str) -> Path:
    if not raw.strip():
        raise ValueError("expected a path")
    return Path(raw).expanduser()


def _user_dir(env: Mapping[str, str], xdg: str, fallback: str) -> Path:
    base = env.get(xdg) or str(Path(env.get("HOME", "~")).expanduser() / fallback)
    return Path(base) / "rtcc"


def _default_run_dir(env: Mapping[str, str]) -> Path:
    if env.get("XDG_RUNTIME_DIR"):
        return Path(env["XDG_RUNTIME_DIR"]) / "rtcc"
    return Path("/tmp") / f"rtcc-{os.getuid()}"


def _setting(
    cast: Callable[[str], Any], help: str, *, secret: bool = False, default: Any = None
) -> Any:
    return field(default=default, metadata={"cast": cast, "help": help, "secret": secret})


@dataclass(frozen=True, slots=True)
class Settings:
    redis_url: str = _setting(
        _redis_url,
        "Redis to use; empty starts a private embedded redis-server",
        secret=True,
        default="",
    )
    live_redis_url: str = _setting(
        _redis_url,
        "Redis for live video channels; empty: RTCC_REDIS_URL if set, else an embedded "
        "memory-only redis-server",
        secret=True,
        default="",
    )
    data_dir: Path = _setting(_path, "durable state (embedded Redis AOF, evidence)")
    run_dir: Path = _setting(_path, "sockets and pid files of this user's rtcc processes")
    redis_server: str = _setting(str, "redis-server binary for the embedded default",
                                 default="redis-server")
    redis_connect_timeout: float = _setting(
        _positive(_float), "seconds to keep retrying the first Redis PING", default=10.0
    )
    host: str = _setting(str, "address servers bind to (loopback by default)", default="127.0.0.1")
    port: int = _setting(_port, "HTTP port of rtcc serve (hub, registry API, wall)", default=8080)
    log_level: str = _setting(_log_level, "debug, info, warning or error", default="info")
    no_extensions: bool = _setting(
        _bool, "1: run the pure-Python reference of the compiled per-packet code "
        "(read when rtcc starts; rtcc/compiled.py)", default=False
    )
    live_window: float = _setting(
        _positive(_float), "seconds of live video kept in Redis per camera", default=10.0
    )
    world: Path | None = _setting(
        _path, "world file (GeoJSON) the monitor wall draws its map from", default=None
    )
    registry_tz: str = _setting(
        _timezone, "time zone of the registry's daily consent schedules", default="UTC"
    )
    request_expiry: float = _setting(
        _positive(_float), "seconds before an unanswered footage request expires",
        default=72 * 3600.0,
    )
    evidence_retention: float = _setting(
        _positive(_float), "seconds evidence clips are kept before they are purged",
        default=30 * 86400.0,
    )
    request_min_area: float = _setting(
        _positive(_float), "smallest footage-request area in square miles", default=0.025
    )
    request_max_area: float = _setting(
        _positive(_float), "largest footage-request area in square miles", default=0.5
    )
    request_k: int = _setting(
        _at_least(2, _int), "fewest request-tier cameras a footage request may ask, and below "
        "which the police see a count as 'fewer than k' (docs/security.md)", default=3
    )
    clip_store_url: str = _setting(
        _clip_url, "cameras' local store for approved clips older than the live buffer, "
        "{camera} = id (rtcc sim: http://127.0.0.1:9710/cams/{camera}/clip); empty: live only",
        default="",
    )
    clip_store_token: str = _setting(str, "Bearer token of RTCC_CLIP_STORE_URL", secret=True,
                                     default="")
    # --- sessions, logins and playback limits (docs/security.md) ---
    session_ttl: float = _setting(
        _positive(_float), "seconds a browser login (POST /api/login) stays valid",
        default=12 * 3600.0)
    token_ttl: float = _setting(
        _positive(_float), "seconds an API token stays valid unless issued with --expires",
        default=30 * 86400.0)
    login_attempts: int = _setting(
        _positive(_int), "password checks per account and client address per login window",
        default=5)
    login_window: float = _setting(
        _positive(_float), "seconds of the login window", default=300.0)
    login_per_source: int = _setting(
        _positive(_int), "password checks per client address per login window, all accounts",
        default=20)
    login_delay_cap: float = _setting(
        _positive(_float), "longest delay before a password check of an account that failed "
        "from other addresses (a delay, never a lock)", default=30.0)
    password_log2_n: int = _setting(
        _log2_n, "cost of new password hashes: scrypt N = 2^this (r=8, p=1). 17 is OWASP's "
        "minimum (128 MiB per check); the test suite sets 10. Never lower it in production",
        default=17)
    password_concurrency: int = _setting(
        _positive(_int), "password checks computed at once (each holds 2^(N-10) MiB: "
        "128 MiB at 17)",
        default=2)
    whep_connect_timeout: float = _setting(
        _positive(_float), "seconds a WHEP session may take to connect (ICE and DTLS) before "
        "it is closed and its slot freed", default=10.0)
    whep_sessions_per_user: int = _setting(
        _positive(_int), "WHEP sessions one user may hold at once", default=4)
    # --- scaling out (several processes; docs/architecture.md, "Scaling out") ---
    role: ServeRole = _setting(_role, "what rtcc serve runs: all, hub, wall or analyzer",
                         default="all")
    worker_id: str = _setting(
        _worker_id, "this process's name among hub workers and analyzer consumers; empty: "
        "hostname-pid", default="")
    hub_sharding: bool = _setting(
        _bool, "share cameras between hub workers through leases in the live Redis (a lone "
        "worker owns them all); false: ingest every camera", default=True)
    hub_lease_ttl: float = _setting(
        _positive(_float), "seconds a camera lease lives unrenewed (a dead hub worker's "
        "cameras move within about this)", default=6.0)
    hub_lease_renew: float = _setting(
        _positive(_float), "seconds between lease renewals and rebalancing rounds (at most "
        "a third of the TTL)", default=2.0)
    hub_min_hold: float = _setting(
        _float, "seconds a hub worker holds a camera before it may hand it over for balance",
        default=10.0)
    hub_release_batch: int = _setting(
        _positive(_int), "most cameras a hub worker hands over per round for balance",
        default=10)
    hub_join_grace: float = _setting(
        _float, "seconds a starting hub worker waits for its peers before taking cameras",
        default=2.0)

    def __repr__(self) -> str:
        return f"Settings({', '.join(f'{k}={v!r}' for k, v in self.describe().items())})"

    def describe(self) -> dict[str, Any]:
        """Every setting by name, secrets redacted: safe to log or print."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.metadata["secret"] and value:
                value = redact_url(value) if "://" in str(value) else "***"
            out[f.name] = value
        return out

    @classmethod
    def load(
        cls,
        flags: Mapping[str, Any] | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> Settings:
        """Build settings from flags (already typed, ``None`` = not given), then the
        environment, then defaults. Unknown ``RTCC_*`` variables are an error too, so a typo
        such as ``RTCC_REDIS_ULR`` does not silently fall back to a default."""
        env = dict(os.environ if environ is None else environ)
        flags = {k: v for k, v in (flags or {}).items() if v is not None}
        known = {f.name for f in fields(cls)}
        unknown = sorted(k for k in flags if k not in known)
        if unknown:
            raise ConfigError(f"unknown setting {unknown[0]!r}")
        env_names = {f"RTCC_{name.upper()}" for name in known}
        stray = sorted(k for k in env if k.startswith("RTCC_") and k not in env_names)
        if stray:
            raise ConfigError(
                f"{stray[0]}: unknown variable (known: {', '.join(sorted(env_names))})"
            )
        values: dict[str, Any] = {}
        for f in fields(cls):
            cast = f.metadata["cast"]
            var = f"RTCC_{f.name.upper()}"
            if f.name in flags:
                source, raw = f"--{f.name.replace('_', '-')}", flags[f.name]
            elif var in env:
                source, raw = var, env[var]
            else:
                continue
            if isinstance(raw, str):
                try:
                    raw = cast(raw)
                except ValueError as err:
                    shown = "***" if f.metadata["secret"] else repr(raw)
                    raise ConfigError(f"{source}: {err}, got {shown}") from None
            values[f.name] = raw
        values.setdefault("data_dir", _user_dir(env, "XDG_DATA_HOME", ".local/share"))
        values.setdefault("run_dir", _default_run_dir(env))
        return cls(**values)

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)

    @classmethod
    def help_table(cls) -> str:
        """The settings as an epilog for ``--help``."""
        lines = ["settings (flag, else environment variable, else default):"]
        for f in fields(cls):
            default = "" if f.default is None else f" [default: {f.default!r}]"
            lines.append(f"  RTCC_{f.name.upper():<24} {f.metadata['help']}{default}")
        return "\n".join(lines)
