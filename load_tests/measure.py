"""What the load tests read back from the pipeline: frames in Redis, Prometheus metrics, startup.

* :func:`delivered`: the frames the hub delivered between two instants, read back from
  ``rtcc:meta:frames``: counts, per-camera sequence gaps (lost frames), delivered fps, and
  camera->Redis latency (Redis entry id, ms at Redis, minus the SEI capture time), split into
  camera->hub (``ta - t``) and hub->Redis.
* :func:`metrics` / :func:`scrape` / :func:`hub_counters` / :func:`sim_counters`: a Prometheus
  text page (the hub's or the simulator's /metrics) parsed into sums.
* :func:`startup`: per camera, connect time (``connecting`` -> ``live`` in
  ``rtcc:cameras:events``) and time to the first keyframe in Redis after a given instant.
* :func:`redis_info`: memory and operation counters of the live Redis.

Every loop is bounded (entry counts per call, deadlines). Synchronous (redis-py).
"""

from __future__ import annotations

import math
import re
import time
import urllib.request
from typing import Any

import redis as sync_redis

from rtcc import keys
from rtcc.vocabulary import CameraState

_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{([^}]*)\})? ([0-9.eE+-]+|NaN|[+-]Inf)$',
                     re.M)
_LABEL = re.compile(r'([a-zA-Z_]+)="((?:[^"\\]|\\.)*)"')
_PAGE = 20000
_MAX_ENTRIES = 2_000_000


def pct(values: list[float], p: float) -> float:
    """The ``p`` (0..1) quantile of sorted ``values`` (nearest rank; NaN if empty)."""
    return values[min(len(values) - 1, int(p * len(values)))] if values else float("nan")


def wait_live(client: sync_redis.Redis, cams: list[str], timeout: float,
              strict: bool = True) -> int:
    """Wait until every camera's state is ``live``; return how many are (RuntimeError on timeout
    when ``strict``)."""
    deadline = time.monotonic() + timeout
    live = 0
    while True:
        pipe = client.pipeline(transaction=False)
        for cam in cams:
            pipe.hget(keys.camera_state(cam), "state")
        live = sum(1 for s in pipe.execute() if s == CameraState.LIVE.encode())
        if live == len(cams) or time.monotonic() >= deadline:
            break
        time.sleep(0.5)
    if live < len(cams) and strict:
        raise RuntimeError(f"only {live} of {len(cams)} cameras live after {timeout:g}s")
    return live


def metrics(url: str, timeout: float = 10.0) -> list[tuple[str, dict[str, str], float]]:
    """The samples of a Prometheus text page: (name, labels, value)."""
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        text = resp.read().decode()
    return [(m.group(1), dict(_LABEL.findall(m.group(2) or "")), float(m.group(3)))
            for m in _SAMPLE.finditer(text)]


def scrape(port: int) -> dict[str, float]:
    """Sums of the hub's drop counter by reason, and its event-loop lag (bench_hub's view)."""
    out: dict[str, float] = {}
    lag = float("nan")
    for name, labels, value in metrics(f"http://127.0.0.1:{port}/metrics"):
        if name == "rtcc_hub_frames_dropped_total":
            key = f"drop_{labels.get('reason', '')}"
            out[key] = out.get(key, 0.0) + value
        elif name == "rtcc_event_loop_lag_seconds":
            lag = value
    out["loop_lag"] = lag
    return out


