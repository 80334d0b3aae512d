"""The pipeline under load, on loopback: Redis, ``rtcc sim --replay`` processes and the hub.

:func:`environment` starts, in a private temporary directory, the memory-only live redis-server
(and, with ``split``, a separate state server for the registry, as ``rtcc serve`` runs by
default, so that the live one can be restarted without losing consents), writes a synthetic world
with every camera opted in to ``live`` and imports it into the registry. :class:`Env` then starts
simulators (RTSP, or pushing over WHIP) and the hub (``load_tests.hub_only``, or all of
``rtcc serve`` when the wall is needed) as child processes, stops them, and restarts the live
Redis for the fault scenario. :class:`Target` names services that are already running.

Every server binds 127.0.0.1 (Redis on unix sockets); every child dies with this process.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import redis as sync_redis

from load_tests.procs import Child, free_port
from rtcc.redis_server import LIVE, STATE, EmbeddedRedis

RTCC = [sys.executable, "-m", "rtcc"]
TEMPLATE_CACHE = Path(__file__).resolve().parent.parent / "results" / "cache" / "templates"
"""Replay templates recorded by the load tests' simulators, kept between runs (git-ignored)."""
WHIP_TOKEN = "bench-token"


@dataclass(frozen=True, slots=True)
class Target:
    """Services already running, measured instead of started (``--redis-url`` etc.)."""

    redis_url: str
    hub_url: str = ""
    """The hub's /metrics URL."""
    sim_url: str = ""
    """The simulator's /metrics URL."""


@dataclass
class Sim:
    child: Child
    urls: dict[str, str]
    """camera id -> RTSP URL."""
    metrics_url: str
    rtsp_port: int


@dataclass
class Hub:
    child: Child
    port: int

    @property
    def metrics_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/metrics"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass
class Env:
    tmp: Path
    redis: EmbeddedRedis
    """The live Redis (channels); also the registry's unless ``state`` is set."""
    client: sync_redis.Redis
    env: dict[str, str]
    world: Path
    size: str
    fps: float
    children: list[Child] = field(default_factory=list)
    state: EmbeddedRedis | None = None
    preset: str | None = None
    """``rtcc sim --preset`` of every simulator (``size`` and ``fps`` are then the preset's)."""

    def stream_args(self) -> list[str]:
        """The simulators' stream flags: the preset (with the shared template cache) or the
        size and frame rate."""
        if self.preset:
            # A fixed simulated noon: the same people in the same daylight at every start, so
            # runs compare and the recorded templates come from the cache.
            return ["--preset", self.preset, "--template-cache", str(TEMPLATE_CACHE),
                    "--scenario", str(self.scenario())]
        return ["--size", self.size, "--fps", f"{self.fps:g}"]

    @property
    def cameras(self) -> list[str]:
        """Camera ids of the world, sorted (the order ``rtcc sim --count`` takes them in)."""
        doc = json.loads(self.world.read_text())
        return sorted(f["properties"]["id"] for f in doc["features"]
                      if f["properties"].get("kind") == "camera")

    def scenario(self) -> Path:
        path = self.tmp / "noon.toml"
        if not path.exists():
            path.write_text('name = "load test"\n[clock]\nstart = 2026-06-01T12:00:00\n')
        return path

    def spawn(self, name: str, args: list[str]) -> Child:
        child = Child(name, args, self.env, self.tmp)
        self.children.append(child)
        return child

    def sim(self, count: int | list[str], whip: str | None = None, name: str = "sim", *,
            rtsp_port: int = 0, templates: int = 4) -> tuple[Child, dict[str, str]]:
        """``rtcc sim --replay`` serving ``count`` cameras (the first N, or these ids) over RTSP,
        also pushing each over WHIP to ``whip`` (a URL template with ``{camera}``)."""
        s = self.start_sim(count, whip, name, rtsp_port=rtsp_port, templates=templates)
        return s.child, s.urls

    def start_sim(self, count: int | list[str], whip: str | None = None, name: str = "sim", *,
                  rtsp_port: int = 0, templates: int = 4, timeout: float = 120.0) -> Sim:
        port = rtsp_port or free_port()
        which = ["--count", str(count)] if isinstance(count, int) else \
            ["--cameras", ",".join(count)]
        args = [*RTCC, "sim", "--world", str(self.world), "--replay", *which,
                "--templates", str(templates), *self.stream_args(),
                "--rtsp-port", str(port), "--metrics-port", "0"]
        if whip:
            args += ["--whip", whip, "--whip-token", WHIP_TOKEN]
        child = self.spawn(name, args)
        urls: dict[str, str] = {}
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = child.line("", timeout=max(1.0, deadline - time.monotonic()))
            if line.startswith("metrics"):
                return Sim(child, urls, line.split()[1], port)
            cam, url = line.split()
            urls[cam] = url
        raise RuntimeError(f"{name}: no metrics line within {timeout:g}s")

    def hub(self, cams: dict[str, str], whip: bool = False, full: bool = False, *,
            reconnect_rate: float = 1000.0, reconnect_burst: float | None = None,
            port: int = 0) -> tuple[Child, int]:
        """The hub alone (load_tests.hub_only), or with ``full`` all of ``rtcc serve``.
        ``cams`` maps camera ids to RTSP URLs; an empty URL (or ``whip``) means a WHIP camera."""
        h = self.start_hub(cams, whip, full, reconnect_rate=reconnect_rate,
                           reconnect_burst=reconnect_burst, port=port)
        return h.child, h.port

    def start_hub(self, cams: dict[str, str], whip: bool = False, full: bool = False, *,
                  reconnect_rate: float = 1000.0, reconnect_burst: float | None = None,
                  port: int = 0) -> Hub:
        sources = self.tmp / f"sources-{time.monotonic_ns()}.json"
        entries = [{"id": c, "whip": True, "token": WHIP_TOKEN} if whip or not u
                   else {"id": c, "url": u} for c, u in cams.items()]
        sources.write_text(json.dumps(entries))
        port = port or free_port()
        burst = reconnect_rate if reconnect_burst is None else reconnect_burst
        if full:
            child = self.spawn("hub", [*RTCC, "serve", "--port", str(port), "--sources",
                                       str(sources), "--reconnect-rate", f"{reconnect_rate:g}",
                                       "--reconnect-burst", f"{burst:g}"])
            child.line("rtcc serve: listening")
        else:
            child = self.spawn("hub", [sys.executable, "-m", "load_tests.hub_only", "--port",
                                       str(port), "--sources", str(sources),
                                       "--reconnect-rate", f"{reconnect_rate:g}",
                                       "--reconnect-burst", f"{burst:g}"])
            child.line("hub-only: listening")
        return Hub(child, port)

    def user_token(self, name: str = "loadtest", role: str = "operator") -> str:
        """A new user's API token (for the wall's viewers)."""
        out = subprocess.run([*RTCC, "users", "add", name, "--role", role], env=self.env,
                             check=True, capture_output=True, text=True, timeout=60)
        return out.stdout.strip().splitlines()[-1].strip()

    def viewer_command(self, kind: str = "ws") -> list[str]:
        module = "load_tests.browser_viewers" if kind == "browser" else "load_tests.viewers"
        return [sys.executable, "-m", module]

    def restart_redis(self) -> float:
        """A real restart of the live redis-server (SIGTERM, then a new process on the same
        socket: every channel is gone). Returns the unix time it answered again."""
        self.redis.stop()
        self.redis.start()
        self.client.close()
        self.client = sync_redis.Redis.from_url(self.redis.url)
        return time.time()

    def reap(self) -> None:
        """Forget children that have been stopped."""
        self.children = [c for c in self.children if c.alive()]


