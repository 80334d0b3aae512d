"""Shared fixtures: one private redis-server per test session (never the machine's 6379), and
cheap password hashes for the whole session."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis.asyncio as aredis

from rtcc.redis_server import LIVE, EmbeddedRedis
from rtcc.registry.credentials import PasswordCost
from rtcc.registry.users import UserPolicy

TEST_PASSWORD_LOG2_N = 10
"""The suite hashes passwords with scrypt N = 2^10 (1 MiB, ~10 ms) instead of the production
default 2^17 (128 MiB, most of a second): ``RTCC_PASSWORD_LOG2_N`` for every rtcc the tests start
(in process or as a subprocess), ``password_log2_n`` in the fixtures' settings, and
:data:`TEST_POLICY` for tests that build ``Users`` themselves. tests/registry/test_login.py checks
the production default separately."""
TEST_POLICY = UserPolicy(cost=PasswordCost(TEST_PASSWORD_LOG2_N))


@pytest.fixture(scope="session", autouse=True)
def cheap_password_hashes() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RTCC_PASSWORD_LOG2_N", str(TEST_PASSWORD_LOG2_N))
        yield


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
