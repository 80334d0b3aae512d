"""``results.json`` of a load test: the document, its JSON Schema, and writing the run's outputs.

The document records what was measured and under what conditions: the machine (CPU model,
cores, memory, kernel, load average at start and end: other jobs share most machines), the
versions of everything in the path (Python, rtcc, redis-server, FFmpeg, PyAV, aiortc, aiohttp,
uvloop), the codec settings of the simulated cameras and the run's settings. Each scenario adds
its own section (``ramp``, ``soak``, ``faults``). :data:`SCHEMA` is the contract checked by the
tests and documented field by field in docs/load-tests.md; :func:`write` puts ``results.json``,
``summary.md`` and the PNG plots in the output directory.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any

from load_tests.provenance import compiled_twins, git_commit, machine, versions

SCHEMA_VERSION = 1

_NUM = {"type": ["number", "null"]}
_LAT = {"type": "object", "required": ["p50", "p95", "p99"],
        "properties": {"p50": _NUM, "p95": _NUM, "p99": _NUM}}
_PROC = {"type": "object", "required": ["cores", "rss_mb", "rss_max_mb"],
         "properties": {"cores": {"type": "number", "minimum": 0},
                        "rss_mb": {"type": "number", "minimum": 0},
                        "rss_max_mb": {"type": "number", "minimum": 0}}}
STEP = {
    "type": "object",
    "required": ["cameras", "streams_up", "seconds", "expected_frames", "frames", "frames_sent",
                 "frames_in", "gaps", "lost", "loss", "fps_median", "fps_min", "latency_ms",
                 "procs", "hub_cpu_ms_per_stream_s", "loop_lag_ms", "redis", "reconnects",
                 "load1", "slo", "pass"],
    "properties": {
        "cameras": {"type": "integer", "minimum": 1},
        "streams_up": {"type": "integer", "minimum": 0},
        "seconds": {"type": "number", "exclusiveMinimum": 0},
        "frames": {"type": "integer", "minimum": 0},
        "frames_sent": {"type": "integer", "minimum": 0},
        "gaps": {"type": "integer", "minimum": 0},
        "loss": _NUM,
        "fps_median": {"type": "number", "minimum": 0},
        "latency_ms": _LAT,
        "wall": {"type": ["object", "null"]},
        "startup": {"type": ["object", "null"]},
        "procs": {"type": "object", "required": ["hub", "sim", "redis"],
                  "additionalProperties": _PROC},
        "loop_lag_ms": {"type": "object", "required": ["mean", "last"]},
        "redis": {"type": "object", "required": ["used_memory_mb", "ops_per_sec"]},
        "slo": {"type": "object", "additionalProperties": {"type": "boolean"}},
        "pass": {"type": "boolean"},
    },
}
SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "rtcc load test results",
    "type": "object",
    "required": ["schema_version", "mode", "started", "finished", "command", "machine",
                 "versions", "codec", "config", "slo"],
    "properties": {
        "schema_version": {"const": SCHEMA_VERSION},
        "mode": {"enum": ["ramp", "soak", "faults", "jackson"]},
        "started": {"type": "string"}, "finished": {"type": "string"},
        "command": {"type": "string"},
        "machine": {"type": "object",
                    "required": ["host", "cpus", "cpu_model", "memory_gb", "kernel",
                                 "load_start", "load_end"]},
        "versions": {"type": "object", "required": ["python", "rtcc", "redis", "ffmpeg", "av"]},
        "codec": {"type": "object", "required": ["codec", "encoder", "size", "fps",
                                                 "gop_frames"]},
        "config": {"type": "object"},
        "slo": {"type": "object", "required": ["fps", "loss", "p99_ms"]},
        "ramp": {"type": "object", "required": ["steps", "knee", "knee_contiguous",
                                                "baselines"],
                 "properties": {
                     "steps": {"type": "array", "items": STEP, "minItems": 1},
                     "knee": {"type": ["integer", "null"]},
                     "knee_contiguous": {"type": ["integer", "null"]},
                     "baselines": {"type": ["object", "null"],
                                   "required": ["cameras", "cores_per_stream", "ratios",
                                                "redis_benchmark"]}}},
        "soak": {"type": "object", "required": ["windows", "drift", "loss"],
                 "properties": {"windows": {"type": "array", "items": STEP, "minItems": 1}}},
        "faults": {"type": "object", "required": ["phases", "budget", "curve"],
                   "properties": {"phases": {"type": "object",
                                             "required": ["kill", "redis", "hub"]}}},
        "target": {"type": "object"},
    },
}


def codec(size: str, fps: float, templates: int, preset: str | None = None) -> dict[str, Any]:
    from simulators.presets import PRESETS

    chosen = PRESETS.get(preset or "")
    if chosen is not None and chosen.bitrate is not None:
        options = (f"preset ultrafast, tune zerolatency, constrained VBR: {chosen.bitrate} bit/s "
                   f"average, VBV cap {chosen.maxrate} bit/s, buffer {chosen.bufsize} bit, "
                   f"ipratio {chosen.ipratio:g}; sensor grain sigma {chosen.grain:g}; no "
                   "B-frames, SPS/PPS before every IDR, no scenecut")
    else:
        options = ("preset ultrafast, tune zerolatency, CRF 23 under a VBV cap of 0.2 "
                   "bit/pixel/frame, no B-frames, SPS/PPS before every IDR, no scenecut")
    gop = chosen.gop_frames if chosen is not None else max(1, round(fps))
    return {"codec": "H.264 Constrained Baseline, Annex-B", "encoder": "libx264 via PyAV",
            "options": options, "preset": preset, "size": size, "fps": fps, "gop_frames": gop,
            "replay_templates": templates, "sei": "ground-truth SEI in every frame"}


def document(mode: str, argv: list[str], started: float, config: dict[str, Any],
             slo: dict[str, Any], size: str, fps: float, templates: int,
             preset: str | None = None) -> dict[str, Any]:
    return {"schema_version": SCHEMA_VERSION, "mode": mode,
            "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
            "finished": "", "command": " ".join(["python -m load_tests", *argv]),
            "machine": machine(), "versions": versions(),
            "codec": codec(size, fps, templates, preset),
            "provenance": {"git": git_commit(), "preset": preset, "compiled": compiled_twins()},
            "config": config, "slo": slo}


def _clean(value: Any) -> Any:
    """NaN and infinities become null (JSON has neither)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def finish(doc: dict[str, Any]) -> dict[str, Any]:
    doc["finished"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    doc["machine"]["load_end"] = list(os.getloadavg())
    cleaned: dict[str, Any] = _clean(doc)
    return cleaned


def write(out: Path, doc: dict[str, Any]) -> list[Path]:
    """results.json, summary.md and the plots in ``out``; returns the files written."""
    from load_tests import plots, summary

    out.mkdir(parents=True, exist_ok=True)
    files = [out / "results.json", out / "summary.md"]
    files[0].write_text(json.dumps(doc, indent=1) + "\n")
    files[1].write_text(summary.markdown(doc))
    try:
        files += plots.draw(doc, out)
    except Exception as err:  # a plot must not cost the measurements
        print(f"load_tests: plots failed: {err!r}", file=sys.stderr)
    return files
