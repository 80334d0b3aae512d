"""Child processes of the load tests and what /proc says about them (CPU, RSS).

:class:`Child` runs one benchmark process with its stdout readable line by line and its stderr in
a log file; it dies with this process (``PR_SET_PDEATHSIG``) so a killed benchmark leaves no
orphan behind. :class:`Sampler` reads utime+stime and RSS of named processes at intervals, the
per-process CPU and memory of a load-test step. Everything here is synchronous and runs on the
benchmark's main thread.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CLK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, seconds (0 once it is gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK


def rss_bytes(pid: int) -> int:
    """Resident set size of a process, bytes (0 once it is gone)."""
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE
    except (OSError, IndexError, ValueError):
        return 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _die_with_parent() -> None:  # in the child between fork and exec
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)


class Child:
    """A benchmark process with its stdout readable line by line and stderr in a log file."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], logdir: Path) -> None:
        self.name = name
        self.args = args
        self.log = open(logdir / f"{name}-{time.monotonic_ns()}.log", "w+")  # noqa: SIM115
        self.proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=self.log,
                                     stdin=subprocess.DEVNULL, text=True,
                                     preexec_fn=_die_with_parent)  # noqa: PLW1509
        self.started = time.time()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def line(self, prefix: str, timeout: float = 120.0) -> str:
        """The next stdout line starting with ``prefix`` (RuntimeError with the log's tail if the
        process ends first). The deadline is checked between lines."""
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if line.startswith(prefix):
                return line.strip()
            if not line and self.proc.poll() is not None:
                break
        self.log.seek(0)
        raise RuntimeError(f"{self.name}: no {prefix!r} line; log tail: {self.log.read()[-1500:]}")

    def cpu(self) -> float:
        return cpu_seconds(self.proc.pid)

    def rss(self) -> int:
        return rss_bytes(self.proc.pid)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> str:
        """Stop the process (``sig``, then SIGKILL after ``timeout``); the rest of its stdout."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        rest = ""
        if self.proc.stdout is not None and not self.proc.stdout.closed:
            with contextlib.suppress(OSError, ValueError):
                rest = self.proc.stdout.read()
            self.proc.stdout.close()
        if not self.log.closed:
            self.log.close()
        return rest


@dataclass
class Sampler:
    """CPU (cores) and RSS (MB) of named processes, sampled by :meth:`sample`.

    ``pids`` maps a name to a callable returning that group's pids now (a group's CPU is the sum
    over its processes, e.g. 50 ffmpeg processes; a process that exits keeps the CPU it had)."""

    pids: dict[str, Callable[[], list[int]]]
    series: list[dict[str, Any]] = field(default_factory=list)
    _t0: float = 0.0
    _cpu0: dict[int, float] = field(default_factory=dict)
    _last: dict[int, float] = field(default_factory=dict)
    _prev: tuple[float, dict[str, float]] | None = None

    def start(self) -> None:
        self._t0 = time.monotonic()
        self._cpu0 = {pid: cpu_seconds(pid) for fn in self.pids.values() for pid in fn()}
        self._last = dict(self._cpu0)
        self._prev = (self._t0, self._totals())
        self.series = []

    def _totals(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for name, fn in self.pids.items():
            used = 0.0
            for pid in fn():
                now = cpu_seconds(pid)
                if now == 0.0:
                    now = self._last.get(pid, 0.0)  # gone: keep what it had used
                self._last[pid] = now
                used += now - self._cpu0.setdefault(pid, now)
            out[name] = used
        return out

    def sample(self) -> dict[str, Any]:
        """One point: cores of each group since the previous sample, RSS (MB) now."""
        now = time.monotonic()
        totals = self._totals()
        assert self._prev is not None, "start() first"
        t_prev, prev = self._prev
        dt = max(1e-6, now - t_prev)
        point: dict[str, Any] = {"t": round(now - self._t0, 3)}
        for name, fn in self.pids.items():
            point[f"{name}_cores"] = (totals[name] - prev.get(name, 0.0)) / dt
            point[f"{name}_rss_mb"] = sum(rss_bytes(p) for p in fn()) / 1e6
        self._prev = (now, totals)
        self.series.append(point)
        return point

    def summary(self) -> dict[str, dict[str, float]]:
        """Per group over the whole window: mean cores, mean and max RSS (MB)."""
        wall = max(1e-6, time.monotonic() - self._t0)
        totals = self._totals()
        out: dict[str, dict[str, float]] = {}
        for name in self.pids:
            rss = [p[f"{name}_rss_mb"] for p in self.series] or [0.0]
            out[name] = {"cores": totals[name] / wall, "rss_mb": sum(rss) / len(rss),
                         "rss_max_mb": max(rss)}
        return out
