"""Overhead of the health reporter beside Debian's prometheus-node-exporter, in the same run.

For the reporter (every collector on except the sidecar probes and containers, which have nothing to
probe on a bench machine):
- CPU per full sample (every collector, fast and slow, plus checks, history, summary), in this process;
- CPU per fast sample (the fast-tier collectors plus checks, history, summary: what runs every 10 s);
- CPU per /metrics scrape of the running ``health-reporter`` (sampler parked: a scrape only renders the
  cached snapshot), from the process's own CPU counters; and scrape + one fast sample, the comparison
  with node_exporter (which collects on every scrape) that the CPU target is judged on, with scrape +
  one full sample and the cost per 15 s scrape interval at the default cadence (1.5 fast samples and a
  quarter of a slow-tier run per scrape) beside it;
- PSS (sum of /proc/<pid>/smaps_rollup over the process tree) idle and after ``--scrapes`` scrapes;
- idle CPU at the default cadence (10 s fast, 60 s slow) over ``--idle-seconds``;
and for ``/usr/bin/prometheus-node-exporter`` (default collectors) CPU per scrape and PSS idle and after
the same number of scrapes. Run from the repository root: ``.venv/bin/python bench/health_bench.py``.
Writes bench/results/health_bench.json and .png.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

import psutil
import requests

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from health_reporter.config import Config  # noqa: E402
from health_reporter.sampler import sampler_from_config  # noqa: E402

from tests.health.helpers import free_port, http_ok, stop_process, wait_until  # noqa: E402

RESULTS = REPO_ROOT / "bench" / "results"
CONSOLE_SCRIPT = Path(sys.executable).parent / "health-reporter"
NODE_EXPORTER = "/usr/bin/prometheus-node-exporter"
QUIET = {"HEALTH_TELEMETRY": "0", "HEALTH_WIFI_CONNECT_URL": "off", "HEALTH_LOG_AGENT_URL": "off"}
BUDGET_MIB = 25.0


def tree(pid: int) -> list[psutil.Process]:
    parent = psutil.Process(pid)
    return [parent, *parent.children(recursive=True)]


def cpu_seconds(processes: list[psutil.Process]) -> float:
    return sum(sum(p.cpu_times()[:2]) for p in processes)  # user + system


def pss_mib(processes: list[psutil.Process]) -> float:
    """Proportional set size of the whole tree, from each process's smaps_rollup."""
    total_kib = 0
    for process in processes:
        with open(f"/proc/{process.pid}/smaps_rollup") as rollup:
            total_kib += next(int(line.split()[1]) for line in rollup if line.startswith("Pss:"))
    return round(total_kib / 1024, 1)


def sample_cost(samples: int) -> dict[str, float]:
    """CPU per full sample in this process (the sampler thread does exactly this work)."""
    sampler = sampler_from_config(Config.from_env(QUIET))
    for _ in range(3):
        sampler.run_once()  # warm up: first CPU baseline, imports, caches
    full, fast = [], []
    for _ in range(samples):
        started = time.process_time()
        sampler.run_once(include_slow=True)
        full.append(time.process_time() - started)
    for _ in range(samples):
        started = time.process_time()
        sampler.run_once(include_slow=False)
        fast.append(time.process_time() - started)
    return {
        "samples": samples,
        "full_sample_cpu_ms_median": round(statistics.median(full) * 1000, 2),
        "full_sample_cpu_ms_p90": round(statistics.quantiles(full, n=10)[-1] * 1000, 2),
        "fast_sample_cpu_ms_median": round(statistics.median(fast) * 1000, 2),
        "series": len(sampler.snapshot.samples),
    }


def scrape_cost(url: str, pid: int, scrapes: int) -> dict[str, object]:
    processes = tree(pid)
    time.sleep(1)
    idle_pss = pss_mib(processes)
    with requests.Session() as session:
        body = session.get(url, timeout=10).content  # warm up
        before = cpu_seconds(processes)
        started = time.perf_counter()
        for _ in range(scrapes):
            session.get(url, timeout=10).raise_for_status()
        wall = time.perf_counter() - started
        used = cpu_seconds(processes) - before
    return {
        "scrapes": scrapes,
        "scrape_cpu_ms": round(used / scrapes * 1000, 3),
        "scrape_wall_ms": round(wall / scrapes * 1000, 2),
        "scrape_bytes": len(body),
        "series": sum(1 for line in body.decode().splitlines() if line and not line.startswith("#")),
        "pss_mib_idle": idle_pss,
        "pss_mib_after_scrapes": pss_mib(processes),
        "processes": len(processes),
    }


def start(command: list[str], env: dict[str, str], ready_url: str, log: Path) -> subprocess.Popen:
    with log.open("wb") as out:
        process = subprocess.Popen(command, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT)
    wait_until(lambda: http_ok(ready_url), 30, f"{command[0]} ready")
    return process


def reporter_run(scrapes: int, idle_seconds: float) -> dict[str, object]:
    port = free_port()
    env = {"HEALTH_LISTEN": f"127.0.0.1:{port}", **QUIET}
    # Sampler parked (1 h) while scraping: the figure is the cost of serving, not of sampling.
    parked = {**env, "HEALTH_FAST_INTERVAL": "3600", "HEALTH_SLOW_INTERVAL": "3600"}
    url = f"http://127.0.0.1:{port}"
    log = RESULTS / "health_bench_reporter.tmp"
    process = start([str(CONSOLE_SCRIPT)], parked, url + "/readyz", log)
    try:
        result = scrape_cost(url + "/metrics", process.pid, scrapes)
    finally:
        stop_process(process)
    process = start([str(CONSOLE_SCRIPT)], env, url + "/readyz", log)
    try:
        processes = tree(process.pid)
        time.sleep(2)  # past start-up
        before = cpu_seconds(processes)
        time.sleep(idle_seconds)
        result["idle_cpu_percent_default_cadence"] = round(
            (cpu_seconds(processes) - before) / idle_seconds * 100, 3
        )
        result["pss_mib_sampling_idle"] = pss_mib(processes)
    finally:
        stop_process(process)
    return result


