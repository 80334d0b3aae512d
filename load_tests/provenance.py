"""Where a figure comes from: the record every benchmark header and ``results.json`` carries.

A figure is only worth quoting with the conditions it was taken under: the code (git commit and
whether the work tree had uncommitted changes), the camera preset, whether the compiled twins of
the hub's per-packet path ran (:mod:`rtcc.ingest.compiled`), the versions of everything in the
path, the machine's cores and its load average before and during the run (other jobs on a shared
machine move every CPU figure: docs/benchmarks.md). :class:`LoadGuard` is the quiet-machine rule:
a benchmark refuses to start above a load threshold (or, when told to go on anyway, marks its
results as taken on a busy machine), and samples the load while it runs.
"""

from __future__ import annotations

import os
import platform
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
QUIET_LOAD = 2.0
"""1-minute load average at or below which a 2-core machine counts as quiet for a benchmark."""


def _run(cmd: list[str]) -> str:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=20)
        return (out.stdout or out.stderr).strip().splitlines()[0]
    except (OSError, subprocess.SubprocessError, IndexError):
        return "unknown"


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def machine() -> dict[str, Any]:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
        mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
    except (OSError, ValueError, IndexError):
        mem_kb = 0
    return {"host": socket.gethostname(), "cpus": os.cpu_count(), "cpu_model": model,
            "memory_gb": round(mem_kb / 1e6, 1), "kernel": platform.release(),
            "load_start": list(os.getloadavg())}


def versions() -> dict[str, str]:
    import rtcc

    return {"python": platform.python_version(), "rtcc": rtcc.__version__,
            "redis": _run(["redis-server", "--version"]),
            "ffmpeg": _run(["ffmpeg", "-hide_banner", "-version"]),
            "av": _version("av"), "aiortc": _version("aiortc"), "aiohttp": _version("aiohttp"),
            "uvloop": _version("uvloop"), "redis_py": _version("redis"),
            "rich": _version("rich"), "matplotlib": _version("matplotlib")}


def git_commit() -> dict[str, Any]:
    """The checked-out commit and whether tracked files differ from it."""
    def git(*args: str) -> str:
        try:
            out = subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True,
                                 text=True, timeout=10)
        except (OSError, subprocess.SubprocessError):
            return ""
        return out.stdout.strip() if out.returncode == 0 else ""

    commit = git("rev-parse", "HEAD")
    dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    return {"commit": commit or "unknown", "dirty": dirty,
            "branch": git("rev-parse", "--abbrev-ref", "HEAD") or "unknown"}


def compiled_twins() -> dict[str, Any]:
    """Which parts of the hub's per-packet path run compiled code in a new hub process."""
    from rtcc.ingest.compiled import describe

    return {"described": describe(),
            "disabled_by_env": os.environ.get("RTCC_NO_EXTENSIONS", "") not in ("", "0")}


def record(preset: str | None, load: dict[str, Any] | None = None) -> dict[str, Any]:
    """The provenance block of a result (see module docstring)."""
    from simulators.presets import PRESETS

    return {"git": git_commit(), "preset": preset,
            "stream": PRESETS[preset].as_json() if preset in PRESETS else None,
            "compiled": compiled_twins(), "versions": versions(), "machine": machine(),
            "argv": [Path(sys.argv[0]).name, *sys.argv[1:]],
            "load": load or {}}


def header(prov: dict[str, Any]) -> str:
    """One paragraph for a benchmark's printed header."""
    g, m, v = prov["git"], prov["machine"], prov["versions"]
    load = prov.get("load") or {}
    lines = [
        f"commit {g['commit'][:12]}{' (uncommitted changes)' if g['dirty'] else ''} "
        f"on {g['branch']}; preset {prov['preset'] or '-'}; compiled twins: "
        f"{prov['compiled']['described']}",
        f"{m['cpus']} cores ({m['cpu_model']}), {m['memory_gb']} GB, kernel {m['kernel']}; "
        f"Python {v['python']}, redis {v['redis'].split()[2] if 'v=' in v['redis'] else v['redis']}"
        f", {v['ffmpeg'].split(' Copyright')[0]}, PyAV {v['av']}, aiortc {v['aiortc']}, "
        f"uvloop {v['uvloop']}",
        f"load average before {fmt_load(load.get('before'))}"
        + (f", during: max {load['max']:.2f}, mean {load['mean']:.2f}" if "max" in load else "")
        + (f"; BUSY MACHINE (above {load['threshold']:g}): figures not comparable"
           if load.get("busy") else ""),
    ]
    return "\n".join(lines)


def fmt_load(values: Any) -> str:
    if not values:
        return "-"
    return "/".join(f"{x:.2f}" for x in values)


@dataclass
class LoadGuard:
    """Refuse to start on a busy machine (or mark the results), and sample the load meanwhile."""

    threshold: float = QUIET_LOAD
    force: bool = False
    wait: float = 0.0
    """Seconds to wait for the load to fall below the threshold before giving up."""
    interval: float = 2.0
    before: list[float] = field(default_factory=list)
    samples: list[float] = field(default_factory=list)
    busy: bool = False
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def check(self, what: str) -> None:
        """Wait up to ``wait`` s for a quiet machine; then refuse (SystemExit 3) unless
        ``force``, in which case the results are marked busy."""
        deadline = time.monotonic() + self.wait
        while True:
            load1 = os.getloadavg()[0]
            if load1 <= self.threshold or time.monotonic() >= deadline:
                break
            time.sleep(5.0)
        self.before = list(os.getloadavg())
        if self.before[0] > self.threshold:
            self.busy = True
            message = (f"{what}: the 1-minute load average is {self.before[0]:.2f}, above "
                       f"{self.threshold:g}: other jobs would move every CPU figure")
            if not self.force:
                raise SystemExit(f"{message}. Run it on a quiet machine, or give --force to "
                                 "measure anyway (the results are then marked busy).")
            print(f"WARNING {message}; measuring anyway (--force): the results are marked "
                  "busy and are not comparable", file=sys.stderr, flush=True)

    def __enter__(self) -> LoadGuard:
        self._thread = threading.Thread(target=self._sample, daemon=True, name="load-guard")
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.interval + 1)

    def _sample(self) -> None:
        while not self._stop.wait(self.interval):
            self.samples.append(os.getloadavg()[0])

    def summary(self) -> dict[str, Any]:
        # The load during a run includes the benchmark's own processes (a 2-core machine
        # running a simulator, Redis, the hub and ffmpeg reads 3-6): recorded, not judged.
        s = self.samples or [os.getloadavg()[0]]
        return {"before": self.before, "max": max(s), "mean": sum(s) / len(s),
                "samples": len(s), "threshold": self.threshold, "busy": self.busy}
