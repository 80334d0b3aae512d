"""The embedded default: private ``redis-server`` children when ``RTCC_REDIS_URL`` is unset.

rtcc keeps two kinds of data with opposite needs, so the embedded default runs two servers:

* ``state``: registry, requests, users, audit log. Durable: AOF with ``appendfsync always`` in
  ``<data_dir>/redis-state`` so every acknowledged consent change survives a crash.
* ``live``: the per-camera video channels. Memory only (no AOF, no RDB): live video never touches
  the disk, which is the privacy rule "kept only for the live window" made physical.

Both listen on a unix socket in the run directory (no TCP port at all). A second rtcc process of the
same user (``rtcc registry list`` while ``rtcc serve`` runs) finds the socket answering and reuses
the server instead of starting another on the same files. The process that started a server stops
it on exit (SIGTERM: Redis fsyncs and exits), also on Ctrl-C and on errors; the child runs in its
own session so the terminal's Ctrl-C reaches rtcc first, and it is asked to die with its parent
(Linux ``PR_SET_PDEATHSIG``) so a ``kill -9`` of rtcc does not leave it behind.

Everything here is synchronous and must run on the main thread (the parent-death signal is tied to
the thread that forks).
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import logging
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from rtcc.config import Settings
from rtcc.errors import ConfigError, RedisServerMissing, RtccError

log = logging.getLogger(__name__)

_MAX_UNIX_PATH = 107  # sizeof(sockaddr_un.sun_path) - 1 on Linux
INSTALL_HINT = (
    "redis-server is not installed: install it with `sudo apt-get install -y redis-server`, "
    "or set RTCC_REDIS_URL=redis://HOST:PORT to use a running Redis"
)


def _die_with_parent() -> None:  # runs in the child between fork and exec
    os.setsid()
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _ping_unix(path: Path, timeout: float = 0.5) -> bool:
    """True when a Redis server answers PING on the unix socket ``path``."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(str(path))
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


@dataclass(frozen=True, slots=True)
class ServerRole:
    name: str
    durable: bool


STATE = ServerRole("state", durable=True)
LIVE = ServerRole("live", durable=False)


