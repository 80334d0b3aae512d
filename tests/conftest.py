"""Shared fixtures: one private redis-server per test session (never the machine's 6379)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis.asyncio as aredis

from rtcc.redis_server import LIVE, EmbeddedRedis


@pytest.fixture(scope="session")
def short_tmp() -> Iterator[Path]:
    """A short temporary directory (unix socket paths must stay under 108 bytes)."""
    path = Path(tempfile.mkdtemp(prefix="rtcc-t-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def redis_server(short_tmp: Path) -> Iterator[EmbeddedRedis]:
    """A memory-only redis-server child on a unix socket for the whole session."""
    server = EmbeddedRedis(LIVE, short_tmp / "data", short_tmp / "run")
    server.start()
    assert not server.reused, "a session's Redis must be its own"
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server: EmbeddedRedis) -> str:
    return redis_server.url


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[aredis.Redis]:
    """An asyncio client on the session's server, flushed before each test."""
    client = aredis.Redis.from_url(redis_url)
    await client.flushall()
    yield client
    await client.aclose()
