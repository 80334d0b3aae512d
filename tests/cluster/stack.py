"""The real processes of the cluster tests: `rtcc world synth`, `rtcc registry`, `rtcc sim
--replay` and `rtcc serve`, with their output in the test's directory (loopback only)."""

from __future__ import annotations

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

RTCC = [sys.executable, "-m", "rtcc"]


def env_for(redis_url: str, tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RTCC_")}
    env.update(RTCC_REDIS_URL=redis_url, RTCC_LIVE_REDIS_URL=redis_url,
               RTCC_DATA_DIR=str(tmp / "data"), RTCC_RUN_DIR=str(tmp / "run"),
               RTCC_LOG_LEVEL="warning")
    return env


def wait(predicate: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


class Proc:
    def __init__(self, args: list[str], env: dict[str, str], cwd: Path, name: str) -> None:
        self.name = name
        self.log_path = cwd / f"{name}-{time.monotonic_ns()}.log"
        self.log = open(self.log_path, "w+")  # noqa: SIM115 (closed in stop)
        self.p = subprocess.Popen(args, env=env, cwd=cwd, stdout=subprocess.PIPE,
                                  stderr=self.log, text=True)

    def line(self, prefix: str, timeout: float = 60.0) -> str:
        assert self.p.stdout is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.p.stdout.readline()
            if line.startswith(prefix):
                return line.strip()
            if not line and self.p.poll() is not None:
                break
        raise AssertionError(f"{self.name}: no {prefix!r} line; stderr: {self.stderr()}")

    def stderr(self) -> str:
        self.log.flush()
        return self.log_path.read_text()[-3000:]

    def stop(self, sig: int = signal.SIGINT, timeout: float = 20.0) -> int:
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


def run(args: list[str], env: dict[str, str], cwd: Path) -> str:
    done = subprocess.run([*RTCC, *args], env=env, cwd=cwd, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, f"rtcc {' '.join(args)}: {done.stderr[-2000:]}"
    return done.stdout


def start_world(env: dict[str, str], tmp: Path, households: int = 12
                ) -> tuple[Proc, dict[str, str]]:
    """Synthesize a world, import its registry, start a replay simulator and point every
    camera's source at it; returns the simulator and camera -> RTSP URL."""
    world = tmp / "world.geojson"
    run(["world", "synth", "--households", str(households), "--camera-rate", "1",
         "--floodlight-rate", "0", "--live-rate", "0.6", "--request-rate", "0.4",
         "--registry-rate", "0", "--seed", "5", "-o", str(world)], env, tmp)
    run(["registry", "import", str(world)], env, tmp)
    sim = Proc([*RTCC, "sim", "--world", str(world), "--replay", "--templates", "1",
                "--size", "320x180", "--rtsp-port", "0", "--metrics-port", "0"], env, tmp, "sim")
    urls: dict[str, str] = {}
    while True:
        line = sim.line("")
        if line.startswith("metrics"):
            break
        cam, url = line.split()
        urls[cam] = url
    for cam, url in urls.items():
        run(["registry", "source", cam, url], env, tmp)
    return sim, urls


def start_serve(env: dict[str, str], tmp: Path, *extra: str) -> tuple[Proc, int]:
    serve = Proc([*RTCC, "serve", "--port", "0", "--silence-timeout", "3", *extra], env, tmp,
                 "serve")
    line = serve.line("rtcc serve: listening on http://127.0.0.1:")
    port = int(re.search(r":(\d+)/", line).group(1))  # type: ignore[union-attr]
    return serve, port


def scrape(port: int) -> dict[str, float]:
    """The process's /metrics as ``name{labels}`` -> value."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as resp:
        text = resp.read().decode()
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            try:
                out[name] = float(value)
            except ValueError:
                continue
    return out


def total(metrics: dict[str, float], name: str, **labels: str) -> float:
    want = [f'{k}="{v}"' for k, v in labels.items()]
    return sum(v for k, v in metrics.items()
               if k.split("{")[0] == name and all(w in k for w in want))
