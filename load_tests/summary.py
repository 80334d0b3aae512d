"""The Markdown summary of a load test (``summary.md`` next to ``results.json``): the headline
tables of the run, ready to paste into docs/benchmarks.md."""

from __future__ import annotations

from typing import Any


def _f(value: Any, spec: str = ".1f") -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "**no**"
    if isinstance(value, int | float):
        return format(value, spec)
    return str(value)


def _header(doc: dict[str, Any]) -> list[str]:
    m, c = doc["machine"], doc["codec"]
    return [f"# Load test: {doc['mode']}", "",
            f"`{doc['command']}`", "",
            f"{doc['started']} to {doc['finished']}; {m['host']}: {m['cpus']} x {m['cpu_model']}, "
            f"{m['memory_gb']} GB; load average {m['load_start'][0]:.2f} at start, "
            f"{m['load_end'][0]:.2f} at end. Cameras: {c['size']} at {c['fps']:g} fps, "
            f"{c['encoder']}, GOP {c['gop_frames']} frames, {doc['config']['protocol']}. "
            f"SLO: >= {doc['slo']['fps']:g} fps, loss < {100 * doc['slo']['loss']:g} %, "
            f"p99 capture->Redis < {doc['slo']['p99_ms']:g} ms.", ""]


def steps_table(steps: list[dict[str, Any]], first: str = "cameras") -> list[str]:
    """One row per step (ramp) or window (soak: ``first="t"``, seconds into the soak)."""
    head = "t s" if first == "t" else "cameras"
    lines = [f"| {head} | up | fps median / min | loss % | latency p50 / p95 / p99 ms | "
             "wall p99 ms | first keyframe p95 s | hub cores | hub CPU ms per stream-s | "
             "hub RSS MB | sim cores | Redis cores / MB / kops/s | loop lag ms | load1 | SLO |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for s in steps:
        lat, p = s["latency_ms"], s["procs"]
        wall = (s.get("wall") or {}).get("latency_ms", {}).get("p99")
        start = ((s.get("startup") or {}).get("first_keyframe") or {}).get("p95_s")
        loss = None if s["loss"] is None else 100 * s["loss"]
        verdict = "pass" if s["pass"] else \
            "fail: " + ", ".join(k for k, v in s["slo"].items() if not v)
        lines.append(
            f"| {_f(s[first], '.0f')} | {s['streams_up']} | {_f(s['fps_median'], '.2f')} / "
            f"{_f(s['fps_min'], '.2f')} | {_f(loss, '.3f')} | {_f(lat['p50'])} / "
            f"{_f(lat['p95'])} / {_f(lat['p99'])} | {_f(wall)} | {_f(start, '.2f')} | "
            f"{_f(p['hub']['cores'], '.3f')} | {_f(s['hub_cpu_ms_per_stream_s'], '.2f')} | "
            f"{_f(p['hub']['rss_mb'], '.0f')} | {_f(p['sim']['cores'], '.2f')} | "
            f"{_f(p['redis']['cores'], '.3f')} / {_f(s['redis']['used_memory_mb'], '.0f')} / "
            f"{_f(s['redis']['ops_per_sec'] / 1000, '.1f')} | "
            f"{_f(s['loop_lag_ms']['mean'], '.1f')} | {_f(s['load1'], '.1f')} | "
            f"{verdict} |")
    return lines


def baselines_table(b: dict[str, Any]) -> list[str]:
    n, cps, r, rb = b["cameras"], b["cores_per_stream"], b["ratios"], b["redis_benchmark"]
    side = b["side_by_side"]
    return [f"Baselines at {n} cameras, side by side in one window (load1 {side['load1']:.1f}):",
            "", "| contender | cores per stream | hub / contender |", "|---|---:|---:|",
            f"| rtcc hub (load_tests.hub_only) | {cps['hub']:.5f} | - |",
            f"| ffmpeg -c copy, one process per stream ({side['ffmpeg_alive']} alive) | "
            f"{cps['ffmpeg']:.5f} | {_f(r['hub_vs_ffmpeg'], '.2f')} |",
            f"| PyAV demux, one thread per stream | {cps['pyav']:.5f} | "
            f"{_f(r['hub_vs_pyav'], '.2f')} |", "",
            f"redis-benchmark XADD, {rb['payload_bytes']} B payload (the channels' median access "
            f"unit), pipeline {rb['pipeline']}, 1 connection: **{rb['xadd_per_s']:.0f} XADD/s** "
            f"(p99 {rb['p99_ms']:.2f} ms), i.e. {r['redis_ceiling_streams']:.0f} streams at 2 "
            f"XADD per frame; the hub's writes at {n} cameras use "
            f"{100 * r['hub_xadd_share_of_redis_ceiling']:.1f} % of that ceiling.", ""]


def faults_table(f: dict[str, Any]) -> list[str]:
    lines = [f"Faults at {f['cameras']} cameras ({f['killed']} killed for {f['down_s']:g} s); "
             f"reconnect budget {f['budget']['rate']:g}/s, burst {f['budget']['burst']:g}:", "",
             "| fault | cameras affected | time to full recovery s (from restore / from fault) "
             "| frames lost | recovered |", "|---|---:|---:|---:|---|"]
    names = {"kill": "kill 30 % of cameras, restore", "redis": "restart live Redis",
             "hub": "restart the hub"}
    for key, ph in f["phases"].items():
        lines.append(f"| {names.get(key, key)} | {ph['cameras_affected']} | "
                     f"{_f(ph['time_to_recovery_s'])} / {_f(ph['time_from_fault_s'])} | "
                     f"{ph['frames_lost']} of {ph['expected_frames']} | {_f(ph['recovered'])} |")
    b = f["budget"]
    lines += ["", f"Connection attempts: max {b['hub_reconnects']['max_per_s']:.0f}/s (hub "
              f"reconnects), {b['sim_describes']['max_per_s']:.0f}/s (DESCRIBEs at the "
              f"simulators); within the budget: {_f(b['hub_reconnects']['within_budget'])} / "
              f"{_f(b['sim_describes']['within_budget'])}.", ""]
    return lines


def soak_table(s: dict[str, Any]) -> list[str]:
    d = s["drift"]
    loss = None if s["loss"] is None else 100 * s["loss"]
    def pair(v: list[float] | None) -> str:
        return "-" if not v else f"{_f(v[0])} -> {_f(v[-1])}"

    return [f"Soak at {s['cameras']} cameras:", "", *steps_table(s["windows"], "t"), "",
            f"Drift over the soak (least-squares slope; second half of the windows in "
            f"brackets): hub RSS {_f(d['hub_rss_mb_per_hour'])} "
            f"({_f(d.get('hub_rss_mb_per_hour_second_half'))}) MB/h, "
            f"{pair(d['hub_rss_mb_first_last'])} MB; simulator RSS "
            f"{_f(d['sim_rss_mb_per_hour'])} ({_f(d.get('sim_rss_mb_per_hour_second_half'))}) "
            f"MB/h; Redis RSS {_f(d['redis_rss_mb_per_hour'])} "
            f"({_f(d.get('redis_rss_mb_per_hour_second_half'))}) MB/h, "
            f"{pair(d['redis_rss_mb_first_last'])} MB; p99 latency "
            f"{_f(d['p99_ms_per_hour'])} ms/h, {pair(d['p99_ms_first_last'])} ms; loss "
            f"{_f(loss, '.3f')} %.", ""]


def markdown(doc: dict[str, Any]) -> str:
    lines = _header(doc)
    if "ramp" in doc:
        r = doc["ramp"]
        lines += steps_table(r["steps"]) + [""]
        lines += [f"**Knee: {_f(r['knee'], 'd')}** (largest camera count meeting every SLO "
                  f"criterion); every step up to {_f(r.get('knee_contiguous'), 'd')} cameras "
                  "passed.", ""]
        if r.get("baselines"):
            lines += baselines_table(r["baselines"])
    if "soak" in doc:
        lines += soak_table(doc["soak"])
    if "faults" in doc:
        lines += faults_table(doc["faults"])
    if "target" in doc:
        lines += ["Targeted running services:", "", *steps_table(doc["target"]["steps"]), ""]
    return "\n".join(lines) + "\n"