def hub_counters(url: str) -> dict[str, Any]:
    """The hub's /metrics summed over cameras: frames in/written, drops, reconnects, cameras by
    state, event-loop lag (last and histogram sum/count), its own CPU seconds and RSS, and the
    writer's batch sizes. ``per_camera`` holds frames written and reconnects per camera."""
    out: dict[str, Any] = {"frames_in": 0.0, "bytes_in": 0.0, "frames_written": 0.0,
                           "dropped": 0.0,
                           "reconnects": 0.0, "states": {}, "drops": {},
                           "per_camera": {}}
    for name, labels, value in metrics(url):
        cam = labels.get("camera", "")
        if name == "rtcc_hub_frames_in_total":
            out["frames_in"] += value
        elif name == "rtcc_hub_bytes_in_total":
            out["bytes_in"] += value
        elif name == "rtcc_hub_frames_written_total":
            out["frames_written"] += value
            out["per_camera"].setdefault(cam, {})["written"] = value
        elif name == "rtcc_hub_reconnects_total":
            out["reconnects"] += value
            out["per_camera"].setdefault(cam, {})["reconnects"] = value
        elif name == "rtcc_hub_frames_dropped_total":
            out["dropped"] += value
            why = labels.get("reason", "")
            out["drops"][why] = out["drops"].get(why, 0.0) + value
        elif name == "rtcc_hub_camera_state" and value == 1.0:
            state = labels.get("rtcc_hub_camera_state", "")
            out["states"][state] = out["states"].get(state, 0) + 1
        elif name == "rtcc_event_loop_lag_seconds":
            out["loop_lag_s"] = value
        elif name in ("rtcc_event_loop_lag_sum", "rtcc_event_loop_lag_count",
                      "rtcc_hub_redis_batch_frames_sum", "rtcc_hub_redis_batch_frames_count",
                      "process_cpu_seconds_total", "process_resident_memory_bytes"):
            out[name] = value
    return out


def sim_counters(url: str) -> dict[str, float]:
    """The simulator's /metrics summed: frames produced and sent (all transports), drops."""
    out = {"frames": 0.0, "frames_sent": 0.0, "frames_dropped": 0.0, "overruns": 0.0,
           "cycles_skipped": 0.0}
    names = {"rtcc_sim_frames_total": "frames", "rtcc_sim_frames_sent_total": "frames_sent",
             "rtcc_sim_frames_dropped_total": "frames_dropped",
             "rtcc_sim_capture_overruns_total": "overruns",
             "rtcc_sim_clock_cycles_skipped_total": "cycles_skipped"}
    for name, _labels, value in metrics(url):
        if name in names:
            out[names[name]] += value
    return out


def _meta_rows(client: sync_redis.Redis, t0_ms: int, t1_ms: int) -> list[tuple[int, dict]]:
    rows_out: list[tuple[int, dict]] = []
    start = f"{t0_ms}-0"
    while len(rows_out) < _MAX_ENTRIES:
        rows: Any = client.xrange(keys.FRAME_META, min=start, max=f"{t1_ms}-0", count=_PAGE)
        rows_out.extend((int(eid.split(b"-")[0]), f) for eid, f in rows)
        if len(rows) < _PAGE:
            break
        start = "(" + rows[-1][0].decode()
    return rows_out


def delivered(client: sync_redis.Redis, t0_ms: int, t1_ms: int) -> dict[str, Any]:
    """Frames in rtcc:meta:frames between t0 and t1: count, per-camera gaps, fps, latency."""
    by_cam: dict[bytes, list[int]] = {}
    lat_ms: list[float] = []
    arrive_ms: list[float] = []  # camera -> hub (ta - t)
    hub_ms: list[float] = []  # hub arrival -> Redis (entry id - ta)
    for ms, f in _meta_rows(client, t0_ms, t1_ms):
        by_cam.setdefault(f[b"cam"], []).append(int(f[b"seq"]))
        lat_ms.append(ms - int(f[b"t"]) / 1000)
        arrive_ms.append((int(f[b"ta"]) - int(f[b"t"])) / 1000)
        hub_ms.append(ms - int(f[b"ta"]) / 1000)
    gaps = 0
    span = 0
    for seqs in by_cam.values():
        seqs.sort()
        gaps += sum(b - a - 1 for a, b in zip(seqs, seqs[1:], strict=False) if b > a + 1)
        span += seqs[-1] - seqs[0] + 1
    for values in (lat_ms, arrive_ms, hub_ms):
        values.sort()
    seconds = max(1e-3, (t1_ms - t0_ms) / 1000)
    fps = sorted(len(s) / seconds for s in by_cam.values())
    return {"frames": len(lat_ms), "cameras_seen": len(by_cam), "gaps": gaps,
            "seq_span": span, "p50_ms": pct(lat_ms, 0.50), "p95_ms": pct(lat_ms, 0.95),
            "p99_ms": pct(lat_ms, 0.99), "max_ms": lat_ms[-1] if lat_ms else 0,
            "arrive_p99_ms": pct(arrive_ms, 0.99), "hub_p99_ms": pct(hub_ms, 0.99),
            "fps_median": pct(fps, 0.5), "fps_min": fps[0] if fps else 0.0}


