"""``python -m load_tests faults``: kill and restore 30 % of the cameras, restart the live Redis,
restart the hub; the recovery curve, time to full recovery and frames lost of each.

The hub runs with its own reconnect budget (``--reconnect-rate``/``--reconnect-burst``, the
hub's defaults 50/s and 100), and the cameras that are killed live in a simulator process of
their own, SIGKILLed and started again on the same RTSP port after ``--down`` seconds. A
:class:`Monitor` samples the hub's /metrics every half second: cameras live, cameras delivering
(frames written to Redis within the last second), connection attempts (the hub's reconnect
counter; the simulators' DESCRIBE count, which also sees a restarted hub's first attempts).
Attempts per second are checked against the budget: over every interval, attempts <= burst +
rate x seconds (a token bucket allows no more). Full recovery = every camera delivering again.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from load_tests import measure
from load_tests.config import LoadConfig
from load_tests.pipeline import Pipeline
from load_tests.progress import Progress
from load_tests.stack import Env
from rtcc.vocabulary import CameraState

INTERVAL = 0.5
T = TypeVar("T")


@dataclass
class Monitor:
    p: Pipeline
    t0: float = field(default_factory=time.time)
    points: list[dict[str, Any]] = field(default_factory=list)
    _written: dict[str, float] = field(default_factory=dict)
    _hist: list[dict[str, float]] = field(default_factory=list)
    _reconnects: float = 0.0
    _describes: dict[int, float] = field(default_factory=dict)
    _totals: dict[str, float] = field(default_factory=lambda: {"reconnects": 0.0,
                                                               "describes": 0.0})

    def __post_init__(self) -> None:
        # Start the counters from now: attempts before the steady state are not on the curve.
        self._describe_increments()
        if self.p.hub is not None:
            hub = measure.hub_counters(self.p.hub.metrics_url)
            self._reconnects = hub["reconnects"]
            self._written = {c: v.get("written", 0.0) for c, v in hub["per_camera"].items()}

    def fault(self) -> None:
        """A fault begins: "delivering" counts only frames written from now on."""
        self._hist.clear()

    def sample(self, phase: str) -> dict[str, Any]:
        """One point of the curve (counters of a restarted hub or simulator start again at 0;
        increments are summed so the totals never go backwards)."""
        try:
            hub = measure.hub_counters(self.p.hub.metrics_url) if self.p.hub else None
        except OSError:
            hub = None  # the hub is restarting
        written = {c: v.get("written", 0.0) for c, v in (hub or {}).get("per_camera", {}).items()}
        for cam, now in written.items():
            before = self._written.get(cam, 0.0)
            self._written[cam] = now
            written[cam] = now - before if now >= before else now
        self._hist.append(written)
        recent: dict[str, float] = {}
        for h in self._hist[-int(1.0 / INTERVAL):]:
            for cam, inc in h.items():
                recent[cam] = recent.get(cam, 0.0) + inc
        rec = hub["reconnects"] if hub else self._reconnects
        self._totals["reconnects"] += rec - self._reconnects if rec >= self._reconnects else rec
        self._reconnects = rec
        self._totals["describes"] += self._describe_increments()
        point = {"t": round(time.time() - self.t0, 3), "phase": phase,
                 "live": (hub or {}).get("states", {}).get(CameraState.LIVE, 0),
                 "delivering": sum(1 for v in recent.values() if v > 0),
                 "frames_written": sum(written.values()),
                 "reconnects": self._totals["reconnects"],
                 "describes": self._totals["describes"]}
        self.points.append(point)
        return point

    def _describe_increments(self) -> float:
        """DESCRIBEs answered by the simulators since the last sample, per process (a killed
        simulator adds nothing; a new process's counter starts from zero)."""
        total = 0.0
        for s in self.p.sims:
            if s is None or not s.child.alive():
                continue
            try:
                now = sum(value for name, labels, value in measure.metrics(s.metrics_url, 2)
                          if name == "rtcc_sim_rtsp_responses_total"
                          and labels.get("method") == "DESCRIBE")
            except OSError:
                continue
            before = self._describes.get(s.child.pid, 0.0)
            self._describes[s.child.pid] = now
            total += now - before if now >= before else now
        return total


def _until(mon: Monitor, phase: str, n: int, timeout: float, progress: Progress,
           stop_when_full: bool = True) -> float | None:
    """Sample until all ``n`` cameras deliver (returns the unix time) or ``timeout``."""
    deadline = time.monotonic() + timeout
    for _ in range(int(timeout / INTERVAL) + 2):
        if time.monotonic() >= deadline:
            break
        time.sleep(INTERVAL)
        pt = mon.sample(phase)
        progress.update(t=pt["t"], live=pt["live"], delivering=pt["delivering"])
        if stop_when_full and pt["delivering"] >= n:
            return time.time()
    return None


def _during(mon: Monitor, phase: str, action: Callable[[], T], progress: Progress) -> T:
    """Run ``action`` (a restart: it blocks for seconds) while a thread samples the curve, so the
    curve shows the outage as it happens. The action runs on the main thread: children die with
    the thread that started them (``PR_SET_PDEATHSIG``), so they must not start on a worker."""
    stop = threading.Event()

    def sample() -> None:
        for _ in range(100_000):
            if stop.wait(INTERVAL):
                return
            pt = mon.sample(phase)
            progress.update(t=pt["t"], live=pt["live"], delivering=pt["delivering"])

    sampler = threading.Thread(target=sample, name="fault-curve", daemon=True)
    sampler.start()
    try:
        return action()
    finally:
        stop.set()
        sampler.join(10)


def budget_check(points: list[dict[str, Any]], key: str, rate: float, burst: float
                 ) -> dict[str, Any]:
    """Max attempts in any 1 s window, and whether every interval kept attempts <= burst + rate
    x seconds (with half a sample interval of slack for the sampling itself)."""
    worst_excess = 0.0
    max_per_s = 0.0
    for i, a in enumerate(points):
        for b in points[i + 1:]:
            dt = b["t"] - a["t"]
            attempts = b[key] - a[key]
            worst_excess = max(worst_excess, attempts - (burst + rate * (dt + INTERVAL)))
            if dt <= 1.0 + 1e-6:
                max_per_s = max(max_per_s, attempts / max(dt, INTERVAL))
    return {"max_per_s": max_per_s, "within_budget": worst_excess <= 0,
            "worst_excess": worst_excess}


def _phase(mon: Monitor, name: str, t_fault: float, t_restore: float, t_full: float | None,
           n: int, cfg: LoadConfig, victims: set[str] | None = None) -> dict[str, Any]:
    idx = [i for i, p in enumerate(mon.points) if p["phase"] == name]
    pts = [mon.points[i] for i in idx]
    # Each point holds the frames written since the point before it: the phase covers from the
    # last point before its first one to its last one.
    start = mon.points[idx[0] - 1]["t"] if idx and idx[0] > 0 else t_fault - mon.t0
    seconds = pts[-1]["t"] - start if pts else 0.0
    written = sum(p["frames_written"] for p in pts)
    expected = n * cfg.fps * seconds
    return {"fault_at": t_fault - mon.t0, "restored_at": t_restore - mon.t0,
            "recovered_at": None if t_full is None else t_full - mon.t0,
            "time_to_recovery_s": None if t_full is None else t_full - t_restore,
            "time_from_fault_s": None if t_full is None else t_full - t_fault,
            "seconds": seconds, "expected_frames": round(expected),
            "frames_written": round(written),
            "frames_lost": max(0, round(expected - written)),
            "cameras_affected": len(victims) if victims is not None else n,
            "recovered": t_full is not None}


def run(e: Env, cfg: LoadConfig, progress: Progress) -> dict[str, Any]:
    n = cfg.cameras
    cams = e.cameras[:n]
    k = max(1, round(n * cfg.kill_fraction))
    victims, stable = cams[n - k:], cams[:n - k]
    p = Pipeline(e, cfg, [stable, victims] if stable else [victims])
    phases: dict[str, Any] = {}
    try:
        progress.phase(f"faults: starting {n} cameras ({cfg.protocol}), budget "
                       f"{cfg.reconnect_rate:g}/s burst {cfg.reconnect_burst:g}")
        p.start(cfg.reconnect_rate, cfg.reconnect_burst)
        killed = p.groups_of(victims)
        measure.wait_live(e.client, cams, 30 + n / 10, strict=False)
        time.sleep(cfg.warmup)
        mon = Monitor(p)
        _until(mon, "steady", n, 3.0, progress, stop_when_full=False)
        progress.advance()

        progress.phase(f"faults: kill {k} cameras ({cfg.kill_fraction:.0%}) for {cfg.down:g}s")
        mon.fault()
        t_fault = time.time()
        for i in killed:
            p.kill_group(i)
        _until(mon, "kill", n, cfg.down, progress, stop_when_full=False)
        t_restore = time.time()
        _during(mon, "kill", lambda: [p.restart_group(i) for i in killed], progress)
        sim_ready = time.time() - t_restore  # the replay simulator encodes its loops first
        t_full = _until(mon, "kill", n, cfg.recover_timeout, progress)
        phases["kill"] = _phase(mon, "kill", t_fault, t_restore, t_full, n, cfg, set(victims))
        phases["kill"]["sim_ready_s"] = sim_ready
        progress.advance()

        progress.phase("faults: restart the live Redis")
        mon.fault()
        t_fault = time.time()
        t_restore = _during(mon, "redis", e.restart_redis, progress)
        t_full = _until(mon, "redis", n, cfg.recover_timeout, progress)
        phases["redis"] = _phase(mon, "redis", t_fault, t_restore, t_full, n, cfg)
        progress.advance()

        progress.phase("faults: restart the hub")
        mon.fault()
        t_fault = time.time()
        t_restore = _during(mon, "hub", lambda: p.restart_hub(cfg.reconnect_rate,
                                                              cfg.reconnect_burst), progress)
        t_full = _until(mon, "hub", n, cfg.recover_timeout, progress)
        phases["hub"] = _phase(mon, "hub", t_fault, t_restore, t_full, n, cfg)
        _until(mon, "after", n, 2.0, progress, stop_when_full=False)
        progress.advance()
    finally:
        p.stop()
    budget: dict[str, Any] = {"rate": cfg.reconnect_rate, "burst": cfg.reconnect_burst,
              "hub_reconnects": budget_check(mon.points, "reconnects", cfg.reconnect_rate,
                                             cfg.reconnect_burst),
              "sim_describes": budget_check(mon.points, "describes", cfg.reconnect_rate,
                                            cfg.reconnect_burst)}
    return {"cameras": n, "killed": k, "down_s": cfg.down, "phases": phases, "budget": budget,
            "curve": mon.points,
            "pass": all(ph["recovered"] for ph in phases.values())
            and budget["hub_reconnects"]["within_budget"]
            and budget["sim_describes"]["within_budget"]}
