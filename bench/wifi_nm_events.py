"""How often an idle, connected wifi-connect runs nmcli, how fast it notices a loss, and its daemon's PSS.

The real daemon runs in a devrig "device" namespace over the simulated NetworkManager, online over a
simulated Ethernet device, with every nmcli it starts counted by a shim on ``PATH`` (first two words
only). Variants, in the same run:

* **polling (before issue 7)**: the implementation before issue 7 (commit ``--before``, checked out into a
  temporary ``git worktree`` and run with ``PYTHONPATH`` on it), with its defaults: every
  ``CHECK_INTERVAL`` (5 s) ``nmcli networking connectivity check`` (NM probes the internet each time)
  and a read of the active network. Its control API is a Flask app: Flask is installed into the work
  directory for that run when the venv lacks it (the project no longer depends on it);
* **events (D-Bus in the daemon)**: this checkout with its defaults (``CHECK_INTERVAL=300``, a safety
  net): NM's signals reach a thread of the daemon (``adapters/nm_monitor.py``, jeepney), no child.

For each: nmcli runs during ``--idle`` seconds (default 60) once started, the daemon process's PSS (the
old one's gunicorn children are listed, not summed), and the seconds from NM's verdict turning to "none"
to ``GET /status`` saying offline. Needs root. Run from the repository root:
``.venv/bin/python bench/wifi_nm_events.py [--idle 60]``. Writes ``bench/results/wifi_nm_events.json``
and ``.png``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))  # devrig is the repository's simulated device, not an installed package

from bench.before_issue7 import BEFORE_COMMIT, checkout, pythonpath  # noqa: E402
from devrig.netns import NetnsPair  # noqa: E402
from devrig.nm import SimulatedNetworkManager  # noqa: E402

RESULTS = REPO_ROOT / "bench" / "results" / "wifi_nm_events.json"
CONTROL = "http://127.0.0.1:8081"
POLLING = "polling (before issue 7)"
EVENTS = "events (D-Bus in the daemon)"


def pss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as rollup:
            return next(int(line.split()[1]) for line in rollup if line.startswith("Pss:"))
    except (OSError, StopIteration):
        return 0


def status(pair: NetnsPair) -> dict:
    done = pair.run(pair.device, ["curl", "-s", "-m", "2", f"{CONTROL}/status"], timeout=5)
    try:
        return json.loads(done.stdout)
    except json.JSONDecodeError:
        return {}


def wait_for(pair: NetnsPair, predicate, timeout: float = 30.0) -> float:
    began = time.monotonic()
    while time.monotonic() - began < timeout:
        if predicate(status(pair)):
            return time.monotonic() - began
        time.sleep(0.02)
    raise TimeoutError("the daemon did not get there")


def run_variant(name: str, source: Path, idle: float, work: Path) -> dict:
    """The daemon of ``source`` (a checkout) online over Ethernet: idle, then the internet goes away."""
    bin_dir = work / name.split()[0]
    bin_dir.mkdir()
    calls = bin_dir / "calls.log"
    (bin_dir / "nmcli").write_text(f'#!/bin/sh\necho "$1 $2" >> {calls}\nexec /usr/bin/nmcli "$@"\n')
    (bin_dir / "nmcli").chmod(0o755)
    with SimulatedNetworkManager() as sim, NetnsPair() as pair:
        sim.add_ethernet_device("eth0", connected=True)
        sim.set_connectivity("full")
        env = {**sim.env, "PATH": f"{bin_dir}:{os.environ['PATH']}", "PYTHONPATH": pythonpath(source, work),
               "CONTROL_ADDRESS": "127.0.0.1:8081", "LOST_CONNECTION_TOLERANCE": "600",
               "WIFI_CONNECT_SOCKET": str(bin_dir / "daemon.sock")}
        with (bin_dir / "daemon.log").open("wb") as log:
            process = pair.popen(pair.device, [sys.executable, "-m", "wifi_connect"], env=env, cwd=bin_dir,
                                 stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_for(pair, lambda s: s.get("state") == "connected")
            time.sleep(2)  # start-up calls done
            before = len(calls.read_text().splitlines())
            time.sleep(idle)
            idle_calls = calls.read_text().splitlines()[before:]
            daemon_pss = pss_kib(process.pid)
            descendants = psutil.Process(process.pid).children(recursive=True)
            children = [" ".join(c.cmdline())[:80] for c in descendants]
            sim.set_connectivity("none")
            noticed = wait_for(pair, lambda s: s.get("online") is False)
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
    return {
        "nmcli_runs_while_idle": len(idle_calls),
        "nmcli_runs_per_day": round(len(idle_calls) * 86400 / idle),
        "kinds": sorted(set(idle_calls)),
        "daemon_pss_kib": daemon_pss,
        "children": children,
        "loss_noticed_s": round(noticed, 3),
    }


def plot(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(result["variants"])
    rows = [result["variants"][n] for n in names]
    panels = [
        ([r["nmcli_runs_while_idle"] for r in rows], "%d", f"nmcli runs in {result['idle_s']:g} s idle"),
        ([r["loss_noticed_s"] for r in rows], "%.2f", "seconds until a loss shows in GET /status"),
        ([r["daemon_pss_kib"] / 1024 for r in rows], "%.1f", "daemon process PSS (MiB)"),
    ]
    figure, axes = plt.subplots(1, len(panels), figsize=(13, 4))
    for panel, (values, fmt, label) in zip(axes, panels, strict=True):
        panel.bar_label(panel.bar(names, values), fmt=fmt)
        panel.set_ylabel(label)
        panel.tick_params(axis="x", labelsize=8, rotation=10)
    figure.suptitle("wifi-connect: NetworkManager's events instead of polling (simulated device)")
    figure.tight_layout()
    figure.savefig(path, dpi=100)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--idle", type=float, default=60.0, help="idle seconds counted per variant")
    parser.add_argument("--before", default=BEFORE_COMMIT, help="the polling implementation's commit")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="wc-events-") as work_dir, checkout(args.before) as before:
        work = Path(work_dir)
        variants = {
            POLLING: run_variant(POLLING, before, args.idle, work),
            EVENTS: run_variant(EVENTS, REPO_ROOT, args.idle, work),
        }
    result = {"benchmark": __doc__.split("\n", 1)[0], "idle_s": args.idle, "before": args.before,
              "python": sys.version.split()[0], "variants": variants}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    plot(result, RESULTS.with_suffix(".png"))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
