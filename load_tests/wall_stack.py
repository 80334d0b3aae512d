"""A whole rtcc on loopback for the wall's browser tests and benchmark: sim, hub, registry, wall.

:class:`WallStack` starts, in a private temporary directory:

* the embedded Redis servers (state and live) in this process's control;
* ``rtcc sim`` as a child process serving the chosen cameras over RTSP;
* the registry, seeded from a synthetic world (tiers, RTSP sources) with an admin, an operator
  (with a password, for the page's login form) and residents on demand;
* ``rtcc serve --port 0 --world FILE`` as a child process: the ingest hub pulls the simulators,
  writes the live channels, and the wall serves the page.

Everything binds 127.0.0.1; every child is stopped (SIGTERM, then SIGKILL) by :meth:`stop`, and
dies with this process if it dies first. Synchronous on purpose: Playwright's sync API and the
benchmark drive it from plain code.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import ctypes
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, TypeVar

import redis.asyncio as aredis

from rtcc import keys
from rtcc.cli.demo import DEMO_SCENE
from rtcc.config import Settings
from rtcc.redis_server import RedisUrls, redis_urls
from rtcc.registry.audit import Actor
from rtcc.registry.importer import import_world
from rtcc.registry.store import Registry
from rtcc.registry.users import Users
from rtcc.world.geojson import save_world
from rtcc.world.synth import synthesize

T = TypeVar("T")
ADMIN = Actor("wall-stack", "admin", "127.0.0.1")
OPERATOR_PASSWORD = "wall-operator-password"


def _die_with_parent() -> None:  # in the child between fork and exec
    os.setsid()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)


def _child_env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RTCC_")}
    env.update(extra)
    return env


@dataclass
class WallStack:
    cameras: int = 16
    """Live cameras simulated and on the wall."""
    replay: bool = True
    size: str = "640x360"
    fps: float = 10.0
    seed: int = 11
    templates: int = 4
    passers_by: float = 15.0
    """Passers-by per household and hour in the simulated scene."""
    log_level: str = "warning"
    tmp: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="rtcc-ws-",
                                                                    dir="/tmp")))
    world: Any = None
    live: list[str] = field(default_factory=list)
    """The simulated live cameras, sorted."""
    not_live: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    """Cameras simulated besides the live ones: pulled by the hub but gated until their owner
    shares them live (set by a subclass before the simulators start)."""
    url: str = ""
    urls: RedisUrls | None = None
    admin_token: str = ""
    operator: str = "olivia"
    sim: subprocess.Popen[str] | None = None
    serve: subprocess.Popen[str] | None = None
    _stack: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)
    _logs: list[IO[str]] = field(default_factory=list)

    # --- lifecycle -----------------------------------------------------------------------------

    def start(self, timeout: float = 90.0) -> WallStack:
        try:
            self._start(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _make_world(self) -> Any:
        """A neighbourhood with a realistic mix of tiers, just big enough for the live cameras
        (a subclass may change it, and choose :attr:`extra` cameras to simulate)."""
        households = max(16, 2 * self.cameras)
        while True:
            world = synthesize(households, self.seed, live_rate=0.55, request_rate=0.15,
                               registry_rate=0.15, camera_rate=0.6)
            if sum(world.camera_consent(c) == "live" for c in world.cameras) >= self.cameras:
                return world
            households += max(4, self.cameras // 4)

    def _start(self, timeout: float) -> None:
        self.world = self._make_world()
        live = sorted(c for c in self.world.cameras if self.world.camera_consent(c) == "live")
        self.live = live[:self.cameras]
        self.not_live = sorted(c for c in self.world.cameras
                               if self.world.camera_consent(c) != "live")
        world_path = self.tmp / "world.geojson"
        save_world(self.world, world_path)
        settings = Settings.load({"data_dir": str(self.tmp / "data"),
                                  "run_dir": str(self.tmp / "run")},
                                 environ={"HOME": str(self.tmp)})
        self.urls = self._stack.enter_context(redis_urls(settings))
        sources = self._start_sim(world_path, timeout)
        # Live cameras that are not simulated would sit on the wall as "reconnecting":
        # the stack's wall shows exactly the simulated ones.
        extra_live = [c for c in live if c not in set(self.live)]
        self.admin_token = self.run(self._seed(sources, extra_live))
        self._start_serve(world_path, timeout)
        self.run(self._keyframes_in_redis(time.monotonic() + timeout))

    async def _keyframes_in_redis(self, deadline: float) -> None:
        """Wait until every camera has a keyframe in its live channel: a tile opened before that
        cannot start from a cached GOP and waits for the camera's next keyframe (up to a GOP)."""
        assert self.urls is not None
        client = aredis.Redis.from_url(self.urls.live)
        try:
            while time.monotonic() < deadline:
                if await client.exists(*(keys.gop(cam) for cam in self.live)) == len(self.live):
                    return
                await asyncio.sleep(0.1)
        finally:
            await client.aclose()
        raise RuntimeError("not every camera had a keyframe in Redis in time")

    def stop(self) -> None:
        for proc in (self.serve, self.sim):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            if proc is not None and proc.stdout is not None:
                proc.stdout.close()
        self._stack.close()
        for f in self._logs:
            f.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self) -> WallStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _log(self, name: str) -> IO[str]:
        f = (self.tmp / f"{name}.log").open("w")
        self._logs.append(f)
        return f

    def _start_sim(self, world_path: Path, timeout: float) -> dict[str, str]:
        cmd = [sys.executable, "-m", "rtcc", "sim", "--world", str(world_path),
               "--cameras", ",".join(self.live + self.extra), "--rtsp-port", "0",
               "--metrics-port", "0",
               "--size", self.size, "--fps", f"{self.fps:g}", "--seed", str(self.seed),
               "--log-level", self.log_level]
        if self.replay:
            cmd += ["--replay", "--templates", str(self.templates)]
        # The demo's scene, busier: a morning in daylight with crowds, so that even the short
        # replayed loops show people and the tiles' exposure counters have something to count.
        scene = self.tmp / "sim-scenario.toml"
        scene.write_text(DEMO_SCENE.format(seed=self.seed, passers=self.passers_by,
                                           start=time.strftime("%Y-%m-%dT09:30:00")))
        cmd += ["--scenario", str(scene)]
        self.sim = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self._log("sim"),
                                    stdin=subprocess.DEVNULL, text=True, env=_child_env({}),
                                    preexec_fn=_die_with_parent)  # noqa: PLW1509
        urls: dict[str, str] = {}
        deadline = time.monotonic() + timeout
        assert self.sim.stdout is not None
        while time.monotonic() < deadline:
            parts = self.sim.stdout.readline().split()
            if not parts:
                break
            if parts[0] == "metrics":
                return urls
            if len(parts) == 2:
                urls[parts[0]] = parts[1]
        raise RuntimeError(f"rtcc sim did not start: {self.tmp / 'sim.log'}")

    def _start_serve(self, world_path: Path, timeout: float) -> None:
        cmd = [sys.executable, "-m", "rtcc", "serve", "--port", "0", "--world", str(world_path),
               "--log-level", self.log_level]
        env = _child_env({"RTCC_DATA_DIR": str(self.tmp / "data"),
                          "RTCC_RUN_DIR": str(self.tmp / "run")})
        self.serve = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self._log("serve"),
                                      stdin=subprocess.DEVNULL, text=True, env=env,
                                      preexec_fn=_die_with_parent)  # noqa: PLW1509
        assert self.serve.stdout is not None
        line = self.serve.stdout.readline()
        if "listening on" not in line:
            raise RuntimeError(f"rtcc serve did not start: {self.tmp / 'serve.log'}")
        self.url = line.split("listening on", 1)[1].strip().rstrip("/")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError), \
                    urllib.request.urlopen(f"{self.url}/healthz", timeout=2) as r:
                if r.status == 200:
                    return
            time.sleep(0.1)
        raise RuntimeError("rtcc serve never became healthy")

    # --- registry ------------------------------------------------------------------------------

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run a registry coroutine to completion from sync code, on a thread of its own (the
        caller may be inside a running loop, e.g. Playwright's sync API)."""
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            return pool.submit(asyncio.run, coro).result()

    async def _state(self, fn: Callable[[aredis.Redis], Awaitable[T]]) -> T:
        assert self.urls is not None
        client = aredis.Redis.from_url(self.urls.state)
        try:
            return await fn(client)
        finally:
            await client.aclose()

    async def _seed(self, sources: dict[str, str], extra_live: list[str]) -> str:
        async def seed(state: aredis.Redis) -> str:
            registry = Registry(state)
            await import_world(registry, self.world, actor=ADMIN, source="wall-stack")
            for cam, url in sources.items():
                await registry.set_source(cam, url, actor=ADMIN)
            for cam in extra_live:
                await registry.set_consent(cam, "request", actor=ADMIN, reason="not simulated")
            users = Users(state)
            _, admin = await users.add("wall-admin", "admin", actor=ADMIN)
            await users.add(self.operator, "operator", actor=ADMIN, password=OPERATOR_PASSWORD)
            return admin

        return await self._state(seed)

    def resident_token(self, household: str, name: str) -> str:
        async def add(state: aredis.Redis) -> str:
            _, token = await Users(state).add(name, "resident", actor=ADMIN, household=household)
            return token

        return self.run(self._state(add))

    def operator_token(self) -> str:
        async def login(state: aredis.Redis) -> str:
            session = await Users(state).login(self.operator, OPERATOR_PASSWORD, ip="127.0.0.1")
            return session.token

        return self.run(self._state(login))

    def audit(self, prefix: str = "live.") -> list[Any]:
        from rtcc.registry.audit import AuditLog

        async def read(state: aredis.Redis) -> list[Any]:
            return [e for e in await AuditLog(state).entries() if e.event.startswith(prefix)]

        return self.run(self._state(read))

    def api(self, method: str, path: str, token: str, body: bytes | None = None) -> int:
        req = urllib.request.Request(f"{self.url}{path}", method=method, data=body,
                                     headers={"Authorization": f"Bearer {token}"})
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return int(r.status)
        except urllib.error.HTTPError as err:
            return int(err.code)


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--allow-loopback-in-peer-connection", "--disable-features=WebRtcHideLocalIpsWithMdns",
    "--autoplay-policy=no-user-gesture-required",
    # A wall is a background tab half the time: never throttle its timers or rendering.
    "--disable-background-timer-throttling", "--disable-renderer-backgrounding",
    "--disable-backgrounding-occluded-windows",
]
"""Flags that work for headless Chromium with WebRTC on loopback (see peers/README.md)."""


def in_loopback_netns() -> bool:
    """True when this process's network namespace has no interface but ``lo``.
    (``/proc/net/dev`` is per namespace; ``/sys/class/net`` shows the mount's namespace.)"""
    lines = Path("/proc/net/dev").read_text().splitlines()[2:]
    return sorted(line.split(":", 1)[0].strip() for line in lines) == ["lo"]


def netns_command(argv: list[str]) -> list[str]:
    """``argv`` wrapped to run in a fresh network namespace whose only interface is loopback.
    Root uses ``unshare -n``; other users a user namespace (``unshare -rn``)."""
    flag = "-n" if os.geteuid() == 0 else "-rn"
    return ["unshare", flag, "bash", "-c", 'ip link set lo up && exec "$@"', "netns-run", *argv]