def startup(client: sync_redis.Redis, cams: list[str], since: float,
            deadline_s: float = 0.0) -> dict[str, Any]:
    """Start-up after ``since`` (unix, when the hub was started): per camera, ``connect`` =
    first ``connecting`` to first ``live`` event (RTSP handshake up to PLAY, or the WHIP offer),
    ``first_keyframe`` = first ``connecting`` to its first frame in rtcc:meta:frames (a channel
    always starts with a keyframe); summarised as p50/p95/max over the cameras that got there,
    with counts. ``all_up_s``: from ``since`` (so including the hub's own start) to the last
    camera's first frame."""
    wanted = set(cams)
    first_conn: dict[str, float] = {}
    first_live: dict[str, float] = {}
    since_ms = int(since * 1000)
    rows: Any = client.xrange(keys.CAMERA_EVENTS, min=f"{since_ms}-0", max="+", count=200_000)
    for _eid, f in rows:
        cam = f.get(b"cam", b"").decode()
        if cam not in wanted:
            continue
        t = float(f.get(b"t", b"0") or 0)
        state = f.get(b"state", b"").decode()
        if state == CameraState.CONNECTING:
            first_conn.setdefault(cam, t)
        elif state == CameraState.LIVE:
            first_live.setdefault(cam, t)
    first_frame: dict[str, float] = {}
    start = f"{since_ms}-0"
    for _ in range(_MAX_ENTRIES // _PAGE):
        page: Any = client.xrange(keys.FRAME_META, min=start, max="+", count=_PAGE)
        for eid, f in page:
            cam = f[b"cam"].decode()
            if cam in wanted and cam not in first_frame:
                first_frame[cam] = int(eid.split(b"-")[0]) / 1000
        if len(page) < _PAGE or len(first_frame) == len(wanted):
            break
        start = "(" + page[-1][0].decode()

    def summary(values: list[float]) -> dict[str, float]:
        values.sort()
        return {"n": len(values), "p50_s": pct(values, 0.5), "p95_s": pct(values, 0.95),
                "max_s": values[-1] if values else float("nan")}

    connect = [first_live[c] - first_conn[c] for c in first_live if c in first_conn]
    keyframe = [t - first_conn.get(c, since) for c, t in first_frame.items()]
    return {"connect": summary(connect), "first_keyframe": summary(keyframe),
            "all_up_s": (max(first_frame.values()) - since) if len(first_frame) == len(wanted)
            else None}


def redis_info(client: sync_redis.Redis) -> dict[str, float]:
    """The live Redis's memory (bytes) and operation counters."""
    info: Any = client.info()
    return {"used_memory": float(info.get("used_memory", 0)),
            "used_memory_rss": float(info.get("used_memory_rss", 0)),
            "total_commands_processed": float(info.get("total_commands_processed", 0)),
            "ops_per_sec": float(info.get("instantaneous_ops_per_sec", 0))}


def finite(value: float | None) -> float | None:
    """``value`` for JSON: None for NaN/inf/None."""
    return None if value is None or not math.isfinite(value) else float(value)
