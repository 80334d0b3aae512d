"""Real processes for the scale-out tests: a world of live cameras in the registry, one
``rtcc sim --replay`` serving them, and ``rtcc serve --role ...`` workers on port 0.

Everything binds 127.0.0.1; Redis is the test session's private server (a unix socket URL).
Every child is killed when the test ends (the ``procs`` fixture of the test modules).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import redis as sync_redis

from rtcc import keys

RTCC = [sys.executable, "-m", "rtcc"]


def rtcc_env(redis_url: str, tmp: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RTCC_")}
    env.update(RTCC_REDIS_URL=redis_url, RTCC_LIVE_REDIS_URL=redis_url,
               RTCC_DATA_DIR=str(tmp / "data"), RTCC_RUN_DIR=str(tmp / "run"),
               RTCC_LOG_LEVEL="info", **extra)
    return env


def wait(predicate: Callable[[], Any], timeout: float, what: str,
         interval: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(interval)


class Proc:
    """A child with stdout read line by line and stderr in a log file."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], cwd: Path) -> None:
        self.name = name
        self.log_path = cwd / f"{name}-{time.monotonic_ns()}.log"
        self.log = open(self.log_path, "w+")  # noqa: SIM115
        self.p = subprocess.Popen(args, env=env, cwd=cwd, stdout=subprocess.PIPE,
                                  stderr=self.log, stdin=subprocess.DEVNULL, text=True)

    def line(self, prefix: str, timeout: float = 60.0) -> str:
        assert self.p.stdout is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.p.stdout.readline()
            if line.startswith(prefix):
                return line.strip()
            if not line and self.p.poll() is not None:
                break
        raise AssertionError(f"{self.name}: no {prefix!r} line; stderr: {self.tail()}")

    def tail(self, n: int = 3000) -> str:
        self.log.flush()
        return self.log_path.read_text()[-n:]

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> int:
        if self.p.poll() is None:
            self.p.send_signal(sig)
            try:
                self.p.wait(timeout)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        if self.p.stdout is not None:
            self.p.stdout.close()
        self.log.close()
        return self.p.returncode


def seed_world(env: dict[str, str], tmp: Path, households: int) -> Path:
    """A synthetic world with every camera opted in to ``live``, imported into the registry."""
    world = tmp / "world.geojson"
    subprocess.run([*RTCC, "world", "synth", "--households", str(households), "--camera-rate",
                    "1", "--floodlight-rate", "0", "--live-rate", "1", "--request-rate", "0",
                    "--registry-rate", "0", "-o", str(world)],
                   env=env, check=True, capture_output=True, cwd=tmp, timeout=120)
    subprocess.run([*RTCC, "registry", "import", str(world)], env=env, check=True,
                   capture_output=True, cwd=tmp, timeout=120)
    return world


def start_sim(env: dict[str, str], tmp: Path, world: Path, count: int,
              fps: float = 5.0) -> tuple[Proc, dict[str, str]]:
    sim = Proc("sim", [*RTCC, "sim", "--world", str(world), "--replay", "--count", str(count),
                       "--templates", "1", "--size", "160x96", "--fps", f"{fps:g}",
                       "--rtsp-port", "0", "--metrics-port", "0"], env, tmp)
    urls: dict[str, str] = {}
    while True:
        line = sim.line("", timeout=120)
        if line.startswith("metrics"):
            return sim, urls
        cam, url = line.split()
        urls[cam] = url


def write_sources(tmp: Path, urls: dict[str, str]) -> Path:
    path = tmp / "sources.json"
    path.write_text(json.dumps([{"id": c, "url": u} for c, u in sorted(urls.items())]))
    return path


def spawn_serve(env: dict[str, str], tmp: Path, role: str, worker_id: str,
                *extra: str) -> Proc:
    return Proc(f"{role}-{worker_id}", [*RTCC, "serve", "--role", role, "--port", "0",
                                        "--worker-id", worker_id, *extra], env, tmp)


def base_url(proc: Proc) -> str:
    """Wait for ``rtcc serve``'s listening line; its base URL."""
    line = proc.line("rtcc serve: listening on ")
    return line.split("listening on ", 1)[1].strip().rstrip("/")


def start_serve(env: dict[str, str], tmp: Path, role: str, worker_id: str,
                *extra: str) -> tuple[Proc, str]:
    proc = spawn_serve(env, tmp, role, worker_id, *extra)
    return proc, base_url(proc)


def user_token(env: dict[str, str], tmp: Path, name: str, role: str = "operator") -> str:
    out = subprocess.run([*RTCC, "users", "add", name, "--role", role], env=env, check=True,
                         capture_output=True, text=True, cwd=tmp, timeout=60)
    return out.stdout.strip().splitlines()[-1].strip()


def get_json(url: str, token: str | None = None) -> Any:
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(request, timeout=10) as resp:
        return json.loads(resp.read())


def metric(base: str, name: str) -> float:
    """One unlabelled sample of a process's /metrics (0 when absent)."""
    with urllib.request.urlopen(f"{base}/metrics", timeout=10) as resp:
        text = resp.read().decode()
    m = re.search(rf"^{re.escape(name)} ([0-9.e+-]+)$", text, re.M)
    return float(m.group(1)) if m else 0.0


def lease_owners(client: sync_redis.Redis, cams: list[str]) -> dict[str, str | None]:
    pipe = client.pipeline(transaction=False)
    for cam in cams:
        pipe.get(keys.camera_owner(cam))
    return {c: (v.decode() if v else None) for c, v in zip(cams, pipe.execute(), strict=True)}


def last_frames(client: sync_redis.Redis, since_ms: int) -> dict[str, list[tuple[int, int]]]:
    """Per camera, (Redis ms, seq) of every delivered frame's metadata since ``since_ms``."""
    out: dict[str, list[tuple[int, int]]] = {}
    start = f"{since_ms}-0"
    for _ in range(1000):
        rows: Any = client.xrange(keys.FRAME_META, min=start, count=10000)
        for entry_id, fields in rows:
            ms = int(entry_id.split(b"-")[0])
            out.setdefault(fields[b"cam"].decode(), []).append((ms, int(fields[b"seq"])))
        if len(rows) < 10000:
            break
        start = "(" + rows[-1][0].decode()
    return out
