"""Redis Cluster fixtures: a 3-master / 3-replica cluster of real redis-server processes on free
127.0.0.1 ports (memory only, in a temporary directory), and ``live_url``/``live`` parametrized
over a single server and the cluster so every test here runs on both paths."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
import redis.asyncio as aredis

from rtcc.connections import connect, is_cluster
from tests.cluster.redis_cluster import LocalCluster


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[LocalCluster]:
    """One cluster for the session (tests that kill nodes use :func:`fresh_cluster`)."""
    cluster = LocalCluster()
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def fresh_cluster() -> Iterator[LocalCluster]:
    """A cluster of its own, for a test that kills a master."""
    cluster = LocalCluster()
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(params=["single", "cluster"])
def live_url(request: pytest.FixtureRequest) -> str:
    """The URL of a single server (the session's unix socket) or of the cluster (seed list)."""
    if request.param == "single":
        return str(request.getfixturevalue("redis_url"))
    return request.getfixturevalue("redis_cluster").url


async def flush(client: aredis.Redis) -> None:
    if is_cluster(client):
        await client.flushall(target_nodes="primaries")  # type: ignore[call-arg]
    else:
        await client.flushall()


@pytest.fixture
async def live(live_url: str) -> AsyncIterator[aredis.Redis]:
    """A connected client on ``live_url``, flushed before the test."""
    client = await connect(live_url, timeout=10, name="rtcc-test", migrate=False)
    await flush(client)
    yield client
    await client.aclose()