class EmbeddedRedis:
    """One private redis-server child (or a reused one started by another rtcc process)."""

    def __init__(
        self,
        role: ServerRole,
        data_dir: Path,
        run_dir: Path,
        binary: str = "redis-server",
        start_timeout: float = 10.0,
    ) -> None:
        self.role = role
        self.data_dir = Path(data_dir) / f"redis-{role.name}"
        self.run_dir = Path(run_dir)
        self.binary = binary
        self.start_timeout = start_timeout
        self.socket_path = self.run_dir / f"redis-{role.name}.sock"
        self.log_path = self.run_dir / f"redis-{role.name}.log"
        self._proc: subprocess.Popen[bytes] | None = None
        self._lock: IO[str] | None = None
        self.reused = False
        if len(str(self.socket_path)) > _MAX_UNIX_PATH:
            raise ConfigError(
                f"RTCC_RUN_DIR: {self.run_dir} is too long for a unix socket path "
                f"({len(str(self.socket_path))} > {_MAX_UNIX_PATH} characters)"
            )

    @property
    def url(self) -> str:
        return f"unix://{self.socket_path}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def start(self) -> str:
        """Start (or reuse) the server and return its URL once it answers PING."""
        self.run_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        if _ping_unix(self.socket_path):
            self.reused = True
            log.info("reusing embedded Redis (%s) at %s", self.role.name, self.url)
            return self.url
        binary = shutil.which(self.binary)
        if binary is None:
            raise RedisServerMissing(INSTALL_HINT)
        self._take_lock()
        if _ping_unix(self.socket_path):  # another process won the race while we waited
            self._release_lock()
            self.reused = True
            return self.url
        with contextlib.suppress(FileNotFoundError):
            self.socket_path.unlink()
        args = [
            binary,
            "--port", "0",
            "--bind", "127.0.0.1",
            "--unixsocket", str(self.socket_path),
            "--unixsocketperm", "700",
            "--daemonize", "no",
            "--save", "",
            "--logfile", str(self.log_path),
        ]  # fmt: skip
        if self.role.durable:
            self.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            args += ["--dir", str(self.data_dir), "--appendonly", "yes",
                     "--appendfsync", "always"]  # fmt: skip
        else:
            args += ["--dir", str(self.run_dir), "--appendonly", "no"]
        self._proc = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=_die_with_parent,  # noqa: PLW1509 - needed for PR_SET_PDEATHSIG
        )
        deadline = time.monotonic() + self.start_timeout
        delay = 0.005
        while not _ping_unix(self.socket_path):
            if self._proc.poll() is not None:
                tail = self._log_tail()
                self._proc = None
                self._release_lock()
                raise RtccError(f"embedded redis-server ({self.role.name}) exited at start: {tail}")
            if time.monotonic() > deadline:
                self.stop()
                raise RtccError(
                    f"embedded redis-server ({self.role.name}) did not answer within "
                    f"{self.start_timeout:g}s; see {self.log_path}"
                )
            time.sleep(delay)
            delay = min(delay * 2, 0.1)
        log.info("started embedded Redis (%s, pid %d) at %s", self.role.name, self._proc.pid,
                 self.url)
        return self.url

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server if this object started it (idempotent). SIGTERM lets Redis fsync."""
        proc, self._proc = self._proc, None
        try:
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout)
                except subprocess.TimeoutExpired:
                    log.warning("embedded Redis (%s) ignored SIGTERM; killing", self.role.name)
                    proc.kill()
                    proc.wait()
            if proc is not None:
                with contextlib.suppress(FileNotFoundError):
                    self.socket_path.unlink()
        finally:
            self._release_lock()

    def kill(self) -> None:
        """SIGKILL the server without letting it flush (for durability tests)."""
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait()
            self._proc = None
        self._release_lock()

    def __enter__(self) -> EmbeddedRedis:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _take_lock(self) -> None:
        self._lock = open(self.run_dir / f"redis-{self.role.name}.lock", "w")  # noqa: SIM115
        fcntl.flock(self._lock, fcntl.LOCK_EX)

    def _release_lock(self) -> None:
        if self._lock is not None:
            fcntl.flock(self._lock, fcntl.LOCK_UN)
            self._lock.close()
            self._lock = None

    def _log_tail(self) -> str:
        try:
            lines = self.log_path.read_text(errors="replace").strip().splitlines()
        except OSError:
            return "no log"
        return lines[-1] if lines else "empty log"


@dataclass(frozen=True, slots=True)
class RedisUrls:
    state: str
    """Registry, requests, users, audit: durable."""
    live: str
    """Video channels and frame metadata: memory only ("" when not started)."""


@contextlib.contextmanager
def redis_urls(settings: Settings, *, live: bool = True) -> Iterator[RedisUrls]:
    """Yield the Redis URLs to use, starting embedded servers for what is not configured and
    stopping them again when the block exits (also on exceptions and KeyboardInterrupt).

    ``RTCC_REDIS_URL`` names the state server; ``RTCC_LIVE_REDIS_URL`` the live one (default: the
    state server when that is configured, else an embedded memory-only server).
    ``live=False`` skips the live server for commands that only touch the registry."""
    with contextlib.ExitStack() as stack:

        def embedded(role: ServerRole) -> str:
            server = EmbeddedRedis(role, settings.data_dir, settings.run_dir,
                                   settings.redis_server, settings.redis_connect_timeout)
            return stack.enter_context(server).url

        state = settings.redis_url or embedded(STATE)
        live_url = ""
        if live:
            live_url = settings.live_redis_url or settings.redis_url or embedded(LIVE)
        yield RedisUrls(state, live_url)
