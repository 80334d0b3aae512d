"""Redis connections with a bounded first PING, for asyncio services and for CLI commands.

One URL names either a single server or a Redis Cluster:

- ``redis://host:port/0``, ``rediss://...``, ``unix:///path.sock`` -- a single server (redis-py's
  ``Redis``), exactly as before;
- ``redis+cluster://[user:password@]host:port[,host:port...]`` (``rediss+cluster://`` for TLS),
  or ``redis://host1:port1,host2:port2,...`` (a list of seed nodes implies a cluster) -- a
  ``RedisCluster`` that discovers the rest of the cluster from the seeds.

A cluster client implements the same command API as ``Redis`` for everything rtcc does (keys that
must be used together share a hash tag, see :mod:`rtcc.keys`), so it is handed around typed as
``Redis``; code that must behave differently on a cluster asks :func:`is_cluster`.

After the first PING, :func:`connect` runs the one-time key migration
(:mod:`rtcc.keys_migration`), so every entry point finds data written by older versions.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import unquote

import redis
import redis.asyncio as aredis
import redis.asyncio.cluster as acluster
import redis.cluster as scluster

from rtcc.errors import ConfigError, RedisUnavailable
from rtcc.logs import redact_url

_FIRST_DELAY = 0.05
_MAX_DELAY = 1.0
_CLUSTER_SCHEMES = {"redis+cluster": False, "rediss+cluster": True}
SOCKET_TIMEOUT = 5.0
"""Seconds any read or connect on a Redis socket may wait before it fails (explicit, not left to
the library's default). rtcc's blocking commands (``XREAD BLOCK``) wait at most 1 s, so only a
server that has stopped answering (frozen, partitioned) reaches it; the consent cache bounds its
own reads far tighter (docs/security.md)."""

#: Errors that mean "not answering yet": retried until the timeout.
_RETRY = (redis.ConnectionError, redis.TimeoutError, OSError, redis.RedisClusterException,
          redis.exceptions.ClusterDownError)


@dataclass(frozen=True, slots=True)
class ClusterURL:
    """A parsed cluster URL: seed nodes and credentials."""

    seeds: tuple[tuple[str, int], ...]
    username: str | None = None
    password: str | None = None
    ssl: bool = False


def redact(url: str) -> str:
    """``url`` with its password replaced by ``***``, for single-server and seed-list URLs."""
    scheme, sep, rest = url.partition("://")
    netloc = rest.split("/", 1)[0]
    if not sep or "," not in netloc and "+cluster" not in scheme:
        return redact_url(url)
    userinfo, at, hosts = netloc.rpartition("@")
    if not at or ":" not in userinfo:
        return url
    user = userinfo.split(":", 1)[0]
    return f"{scheme}://{user}:***@{hosts}{rest[len(netloc):]}"


def parse_cluster_url(url: str) -> ClusterURL | None:
    """The seeds of a cluster URL, or None when ``url`` names a single server."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return None
    netloc = rest.split("/", 1)[0].split("?", 1)[0]
    if scheme in _CLUSTER_SCHEMES:
        ssl = _CLUSTER_SCHEMES[scheme]
    elif scheme in ("redis", "rediss") and "," in netloc:
        ssl = scheme == "rediss"
    else:
        return None
    userinfo, _at, hosts = netloc.rpartition("@")
    username = password = None
    if userinfo:
        user, colon, pw = userinfo.partition(":")
        username = unquote(user) or None
        password = unquote(pw) if colon else None
    seeds: list[tuple[str, int]] = []
    for item in hosts.split(","):
        host, colon, port = item.strip().rpartition(":")
        if not colon:
            host, port = port, "6379"
        host = host.strip("[]")
        if not host or not port.isdigit():
            raise ConfigError(f"bad seed node {item!r} in Redis URL {redact(url)}")
        seeds.append((host, int(port)))
    rest_path = rest[len(netloc):].strip("/")
    if rest_path not in ("", "0"):
        raise ConfigError(f"Redis Cluster has only database 0, not {rest_path!r} "
                          f"(URL {redact(url)})")
    return ClusterURL(tuple(seeds), username, password, ssl)


def is_cluster(client: Any) -> bool:
    """True for a Redis Cluster client (asyncio or blocking)."""
    return isinstance(client, (acluster.RedisCluster, scluster.RedisCluster))


def client_from_url(url: str, *, name: str = "rtcc", **kwargs: Any) -> aredis.Redis:
    """An asyncio client for ``url`` (not yet connected): ``Redis`` or ``RedisCluster``."""
    kwargs.setdefault("socket_timeout", SOCKET_TIMEOUT)
    kwargs.setdefault("socket_connect_timeout", SOCKET_TIMEOUT)
    parsed = parse_cluster_url(url)
    if parsed is None:
        return aredis.Redis.from_url(url, client_name=name, **kwargs)
    nodes = [acluster.ClusterNode(host, port) for host, port in parsed.seeds]
    return cast(aredis.Redis, acluster.RedisCluster(
        startup_nodes=nodes, username=parsed.username, password=parsed.password,
        ssl=parsed.ssl, client_name=name, **kwargs))


def sync_client_from_url(url: str, *, name: str = "rtcc", **kwargs: Any) -> redis.Redis:
    """The blocking twin of :func:`client_from_url`."""
    kwargs.setdefault("socket_timeout", SOCKET_TIMEOUT)
    kwargs.setdefault("socket_connect_timeout", SOCKET_TIMEOUT)
    parsed = parse_cluster_url(url)
    if parsed is None:
        return redis.Redis.from_url(url, client_name=name, **kwargs)
    nodes = [scluster.ClusterNode(host, port) for host, port in parsed.seeds]
    return cast(redis.Redis, scluster.RedisCluster(
        startup_nodes=nodes, username=parsed.username, password=parsed.password,
        ssl=parsed.ssl, client_name=name, **kwargs))


def _unavailable(url: str, timeout: float, err: Exception | None) -> RedisUnavailable:
    what = "Redis Cluster" if parse_cluster_url(url) else "Redis"
    return RedisUnavailable(
        f"{what} at {redact(url)} did not answer within {timeout:g}s ({err}); "
        "unset RTCC_REDIS_URL to use the embedded default, or start that server"
    )


async def connect(url: str, *, timeout: float = 10.0, name: str = "rtcc",  # noqa: ASYNC109
                  migrate: bool = True) -> aredis.Redis:
    """An asyncio client that has answered PING, retrying with growing delays up to ``timeout``;
    then the one-time key migration (``migrate=False`` skips it)."""
    cluster = parse_cluster_url(url) is not None
    client = None if cluster else client_from_url(url, name=name, health_check_interval=30)
    deadline = time.monotonic() + timeout
    delay, last = _FIRST_DELAY, None
    while True:
        try:
            if cluster:
                # A cluster client caches a failed discovery: build a fresh one per attempt.
                client = client_from_url(url, name=name)
            assert client is not None
            await client.ping()
            break
        except _RETRY as err:
            last = err
            if cluster and client is not None:
                await client.aclose()
        if time.monotonic() + delay > deadline:
            if client is not None:
                await client.aclose()
            raise _unavailable(url, timeout, last)
        await asyncio.sleep(delay)
        delay = min(delay * 2, _MAX_DELAY)
    if migrate:
        from rtcc.keys_migration import migrate_keys

        await migrate_keys(client)
    return client


def connect_sync(url: str, *, timeout: float = 10.0, name: str = "rtcc") -> redis.Redis:
    """The blocking twin of :func:`connect` (without the migration), for one-shot CLI commands."""
    cluster = parse_cluster_url(url) is not None
    client = None if cluster else sync_client_from_url(url, name=name)
    deadline = time.monotonic() + timeout
    delay, last = _FIRST_DELAY, None
    while True:
        try:
            if cluster:
                client = sync_client_from_url(url, name=name)
            assert client is not None
            client.ping()
            return client
        except _RETRY as err:
            last = err
            if cluster and client is not None:
                client.close()
        if time.monotonic() + delay > deadline:
            if client is not None:
                client.close()
            raise _unavailable(url, timeout, last)
        time.sleep(delay)
        delay = min(delay * 2, _MAX_DELAY)