@contextlib.contextmanager
def environment(max_cameras: int, size: str, fps: float, split: bool = False,
                preset: str | None = None, world_seed: int = 1) -> Iterator[Env]:
    """Redis (one server, or with ``split`` a state and a live one), a world of ``max_cameras``
    live cameras imported into the registry; everything removed on exit. With ``preset`` the
    simulators send that preset's stream (``size`` and ``fps`` are then the preset's)."""
    if preset:
        from simulators.presets import preset as find_preset

        chosen = find_preset(preset)
        size, fps = chosen.size, chosen.fps
    tmp = Path(tempfile.mkdtemp(prefix="rtcc-lt-", dir="/tmp"))
    redis = EmbeddedRedis(LIVE, tmp / "data", tmp / "run")
    state = EmbeddedRedis(STATE, tmp / "data", tmp / "run") if split else None
    e: Env | None = None
    try:
        redis.start()
        if state is not None:
            state.start()
        env = {k: v for k, v in os.environ.items() if not k.startswith("RTCC_")}
        env.update(RTCC_REDIS_URL=(state or redis).url, RTCC_LIVE_REDIS_URL=redis.url,
                   RTCC_DATA_DIR=str(tmp / "data"), RTCC_RUN_DIR=str(tmp / "run"),
                   RTCC_LOG_LEVEL="warning")
        world = tmp / "world.geojson"
        subprocess.run([*RTCC, "world", "synth", "--households", str(max_cameras),
                        "--seed", str(world_seed),
                        "--camera-rate", "1", "--floodlight-rate", "0", "--live-rate", "1",
                        "--request-rate", "0", "--registry-rate", "0", "-o", str(world)],
                       env=env, check=True, capture_output=True, timeout=300)
        subprocess.run([*RTCC, "registry", "import", str(world)], env=env, check=True,
                       capture_output=True, timeout=300)
        e = Env(tmp, redis, sync_redis.Redis.from_url(redis.url), env, world, size, fps,
                state=state, preset=preset)
        yield e
    finally:
        if e is not None:
            for child in e.children:
                if child.alive():
                    child.stop(signal.SIGKILL)
            e.client.close()
        redis.stop()
        if state is not None:
            state.stop()
        shutil.rmtree(tmp, ignore_errors=True)
