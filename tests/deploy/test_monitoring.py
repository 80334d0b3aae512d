"""The compose deployment's monitoring, checked without Docker: Prometheus scrapes every rtcc
process (scaled ones through DNS service discovery) and its config passes ``promtool`` where that
is installed; every metric the provisioned Grafana dashboard queries exists in rtcc's metric
registries, and the provisioning files point at the compose services and mounts."""

from __future__ import annotations

import ast
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import CollectorRegistry

from rtcc.exposure.live_metrics import LiveMetrics
from rtcc.ingest.metrics import HubMetrics, ShardMetrics
from rtcc.metrics import LoopLagMonitor, new_registry
from tests.deploy.test_compose import ROOT, services

PROMETHEUS = ROOT / "deploy" / "prometheus" / "prometheus.yml"
GRAFANA = ROOT / "deploy" / "grafana"
DASHBOARD = GRAFANA / "dashboards" / "rtcc.json"
METRIC_MODULES = ["rtcc/metrics.py", "rtcc/ingest/metrics.py", "rtcc/wall/metrics.py",
                  "simulators/metrics.py", "rtcc/exposure/live_metrics.py"]
_DURATION = re.compile(r"^\d+(ms|s|m|h|d)$")
_SUFFIXES = {
    "Counter": ("_total", "_created"), "CounterMetricFamily": ("_total", "_created"),
    "Histogram": ("_bucket", "_sum", "_count", "_created"),
    "FrameHistogram": ("_bucket", "_sum", "_count"),  # rtcc.metrics: exported at scrape time
    "Gauge": ("",), "GaugeMetricFamily": ("",), "Enum": ("",), "Info": ("_info",),
    "Summary": ("_sum", "_count", "_created"),
}


