"""Cluster URLs: which client a URL gives, redaction, and connecting to a real cluster."""

from __future__ import annotations

import pytest
import redis.asyncio as aredis
import redis.asyncio.cluster as acluster

from rtcc.connections import (
    ClusterURL,
    client_from_url,
    connect,
    connect_sync,
    is_cluster,
    parse_cluster_url,
    redact,
)
from rtcc.errors import ConfigError, RedisUnavailable
from tests.cluster.redis_cluster import LocalCluster, free_ports


def test_single_server_urls_stay_single() -> None:
    for url in ("redis://127.0.0.1:6390/0", "rediss://h:1/2", "unix:///tmp/x.sock",
                "redis://:pw@localhost"):
        assert parse_cluster_url(url) is None
        assert type(client_from_url(url)) is aredis.Redis


def test_cluster_urls_parse() -> None:
    assert parse_cluster_url("redis+cluster://a:7000,b:7001") == \
        ClusterURL((("a", 7000), ("b", 7001)))
    assert parse_cluster_url("rediss+cluster://u:p%40ss@a:7000/0") == \
        ClusterURL((("a", 7000),), "u", "p@ss", True)
    assert parse_cluster_url("redis://:pw@a:1,b:2") == ClusterURL((("a", 1), ("b", 2)), None, "pw")
    assert parse_cluster_url("redis+cluster://a") == ClusterURL((("a", 6379),))
    assert isinstance(client_from_url("redis+cluster://127.0.0.1:7000"), acluster.RedisCluster)
    assert is_cluster(client_from_url("redis://127.0.0.1:1,127.0.0.1:2"))
    with pytest.raises(ConfigError, match="database 0"):
        parse_cluster_url("redis+cluster://a:1/3")
    with pytest.raises(ConfigError, match=r"bad seed node .* redis\+cluster://u:\*\*\*@"):
        parse_cluster_url("redis+cluster://u:secret@a:x")


def test_redact_hides_passwords_of_every_form() -> None:
    assert redact("redis+cluster://u:secret@a:1,b:2/0") == "redis+cluster://u:***@a:1,b:2/0"
    assert redact("redis://:secret@a:1,b:2") == "redis://:***@a:1,b:2"
    assert redact("redis://:secret@a:1/0") == "redis://:***@a:1/0"
    assert "secret" not in redact("rediss+cluster://secret:secret@h:1")[len("rediss+cluster://secret"):]


async def test_connect_to_a_cluster_by_either_form(redis_cluster: LocalCluster) -> None:
    for url in (redis_cluster.url, redis_cluster.cluster_url):
        client = await connect(url, timeout=10, migrate=False)
        try:
            assert is_cluster(client)
            await client.set("rtcc:test:{x}:a", "1")
            assert await client.get("rtcc:test:{x}:a") == b"1"
        finally:
            await client.aclose()
    sync = connect_sync(redis_cluster.url)
    assert is_cluster(sync) and sync.ping()
    sync.close()


async def test_unreachable_cluster_error_names_the_url_without_password() -> None:
    a, b = free_ports(2)
    url = f"redis+cluster://admin:hunter2@127.0.0.1:{a},127.0.0.1:{b}"
    with pytest.raises(RedisUnavailable) as err:
        await connect(url, timeout=0.3)
    assert "hunter2" not in str(err.value)
    assert f"Redis Cluster at redis+cluster://admin:***@127.0.0.1:{a},127.0.0.1:{b}" in \
        str(err.value)
    with pytest.raises(RedisUnavailable) as err2:
        connect_sync(url, timeout=0.3)
    assert "hunter2" not in str(err2.value)
