"""Overhead of the health reporter beside Debian's prometheus-node-exporter on the same machine.

Measures, for the reporter:
- CPU time per full sample (every collector, fast and slow, plus checks, history, summary), in process;
- CPU time per /metrics scrape of the running ``health-reporter`` (gunicorn, sampler idle during the run:
  a scrape only renders the cached snapshot), from the processes' own CPU counters;
- RSS of the gunicorn master and worker;
- idle CPU at the default cadence (10 s fast, 60 s slow) over ``--idle-seconds``;
and for ``/usr/bin/prometheus-node-exporter`` (default collectors; it collects on every scrape) CPU per
scrape and RSS. Run from the repository root: ``.venv/bin/python bench/health_bench.py``.
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
QUIET_SIDECARS = {"HEALTH_COLLECTORS_DISABLED": "sidecars,containers"}  # nothing to probe on a bench box


def cpu_seconds(processes: list[psutil.Process]) -> float:
    return sum(sum(p.cpu_times()[:2]) for p in processes)  # user + system


def tree(pid: int) -> list[psutil.Process]:
    parent = psutil.Process(pid)
    return [parent, *parent.children(recursive=True)]


def rss_mib(processes: list[psutil.Process]) -> list[float]:
    return [round(p.memory_info().rss / 2**20, 1) for p in processes]


def sample_cost(samples: int) -> dict[str, float]:
    """CPU per full sample in this process (the sampler thread does exactly this work)."""
    sampler = sampler_from_config(Config.from_env({"HEALTH_TELEMETRY": "0", **QUIET_SIDECARS}))
    for _ in range(3):
        sampler.run_once()  # warm up: first CPU baseline, imports, caches
    costs = []
    for _ in range(samples):
        started = time.process_time()
        sampler.run_once(include_slow=True)
        costs.append(time.process_time() - started)
    fast = []
    for _ in range(samples):
        started = time.process_time()
        sampler.run_once(include_slow=False)
        fast.append(time.process_time() - started)
    return {
        "full_sample_cpu_ms_median": round(statistics.median(costs) * 1000, 2),
        "full_sample_cpu_ms_p90": round(statistics.quantiles(costs, n=10)[-1] * 1000, 2),
        "fast_sample_cpu_ms_median": round(statistics.median(fast) * 1000, 2),
        "series": len(sampler.snapshot.samples),
    }


def scrape_cost(url: str, pid: int, scrapes: int) -> dict[str, float]:
    processes = tree(pid)
    with requests.Session() as session:
        body = session.get(url, timeout=10).content  # warm up
        before = cpu_seconds(processes)
        started = time.perf_counter()
        for _ in range(scrapes):
            session.get(url, timeout=10).raise_for_status()
        wall = time.perf_counter() - started
        used = cpu_seconds(processes) - before
    return {
        "scrape_cpu_ms": round(used / scrapes * 1000, 2),
        "scrape_wall_ms": round(wall / scrapes * 1000, 2),
        "scrape_bytes": len(body),
        "series": sum(1 for line in body.decode().splitlines() if line and not line.startswith("#")),
        "rss_mib": rss_mib(processes),
        "rss_mib_total": round(sum(rss_mib(processes)), 1),
    }


def start(command: list[str], env: dict[str, str], ready_url: str, log: Path) -> subprocess.Popen:
    with log.open("wb") as out:
        process = subprocess.Popen(command, env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT)
    wait_until(lambda: http_ok(ready_url), 30, f"{command[0]} ready")
    return process


def reporter_run(scrapes: int, idle_seconds: float) -> dict[str, object]:
    port = free_port()
    env = {"HEALTH_LISTEN": f"127.0.0.1:{port}", "HEALTH_TELEMETRY": "0", **QUIET_SIDECARS}
    # Sampler parked (1 h) while scraping: the figure is the cost of serving, not of sampling.
    parked = {**env, "HEALTH_FAST_INTERVAL": "3600", "HEALTH_SLOW_INTERVAL": "3600"}
    url = f"http://127.0.0.1:{port}"
    process = start([str(CONSOLE_SCRIPT)], parked, url + "/readyz", RESULTS / "health_bench_reporter.tmp")
    try:
        result = scrape_cost(url + "/metrics", process.pid, scrapes)
    finally:
        stop_process(process)
    process = start([str(CONSOLE_SCRIPT)], env, url + "/readyz", RESULTS / "health_bench_reporter.tmp")
    try:
        processes = tree(process.pid)
        time.sleep(2)  # past start-up
        before = cpu_seconds(processes)
        time.sleep(idle_seconds)
        idle_percent = (cpu_seconds(processes) - before) / idle_seconds * 100
        result["idle_cpu_percent_default_cadence"] = round(idle_percent, 3)
        result["rss_mib_after_idle"] = rss_mib(processes)
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
    figure, (cpu_axis, rss_axis) = plt.subplots(1, 2, figsize=(9, 3.6))
    labels = ["reporter\nfull sample", "reporter\n/metrics", "node_exporter\n/metrics"]
    values = [reporter["full_sample_cpu_ms_median"], reporter["scrape_cpu_ms"], node["scrape_cpu_ms"]]
    cpu_axis.bar(labels, values, color=["#1a73e8", "#8ab4f8", "#e37400"])
    cpu_axis.set_ylabel("CPU ms")
    cpu_axis.set_title("CPU time per operation")
    rss = [reporter["rss_mib_total"], node["rss_mib_total"]]
    rss_axis.bar(["reporter\n(master+worker)", "node_exporter"], rss, color=["#1a73e8", "#e37400"])
    rss_axis.set_ylabel("MiB")
    rss_axis.set_title("Resident memory")
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=50)
    parser.add_argument("--scrapes", type=int, default=200)
    parser.add_argument("--idle-seconds", type=float, default=60.0)
    args = parser.parse_args()
    RESULTS.mkdir(parents=True, exist_ok=True)
    reporter = {**sample_cost(args.samples), **reporter_run(args.scrapes, args.idle_seconds)}
    results = {
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
        },
        "node_exporter_version": version([NODE_EXPORTER, "--version"]),
        "samples": args.samples,
        "scrapes": args.scrapes,
        "reporter": reporter,
        "node_exporter": node_exporter_run(args.scrapes),
    }
    (RESULTS / "health_bench.json").write_text(json.dumps(results, indent=2) + "\n")
    plot(results, RESULTS / "health_bench.png")
    for leftover in RESULTS.glob("health_bench_*.tmp"):
        leftover.unlink()
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
