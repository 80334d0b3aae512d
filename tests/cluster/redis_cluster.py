"""A real Redis Cluster for tests: six ``redis-server --cluster-enabled yes`` children on free
127.0.0.1 ports, memory only, in a temporary directory, joined by ``redis-cli --cluster create``
as 3 masters with 1 replica each."""

from __future__ import annotations

import contextlib
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import redis as sync_redis

NODE_TIMEOUT_MS = 1000
"""``cluster-node-timeout``: a dead master is failed over after about twice this."""


def free_ports(count: int) -> list[int]:
    """Free loopback ports, also leaving ``port + 10000`` (the cluster bus) unused."""
    ports: list[int] = []
    while len(ports) < count:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if port + 10000 > 65535 or port in ports:
            continue
        with socket.socket() as bus:
            try:
                bus.bind(("127.0.0.1", port + 10000))
            except OSError:
                continue
        ports.append(port)
    return ports


class LocalCluster:
    """Start with :meth:`start`, stop with :meth:`stop`; :attr:`url` is a seed-list URL."""

    def __init__(self, nodes: int = 6, replicas: int = 1) -> None:
        self.count, self.replicas = nodes, replicas
        self.dir = Path(tempfile.mkdtemp(prefix="rtcc-cluster-", dir="/tmp"))
        self.ports = free_ports(nodes)
        self.procs: dict[int, subprocess.Popen[bytes]] = {}

    @property
    def url(self) -> str:
        """A seed list of all nodes (``redis://h:p,h:p,...``: implies a cluster)."""
        return "redis://" + ",".join(f"127.0.0.1:{p}" for p in self.ports)

    @property
    def cluster_url(self) -> str:
        return "redis+cluster://" + ",".join(f"127.0.0.1:{p}" for p in self.ports[:2])

    def _spawn(self, port: int) -> None:
        server = shutil.which("redis-server")
        assert server is not None, "redis-server is needed"
        log = open(self.dir / f"{port}.log", "ab")  # noqa: SIM115 (closed with the process)
        self.procs[port] = subprocess.Popen(
            [server, "--port", str(port), "--bind", "127.0.0.1", "--protected-mode", "yes",
             "--cluster-enabled", "yes", "--cluster-config-file", f"nodes-{port}.conf",
             "--cluster-node-timeout", str(NODE_TIMEOUT_MS), "--appendonly", "no",
             "--save", "", "--dir", str(self.dir), "--cluster-replica-validity-factor", "0"],
            stdout=log, stderr=subprocess.STDOUT, cwd=self.dir)
        log.close()

    def start(self, timeout: float = 30.0) -> LocalCluster:
        for port in self.ports:
            self._spawn(port)
        for port in self.ports:
            self._wait(lambda p=port: self._client(p).ping(), timeout, f"node {port}")
        cli = shutil.which("redis-cli")
        assert cli is not None, "redis-cli is needed"
        subprocess.run([cli, "--cluster", "create",
                        *(f"127.0.0.1:{p}" for p in self.ports),
                        "--cluster-replicas", str(self.replicas), "--cluster-yes"],
                       check=True, capture_output=True, timeout=timeout)
        self.wait_ok(timeout)
        return self

    def node(self, port: int) -> sync_redis.Redis:
        """A plain client of one node (no cluster routing)."""
        return self._client(port)

    def _client(self, port: int) -> sync_redis.Redis:
        return sync_redis.Redis(host="127.0.0.1", port=port, socket_timeout=2,
                                socket_connect_timeout=2)

    @staticmethod
    def _wait(check, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            try:
                if check():
                    return
            except (sync_redis.RedisError, OSError) as err:
                last = err
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what} ({last})")

    def alive(self) -> list[int]:
        return [p for p, proc in self.procs.items() if proc.poll() is None]

    def state_ok(self) -> bool:
        """Every running node reports ``cluster_state:ok`` and one master per slot range."""
        for port in self.alive():
            info = self._client(port).execute_command("CLUSTER", "INFO")
            text = info.decode() if isinstance(info, bytes) else str(info)
            if "cluster_state:ok" not in text:
                return False
        return True

    def wait_ok(self, timeout: float = 30.0) -> None:
        self._wait(self.state_ok, timeout, "cluster_state:ok on every node")

    def wait_failover(self, dead: int, timeout: float = 30.0) -> None:
        """Until a replica has replaced the master ``dead`` and every slot is served again."""
        self._wait(lambda: dead not in self.masters() and len(self.masters()) == 3
                   and self.state_ok(), timeout, f"a replica promoted in place of {dead}")

    def masters(self) -> list[int]:
        """Ports of the masters that serve slots, as a live node sees them."""
        port = self.alive()[0]
        rows = self._client(port).execute_command("CLUSTER", "SLOTS")
        return sorted({int(row[2][1]) for row in rows})

    def master_of(self, key: str) -> int:
        port = self.alive()[0]
        slot = int(self._client(port).execute_command("CLUSTER", "KEYSLOT", key))
        for row in self._client(port).execute_command("CLUSTER", "SLOTS"):
            if int(row[0]) <= slot <= int(row[1]):
                return int(row[2][1])
        raise AssertionError(f"no master serves slot {slot}")

    def kill(self, port: int) -> None:
        """kill -9 one node."""
        proc = self.procs[port]
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)

    def stop(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
        for proc in self.procs.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(10)
        shutil.rmtree(self.dir, ignore_errors=True)
