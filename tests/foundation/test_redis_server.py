"""The embedded default: start, durability across restart, reuse, clean stop, missing binary."""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import redis

from rtcc.config import Settings
from rtcc.connections import connect, connect_sync
from rtcc.errors import ConfigError, RedisServerMissing, RedisUnavailable
from rtcc.redis_server import LIVE, STATE, EmbeddedRedis, redis_urls


@pytest.fixture
def dirs(short_tmp: Path, request) -> tuple[Path, Path]:
    base = short_tmp / request.node.name[:20]
    return base / "data", base / "run"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0); look at its state.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except FileNotFoundError:
        return False


def test_state_server_survives_restart_with_aof(dirs):
    data, run = dirs
    with EmbeddedRedis(STATE, data, run) as server:
        client = connect_sync(server.url)
        client.set("rtcc:test:durable", "yes")
        assert client.config_get("appendfsync")["appendfsync"] == "always"
        client.close()
        pid = server.pid
    assert pid is not None and not _alive(pid)
    assert not (run / "redis-state.sock").exists()
    assert (data / "redis-state" / "appendonlydir").is_dir()
    with EmbeddedRedis(STATE, data, run) as server:
        assert connect_sync(server.url).get("rtcc:test:durable") == b"yes"


def test_acknowledged_write_survives_kill_9(dirs):
    data, run = dirs
    server = EmbeddedRedis(STATE, data, run)
    server.start()
    client = connect_sync(server.url)
    for i in range(50):
        client.hset("rtcc:test:h", str(i), i)
    client.close()
    server.kill()  # SIGKILL: no chance to flush beyond what fsync=always already wrote
    with EmbeddedRedis(STATE, data, run) as again:
        assert connect_sync(again.url).hlen("rtcc:test:h") == 50


def test_live_server_keeps_nothing_on_disk(dirs):
    data, run = dirs
    with EmbeddedRedis(LIVE, data, run) as server:
        client = connect_sync(server.url)
        client.xadd("rtcc:{c1}:video", {"au": b"\x00\x00\x00\x01\x65"})
        cfg = client.config_get("*")
        assert cfg["appendonly"] == "no"
        assert cfg["save"] == ""
    assert not (data / "redis-live").exists()
    with EmbeddedRedis(LIVE, data, run) as server:
        assert connect_sync(server.url).exists("rtcc:{c1}:video") == 0


def test_second_process_reuses_running_server(dirs):
    data, run = dirs
    with EmbeddedRedis(STATE, data, run) as first:
        second = EmbeddedRedis(STATE, data, run)
        assert second.start() == first.url
        assert second.reused and second.pid is None
        second.stop()  # a reused server is not ours to stop
        assert connect_sync(first.url).ping()


def test_missing_binary_gives_install_hint(dirs):
    data, run = dirs
    with pytest.raises(RedisServerMissing) as info:
        EmbeddedRedis(STATE, data, run, binary="redis-server-does-not-exist").start()
    message = str(info.value)
    assert "apt-get install -y redis-server" in message
    assert "RTCC_REDIS_URL" in message
    assert "\n" not in message


def test_missing_binary_from_cli_is_one_line_without_traceback(tmp_path, short_tmp):
    env = {**os.environ, "RTCC_REDIS_SERVER": "no-such-redis-server",
           "RTCC_RUN_DIR": str(short_tmp / "cli-run"), "RTCC_DATA_DIR": str(tmp_path)}
    env.pop("RTCC_REDIS_URL", None)
    proc = subprocess.run([sys.executable, "-m", "rtcc.cli", "serve", "--port", "0"],
                          env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert "redis-server is not installed" in lines[0]


def test_socket_path_too_long_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="RTCC_RUN_DIR"):
        EmbeddedRedis(STATE, tmp_path, tmp_path / ("x" * 120))


def test_redis_urls_prefers_configured_url(dirs):
    data, run = dirs
    s = Settings.load({"redis_url": "redis://127.0.0.1:1/0", "data_dir": str(data),
                       "run_dir": str(run)}, environ={})
    with redis_urls(s) as urls:
        assert urls.state == urls.live == "redis://127.0.0.1:1/0"
    assert not run.exists()  # nothing was started


def test_redis_urls_stops_embedded_servers_on_error(dirs):
    data, run = dirs
    s = Settings.load({"data_dir": str(data), "run_dir": str(run)}, environ={})
    with pytest.raises(RuntimeError), redis_urls(s) as urls:
        assert urls.state != urls.live
        assert connect_sync(urls.state).ping() and connect_sync(urls.live).ping()
        raise RuntimeError("boom")
    assert not (run / "redis-state.sock").exists()
    assert not (run / "redis-live.sock").exists()


def test_embedded_redis_dies_with_a_killed_parent(dirs):
    """kill -9 of the rtcc process must not leave its redis-server behind."""
    data, run = dirs
    script = textwrap.dedent(f"""
        import sys, time
        from pathlib import Path
        from rtcc.redis_server import STATE, EmbeddedRedis
        s = EmbeddedRedis(STATE, Path({str(data)!r}), Path({str(run)!r}))
        s.start()
        print(s.pid, flush=True)
        time.sleep(60)
    """)
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    child_pid = int(parent.stdout.readline())
    assert _alive(child_pid)
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    parent.stdout.close()
    deadline = time.monotonic() + 10
    while _alive(child_pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child_pid)


def test_ctrl_c_stops_serve_and_its_redis(short_tmp, tmp_path):
    env = {**os.environ, "RTCC_RUN_DIR": str(short_tmp / "sigint"), "RTCC_DATA_DIR": str(tmp_path)}
    env.pop("RTCC_REDIS_URL", None)
    proc = subprocess.Popen([sys.executable, "-m", "rtcc.cli", "serve", "--port", "0"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert "listening on http://127.0.0.1:" in line
        sock = short_tmp / "sigint" / "redis-state.sock"
        assert sock.exists()
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
        assert not sock.exists()
    finally:
        if proc.poll() is None:
            proc.kill()
        _, err = proc.communicate()
    assert "Traceback" not in err, err


async def test_connect_retries_then_names_the_server():
    start = time.monotonic()
    with pytest.raises(RedisUnavailable) as info:
        await connect("redis://:secret@127.0.0.1:9/0", timeout=0.5)
    assert time.monotonic() - start < 3
    assert "127.0.0.1:9" in str(info.value)
    assert "secret" not in str(info.value)


async def test_connect_waits_for_a_server_that_comes_up_late(dirs):
    import asyncio

    data, run = dirs
    server = EmbeddedRedis(LIVE, data, run)
    loop = asyncio.get_running_loop()
    loop.call_later(0.3, server.start)
    try:
        client = await connect(server.url, timeout=10)
        assert await client.ping()
        await client.aclose()
    finally:
        server.stop()


def test_session_fixture_is_not_the_machines_default(redis_url):
    assert redis_url.startswith("unix:///tmp/rtcc-t-")
    info = redis.Redis.from_url(redis_url).info("server")
    assert info["tcp_port"] == 0


def test_live_url_can_be_configured_separately(dirs):
    data, run = dirs
    s = Settings.load({"live_redis_url": "redis://127.0.0.1:2/0", "data_dir": str(data),
                       "run_dir": str(run)}, environ={})
    with redis_urls(s) as urls:
        assert urls.live == "redis://127.0.0.1:2/0"
        assert urls.state.startswith("unix://") and connect_sync(urls.state).ping()
    assert not (run / "redis-live.sock").exists()