def node_exporter_run(scrapes: int) -> dict[str, object]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [NODE_EXPORTER, f"--web.listen-address=127.0.0.1:{port}"]
    process = start(command, {}, url + "/metrics", RESULTS / "health_bench_node_exporter.tmp")
    try:
        return scrape_cost(url + "/metrics", process.pid, scrapes)
    finally:
        stop_process(process)


def version(command: list[str]) -> str:
    result = subprocess.run(command, capture_output=True, text=True, timeout=10)
    return (result.stdout or result.stderr).splitlines()[0]


def plot(results: dict[str, object], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    reporter, node = results["reporter"], results["node_exporter"]
    figure, (cpu_axis, pss_axis) = plt.subplots(1, 2, figsize=(10, 3.8))
    labels = [
        "reporter\n/metrics",
        "reporter\n+ fast sample",
        "reporter\n+ full sample",
        "node_exporter\n/metrics",
    ]
    values = [
        reporter["scrape_cpu_ms"],
        reporter["scrape_plus_fast_sample_cpu_ms"],
        reporter["scrape_plus_full_sample_cpu_ms"],
        node["scrape_cpu_ms"],
    ]
    cpu_axis.bar(labels, values, color=["#8ab4f8", "#1a73e8", "#174ea6", "#e37400"])
    cpu_axis.axhline(
        0.5 * node["scrape_cpu_ms"], color="#b3261e", linestyle="--", linewidth=1, label="target 0.5x"
    )
    cpu_axis.legend(fontsize=8)
    cpu_axis.tick_params(axis="x", labelsize=8)
    cpu_axis.set_ylabel("CPU ms")
    cpu_axis.set_title(f"CPU per scrape ({reporter['scrapes']} scrapes, {reporter['samples']} samples)")
    groups = ["idle", f"after {reporter['scrapes']} scrapes"]
    width = 0.38
    positions = range(len(groups))
    for offset, values, name, colour in (
        (-width / 2, reporter, "health-reporter", "#1a73e8"),
        (width / 2, node, "node_exporter", "#e37400"),
    ):
        heights = [values["pss_mib_idle"], values["pss_mib_after_scrapes"]]
        pss_axis.bar([p + offset for p in positions], heights, width, label=name, color=colour)
    pss_axis.axhline(
        BUDGET_MIB, color="#b3261e", linestyle="--", linewidth=1, label=f"budget {BUDGET_MIB:g} MiB"
    )
    pss_axis.set_xticks(list(positions), groups)
    pss_axis.set_ylabel("MiB")
    pss_axis.set_title("PSS, whole process tree")
    pss_axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=50)
    parser.add_argument("--scrapes", type=int, default=1000)
    parser.add_argument("--idle-seconds", type=float, default=60.0)
    args = parser.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    reporter = {**sample_cost(args.samples), **reporter_run(args.scrapes, args.idle_seconds)}
    scrape, fast, full = (
        reporter["scrape_cpu_ms"],
        reporter["fast_sample_cpu_ms_median"],
        reporter["full_sample_cpu_ms_median"],
    )
    reporter["scrape_plus_fast_sample_cpu_ms"] = round(scrape + fast, 3)
    reporter["scrape_plus_full_sample_cpu_ms"] = round(scrape + full, 3)
    # A 15 s Prometheus scrape interval against the default 10 s / 60 s cadence: per scrape, 1.5 fast
    # samples and a quarter of the slow tier's extra cost.
    reporter["per_15s_scrape_at_default_cadence_cpu_ms"] = round(scrape + 1.5 * fast + (full - fast) / 4, 3)
    node = node_exporter_run(args.scrapes)
    results = {
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
        },
        "node_exporter_version": version([NODE_EXPORTER, "--version"]),
        "reporter": reporter,
        "node_exporter": node,
        "ratios": {
            "scrape_cpu_vs_node_exporter": round(reporter["scrape_cpu_ms"] / node["scrape_cpu_ms"], 3),
            "scrape_plus_fast_sample_cpu_vs_node_exporter": round(
                reporter["scrape_plus_fast_sample_cpu_ms"] / node["scrape_cpu_ms"], 3
            ),
            "scrape_plus_full_sample_cpu_vs_node_exporter": round(
                reporter["scrape_plus_full_sample_cpu_ms"] / node["scrape_cpu_ms"], 3
            ),
            "per_15s_scrape_at_default_cadence_vs_node_exporter": round(
                reporter["per_15s_scrape_at_default_cadence_cpu_ms"] / node["scrape_cpu_ms"], 3
            ),
        },
        "targets": {
            "pss_mib_at_most": BUDGET_MIB,
            "pss_met": max(reporter["pss_mib_idle"], reporter["pss_mib_after_scrapes"]) <= BUDGET_MIB,
            "cpu_ratio_at_most": 0.5,
            "cpu_judged_on": "scrape_plus_fast_sample_cpu_ms",
            "cpu_met": reporter["scrape_plus_fast_sample_cpu_ms"] <= 0.5 * node["scrape_cpu_ms"],
        },
    }
    (RESULTS / "health_bench.json").write_text(json.dumps(results, indent=2) + "\n")
    plot(results, RESULTS / "health_bench.png")
    for leftover in RESULTS.glob("health_bench_*.tmp"):
        leftover.unlink()
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
