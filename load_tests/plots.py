"""PNG plots of a load test (matplotlib, Agg): latency and CPU against cameras (ramp), the
recovery curve (faults), RSS and latency over time (soak). Every axis is labelled with its unit,
every figure has a title naming the run's machine load and a legend."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _subtitle(doc: dict[str, Any]) -> str:
    m, c = doc["machine"], doc["codec"]
    return (f"{c['size']} @ {c['fps']:g} fps, {doc['config']['protocol']}; {m['cpus']} cores, "
            f"load {m['load_start'][0]:.1f}-{m['load_end'][0]:.1f}")


def ramp_plots(doc: dict[str, Any], out: Path) -> list[Path]:
    plt = _plt()
    steps = doc["ramp"]["steps"]
    n = [s["cameras"] for s in steps]
    files = []
    fig, ax = plt.subplots(figsize=(8, 5))
    for key, style in (("p50", "o-"), ("p95", "s-"), ("p99", "^-")):
        ax.plot(n, [s["latency_ms"][key] for s in steps], style,
                label=f"capture->Redis {key}")
    wall = [((s.get("wall") or {}).get("latency_ms") or {}).get("p99") for s in steps]
    if any(w is not None for w in wall):
        ax.plot(n, wall, "d--", label="capture->wall viewer p99")
    ax.axhline(doc["slo"]["p99_ms"], color="red", linestyle=":",
               label=f"SLO p99 < {doc['slo']['p99_ms']:g} ms")
    knee = doc["ramp"]["knee"]
    if knee is not None:
        ax.axvline(knee, color="green", linestyle="--", label=f"knee: {knee} cameras")
    load = ax.twinx()
    load.bar(n, [s["load1"] for s in steps], width=(n[1] - n[0]) * 0.4 if len(n) > 1 else 0.4,
             color="grey", alpha=0.15, label="machine load average (1 min)")
    load.set_ylabel("load average, 1 min (other jobs share the machine)")
    load.set_zorder(ax.get_zorder() - 1)
    ax.patch.set_visible(False)
    ax.set_xlabel("cameras (streams)")
    ax.set_ylabel("latency (ms, log scale)")
    ax.set_yscale("log")
    ax.set_xticks(n)
    ax.set_title(f"Latency vs cameras\n{_subtitle(doc)}")
    ax.grid(True, which="both", alpha=0.3)
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = load.get_legend_handles_labels()
    ax.legend(h1 + h2, l1 + l2, fontsize=8)
    fig.tight_layout()
    files.append(out / "latency_vs_cameras.png")
    fig.savefig(files[-1], dpi=110)
    plt.close(fig)

    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(11, 4.5))
    for proc in ("hub", "sim", "redis", "viewers"):
        if proc in steps[0]["procs"]:
            ax.plot(n, [s["procs"].get(proc, {}).get("cores", 0.0) for s in steps], "o-",
                    label={"sim": "simulators"}.get(proc, proc))
    ax.set_xlabel("cameras (streams)")
    ax.set_ylabel("CPU (cores)")
    ax.set_xticks(n)
    ax.set_title("CPU per process vs cameras")
    ax.grid(True, alpha=0.3)
    ax.legend()
    ax2.plot(n, [s["hub_cpu_ms_per_stream_s"] for s in steps], "o-", color="C0",
             label="hub CPU per stream")
    ax2.set_xlabel("cameras (streams)")
    ax2.set_ylabel("hub CPU (ms per stream-second)")
    ax3 = ax2.twinx()
    ax3.plot(n, [s["procs"]["hub"]["rss_mb"] for s in steps], "s--", color="C1",
             label="hub RSS")
    ax3.set_ylabel("hub RSS (MB)")
    lines = ax2.get_legend_handles_labels()
    more = ax3.get_legend_handles_labels()
    ax2.legend(lines[0] + more[0], lines[1] + more[1], loc="upper center")
    ax2.set_title("Hub cost per stream and memory")
    ax2.grid(True, alpha=0.3)
    fig.suptitle(_subtitle(doc), fontsize=9)
    fig.tight_layout()
    files.append(out / "cpu_vs_cameras.png")
    fig.savefig(files[-1], dpi=110)
    plt.close(fig)
    return files


def faults_plot(doc: dict[str, Any], out: Path) -> list[Path]:
    plt = _plt()
    f = doc["faults"]
    pts = f["curve"]
    t = [p["t"] for p in pts]
    fig, ax = plt.subplots(figsize=(10, 5))
    ax.plot(t, [p["delivering"] for p in pts], "-", label="cameras delivering (frames in 1 s)")
    ax.plot(t, [p["live"] for p in pts], "--", label="cameras live (hub state)")
    ax.set_xlabel("time since the steady state (s)")
    ax.set_ylabel("cameras")
    ax.set_ylim(0, f["cameras"] * 1.05)
    ax2 = ax.twinx()
    for key, label, color in (("reconnects", "hub reconnect attempts/s", "C3"),
                              ("describes", "DESCRIBEs at simulators/s", "C4")):
        rate = [0.0] + [(b[key] - a[key]) / max(1e-3, b["t"] - a["t"])
                        for a, b in zip(pts, pts[1:], strict=False)]
        ax2.plot(t, rate, ":", color=color, label=label)
    ax2.axhline(f["budget"]["rate"], color="grey", linestyle="-.", linewidth=0.8,
                label=f"budget {f['budget']['rate']:g}/s")
    ax2.set_ylabel("connection attempts per second")
    names = {"kill": f"kill {f['killed']} cameras", "redis": "restart Redis",
             "hub": "restart hub"}
    for i, (key, ph) in enumerate(f["phases"].items()):
        ax.axvline(ph["fault_at"], color="red", linewidth=0.8)
        ax.text(ph["fault_at"], f["cameras"] * (0.9 - 0.07 * i), " " + names.get(key, key),
                fontsize=8, color="red")
        if ph["restored_at"] - ph["fault_at"] > 0.5:
            ax.axvspan(ph["fault_at"], ph["restored_at"], color="red", alpha=0.08)
    h1, l1 = ax.get_legend_handles_labels()
    h2, l2 = ax2.get_legend_handles_labels()
    ax.legend(h1 + h2, l1 + l2, loc="lower left", fontsize=8)
    ax.set_title(f"Fault recovery, {f['cameras']} cameras\n{_subtitle(doc)}")
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    path = out / "recovery.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return [path]


def soak_plot(doc: dict[str, Any], out: Path) -> list[Path]:
    plt = _plt()
    w = doc["soak"]["windows"]
    t = [x["t"] / 60 for x in w]
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(11, 4.5))
    for proc in ("hub", "sim", "redis"):
        ax.plot(t, [x["procs"][proc]["rss_mb"] for x in w], "o-",
                label={"sim": "simulators"}.get(proc, proc))
    ax.set_xlabel("time (min)")
    ax.set_ylabel("RSS (MB)")
    ax.set_title("Memory over the soak")
    ax.grid(True, alpha=0.3)
    top = max(x["procs"][p]["rss_mb"] for x in w for p in ("hub", "sim", "redis"))
    ax.set_ylim(0, top * 1.3)
    ax.legend(loc="upper center", ncol=3, fontsize=8)
    for key in ("p50", "p99"):
        ax2.plot(t, [x["latency_ms"][key] for x in w], "o-", label=f"capture->Redis {key}")
    ax2.set_xlabel("time (min)")
    ax2.set_ylabel("latency (ms)")
    ax2.set_title("Latency over the soak")
    ax2.grid(True, alpha=0.3)
    load = ax2.twinx()
    load.plot(t, [x["load1"] for x in w], ":", color="grey",
              label="machine load average (1 min)")
    load.set_ylabel("load average, 1 min (other jobs share the machine)")
    h1, l1 = ax2.get_legend_handles_labels()
    h2, l2 = load.get_legend_handles_labels()
    ax2.legend(h1 + h2, l1 + l2, loc="upper left", fontsize=8)
    fig.suptitle(f"Soak, {doc['soak']['cameras']} cameras; {_subtitle(doc)}", fontsize=9)
    fig.tight_layout()
    path = out / "soak.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return [path]


def draw(doc: dict[str, Any], out: Path) -> list[Path]:
    files: list[Path] = []
    if "ramp" in doc:
        files += ramp_plots(doc, out)
    if "faults" in doc:
        files += faults_plot(doc, out)
    if "soak" in doc and doc["soak"]["windows"]:
        files += soak_plot(doc, out)
    return files
