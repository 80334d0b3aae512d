"""A Redis Cluster for the scale-out tests (part A's ``LocalCluster``: 3 masters, 3 replicas on
free 127.0.0.1 ports, memory only), started once per session and only when a test asks."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.cluster.redis_cluster import LocalCluster


@pytest.fixture(scope="session")
def scale_cluster() -> Iterator[LocalCluster]:
    cluster = LocalCluster()
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()
