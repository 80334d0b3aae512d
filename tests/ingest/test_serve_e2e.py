"""The "done when" of the hub, with the real commands: `rtcc sim` serves cameras, `rtcc registry`
seeds consent and sources, `rtcc serve` fills Redis with live, consent-gated channels that
`redis-cli XREVRANGE` shows with correct metadata; a killed simulator comes back."""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis as sync_redis

from rtcc import keys

RTCC = [sys.executable, "-m", "rtcc"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(redis_url: str, tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RTCC_")}
    env.update(RTCC_REDIS_URL=redis_url, RTCC_LIVE_REDIS_URL=redis_url,
               RTCC_DATA_DIR=str(tmp / "data"), RTCC_RUN_DIR=str(tmp / "run"),
               RTCC_LOG_LEVEL="warning")
    return env


def _wait(predicate, timeout: float, what: str):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


class _Proc:
    def __init__(self, args: list[str], env: dict[str, str], cwd: Path) -> None:
        self.log = open(cwd / f"{args[3]}-{time.monotonic_ns()}.log", "w+")  # noqa: SIM115
        self.p = subprocess.Popen(args, env=env, cwd=cwd, stdout=subprocess.PIPE,
                                  stderr=self.log, text=True)

    def line(self, prefix: str, timeout: float = 30.0) -> str:
        assert self.p.stdout is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.p.stdout.readline()
            if line.startswith(prefix):
                return line.strip()
            if not line and self.p.poll() is not None:
                break
        self.log.seek(0)
        raise AssertionError(f"no {prefix!r} line; stderr: {self.log.read()[-2000:]}")

    def stop(self, sig: int = signal.SIGINT, timeout: float = 15.0) -> int:
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


@pytest.fixture
def procs() -> Iterator[list[_Proc]]:
    running: list[_Proc] = []
    yield running
    for proc in running:
        proc.stop(signal.SIGKILL)


@pytest.mark.slow
def test_serve_and_sim_fill_redis_with_gated_channels(
    redis_url: str, tmp_path: Path, procs: list[_Proc],
) -> None:
    env = _env(redis_url, tmp_path)
    client: Any = sync_redis.Redis.from_url(redis_url)
    client.flushall()
    world = tmp_path / "world.geojson"
    subprocess.run([*RTCC, "world", "synth", "--households", "6", "--camera-rate", "1",
                    "--floodlight-rate", "0", "--live-rate", "0.5", "--request-rate", "0.5",
                    "--registry-rate", "0", "--seed", "3", "-o", str(world)],
                   env=env, check=True, capture_output=True, cwd=tmp_path)
    subprocess.run([*RTCC, "registry", "import", str(world)], env=env, check=True,
                   capture_output=True, cwd=tmp_path)
    rtsp_port = _free_port()
    sim_args = [*RTCC, "sim", "--world", str(world), "--replay", "--templates", "1",
                "--size", "320x180", "--rtsp-port", str(rtsp_port), "--metrics-port", "0"]
    sim = _Proc(sim_args, env, tmp_path)
    procs.append(sim)
    urls: dict[str, str] = {}
    while True:
        line = sim.line("")
        if line.startswith("metrics"):
            break
        cam, url = line.split()
        urls[cam] = url
    tiers = {cam: client.hget(keys.camera(cam), "tier").decode() for cam in urls}
    live = sorted(c for c, t in tiers.items() if t == "live")
    gated = sorted(c for c, t in tiers.items() if t != "live")
    assert live and gated
    for cam, url in urls.items():
        subprocess.run([*RTCC, "registry", "source", cam, url], env=env, check=True,
                       capture_output=True, cwd=tmp_path)

    serve = _Proc([*RTCC, "serve", "--port", "0", "--silence-timeout", "2"], env, tmp_path)
    procs.append(serve)
    assert serve.line("rtcc serve: listening on http://127.0.0.1:")

    redis_cli = shutil.which("redis-cli")
    assert redis_cli is not None
    socket_path = redis_url.removeprefix("unix://")

    def xrevrange(cam: str) -> list[str]:
        """redis-cli's human output: every string quoted on its own line, binary escaped."""
        out = subprocess.run([redis_cli, "--no-raw", "-s", socket_path, "XREVRANGE",
                              keys.video(cam), "+", "-", "COUNT", "1"], capture_output=True,
                             text=True, check=True).stdout
        quoted = re.findall(r'^[\s\d)]*("(?:[^"\\]|\\.)*")$', out, re.M)
        return [ast.literal_eval("b" + q).decode("latin-1") for q in quoted]

    for cam in live:
        _wait(lambda cam=cam: xrevrange(cam), 20, f"frames of {cam}")
        lines = xrevrange(cam)
        # The entry id, then field, value, field, value...
        fields = dict(zip(lines[1::2], lines[2::2], strict=True))
        assert fields["au"].startswith("\x00\x00\x00\x01")
        assert {"seq", "t", "ta", "key", "meta"} <= set(fields)
        meta = json.loads(fields["meta"])
        assert meta["cam"] == cam and str(meta["seq"]) == fields["seq"]
        # The simulator stamps the capture time of a frame's tick, which its 5 ms slot clock
        # may run a few ms ahead of: allow that much "negative" latency.
        assert str(meta["t"]) == fields["t"]
        assert -50_000 <= int(fields["ta"]) - int(fields["t"]) < 1_000_000
        assert fields["key"] in ("0", "1")
        assert client.hget(keys.camera_state(cam), "state") == b"live"
    for cam in gated:
        assert xrevrange(cam) == []
        assert client.hget(keys.camera_state(cam), "state") == b"gated"
    assert {m.decode() for m in client.smembers(keys.LIVE_CAMERAS)} == set(live)

    # Kill the simulator outright: the hub backs off, visibly, and never crashes.
    sim.stop(signal.SIGKILL)
    _wait(lambda: client.hget(keys.camera_state(live[0]), "state") in (b"backing_off",
                                                                       b"connecting"),
          15, "backing_off after the simulator died")
    sim2 = _Proc(sim_args, env, tmp_path)
    procs.append(sim2)
    sim2.line("metrics")
    before = {cam: client.xlen(keys.video(cam)) for cam in live}
    _wait(lambda: all(client.hget(keys.camera_state(c), "state") == b"live" for c in live),
          30, "every live camera back")
    _wait(lambda: all(client.xlen(keys.video(c)) > before[c] for c in live), 15,
          "new frames after the restart")
    assert int(client.hget(keys.camera_state(live[0]), "reconnects") or 0) >= 1

    assert serve.stop(signal.SIGINT) == 0  # stops cleanly
    assert client.hget(keys.camera_state(live[0]), "state") == b"stopped"