def declared_metrics() -> dict[str, str]:
    """Metric family name -> kind, for every metric declared in rtcc's metric modules."""
    out: dict[str, str] = {}
    for rel in METRIC_MODULES:
        tree = ast.parse((ROOT / rel).read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and node.args:
                func = node.func
                kind = func.id if isinstance(func, ast.Name) else \
                    func.attr if isinstance(func, ast.Attribute) else ""
                first = node.args[0]
                if kind in _SUFFIXES and isinstance(first, ast.Constant) and \
                        isinstance(first.value, str) and first.value.startswith("rtcc_"):
                    name = first.value
                    if kind.startswith("Counter") and name.endswith("_total"):
                        name = name[:-len("_total")]  # prometheus_client adds it back
                    out[name] = kind
        # Families built in a loop from (name, doc, attr) tuples (the hub's per-camera ones).
        for node in ast.walk(tree):
            head = node.elts[0] if isinstance(node, ast.Tuple) and node.elts else None
            if isinstance(head, ast.Constant) and isinstance(head.value, str) \
                    and re.fullmatch(r"rtcc_[a-z0-9_]+", head.value) and head.value not in out:
                out[head.value] = "CounterMetricFamily"
    return out


def sample_names() -> set[str]:
    return {name + suffix for name, kind in declared_metrics().items()
            for suffix in _SUFFIXES[kind]}


def test_declared_metrics_cover_the_real_registries() -> None:
    """The static scan above misses nothing that rtcc's registries really export."""
    registry = new_registry()
    hub = HubMetrics(registry)
    hub.camera("cam-1").frames_in += 1
    hub.dropped("cam-1", "backpressure")
    ShardMetrics(registry)
    LoopLagMonitor(registry)
    live_registry = CollectorRegistry()
    LiveMetrics(live_registry)
    names = sample_names()
    real = {s.name for reg in (registry, live_registry) for fam in reg.collect()
            for s in fam.samples}
    real |= {fam.name for reg in (registry, live_registry) for fam in reg.collect()
             if not fam.samples and fam.type == "gauge"}
    missing = {n for n in real if n.startswith("rtcc_")} - names
    assert missing == set()
    assert {"rtcc_wall_frames_sent_total", "rtcc_sim_frames_total",
            "rtcc_hub_frames_dropped_total"} <= names


def _listen_port(svc: dict[str, Any], flag: str) -> int:
    command = svc["command"]
    return int(command[command.index(flag) + 1])


def test_prometheus_scrapes_every_rtcc_process() -> None:
    doc = yaml.safe_load(PROMETHEUS.read_text())
    for key in ("scrape_interval", "evaluation_interval"):
        assert _DURATION.match(doc["global"][key]), key
    jobs = {job["job_name"]: job for job in doc["scrape_configs"]}
    assert len(jobs) == len(doc["scrape_configs"]), "job names must be unique"
    svcs = services()
    expected = {"hub": ("--port", "/metrics"), "wall": ("--port", "/metrics"),
                "analyzer": ("--port", "/metrics"), "sim": ("--metrics-port", "/metrics")}
    for name, (flag, _path) in expected.items():
        job = jobs[name]
        (sd,) = job["dns_sd_configs"]
        assert sd["names"] == [name] and sd["type"] == "A", name
        assert name in svcs
        assert sd["port"] == _listen_port(svcs[name], flag), name
        assert job.get("metrics_path", "/metrics") == "/metrics"
    rtcc_services = {n for n, s in svcs.items()
                     if (s.get("command") or [""])[0] == "rtcc"}
    assert rtcc_services == set(expected), "a running rtcc process is not scraped"
    prom = svcs["prometheus"]
    assert "./deploy/prometheus/prometheus.yml:/etc/prometheus/prometheus.yml:ro" in \
        prom["volumes"]
    assert "--config.file=/etc/prometheus/prometheus.yml" in prom["command"]


def test_promtool_accepts_the_config(tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool not installed (Debian package `prometheus`); the structural "
                    "checks of test_prometheus_scrapes_every_rtcc_process still ran")
    done = subprocess.run([promtool, "check", "config", str(PROMETHEUS)], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    bad = tmp_path / "bad.yml"
    bad.write_text(PROMETHEUS.read_text().replace("type: A", "type: QQ", 1))
    assert subprocess.run([promtool, "check", "config", str(bad)], capture_output=True,
                          timeout=60).returncode != 0


def test_grafana_dashboard_uses_only_real_metrics() -> None:
    dash = json.loads(DASHBOARD.read_text())
    known = sample_names()
    exprs = [t["expr"] for p in dash["panels"] for t in p["targets"]]
    assert exprs
    used = {m for e in exprs for m in re.findall(r"\brtcc_[a-z0-9_]+", e)}
    # Label values inside {...} are not metrics.
    used -= {v for e in exprs for v in re.findall(r'"(rtcc_[a-z0-9_]+)"', e)}
    used -= {lab for e in exprs for lab in re.findall(r"\b(rtcc_[a-z0-9_]+)=", e)}
    assert used and used <= known, f"unknown metrics: {sorted(used - known)}"
    titles = " ".join(p["title"].lower() for p in dash["panels"])
    for topic in ("streams", "frames per second", "drops", "latency", "reconnects", "exposure"):
        assert topic in titles, topic
    prefixes = {m.split("_")[1] for m in used}
    assert {"hub", "wall", "sim", "exposure"} <= prefixes


def test_grafana_provisioning_matches_the_compose_file() -> None:
    datasources = yaml.safe_load(
        (GRAFANA / "provisioning" / "datasources" / "prometheus.yml").read_text())
    (source,) = datasources["datasources"]
    dash = json.loads(DASHBOARD.read_text())
    uids = {p["datasource"]["uid"] for p in dash["panels"]} | \
        {t["datasource"]["uid"] for p in dash["panels"] for t in p["targets"]}
    assert uids == {source["uid"]}
    svcs = services()
    assert source["url"] == "http://prometheus:9090"
    assert "127.0.0.1:9090:9090" in svcs["prometheus"]["ports"]
    providers = yaml.safe_load(
        (GRAFANA / "provisioning" / "dashboards" / "rtcc.yml").read_text())
    path = providers["providers"][0]["options"]["path"]
    mounts = dict(m.rsplit(":", 2)[:2] if m.count(":") == 2 else m.split(":", 1)
                  for m in svcs["grafana"]["volumes"])
    assert mounts["./deploy/grafana/dashboards"] == path
    assert mounts["./deploy/grafana/provisioning"] == "/etc/grafana/provisioning"
