"""How often an idle, connected wifi-connect runs nmcli, and how fast it notices a loss.

The real daemon runs in a devrig "device" namespace over the simulated NetworkManager, online over a
simulated Ethernet device, with every nmcli it starts counted by a shim on ``PATH`` (first two words
only). Variants, in the same run:

* **polling (before issue 7)**: ``CHECK_INTERVAL=5`` and a monitor that never reports (the shim turns
  ``nmcli monitor`` into a silent process) make the daemon do what it did before: every 5 s ``nmcli
  networking connectivity check`` (NM probes the internet each time) and a read of the active network;
* **events, gdbus monitor** and **events, nmcli monitor**: the defaults (``CHECK_INTERVAL=300``, a safety
  net), with NM's events from the one monitor child (the gdbus one is used when ``gdbus`` is on PATH;
  the nmcli one is forced by shadowing gdbus with a program that does not exist).

For each: nmcli runs during ``--idle`` seconds (default 60) once started, the monitor child's PSS, and the
seconds from NM's verdict turning to "none" to ``GET /status`` saying offline. Needs root. Run from the
repository root: ``.venv/bin/python bench/wifi_nm_events.py [--idle 60]``. Writes
``bench/results/wifi_nm_events.json`` and ``.png``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))  # devrig is the repository's simulated device, not an installed package

from devrig.netns import NetnsPair  # noqa: E402
from devrig.nm import SimulatedNetworkManager  # noqa: E402

WIFI_CONNECT = str(Path(sys.executable).with_name("wifi-connect"))
RESULTS = REPO_ROOT / "bench" / "results" / "wifi_nm_events.json"
CONTROL = "http://127.0.0.1:8081"
VARIANTS = {
    "polling (before issue 7)": {"CHECK_INTERVAL": "5", "_no_gdbus": "1", "_deaf_monitor": "1"},
    "events, gdbus monitor": {},
    "events, nmcli monitor": {"_no_gdbus": "1"},
}


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


def run_variant(name: str, settings: dict[str, str], idle: float, work: Path) -> dict:
    bin_dir = work / name.replace(" ", "_").replace("(", "").replace(")", "")
    bin_dir.mkdir()
    calls = bin_dir / "calls.log"
    deaf = '[ "$1" = monitor ] && exec sleep 100000\n' if settings.get("_deaf_monitor") else ""
    (bin_dir / "nmcli").write_text(f'#!/bin/sh\n{deaf}echo "$1 $2" >> {calls}\nexec /usr/bin/nmcli "$@"\n')
    (bin_dir / "nmcli").chmod(0o755)
    path = f"{bin_dir}:{os.environ['PATH']}"
    if settings.get("_no_gdbus"):  # a PATH without gdbus: the shim and links to the few programs needed
        for program in ("ip", "dbus-send", "dnsmasq", "sleep"):
            found = shutil.which(program)
            if found:
                (bin_dir / program).symlink_to(found)
        path = str(bin_dir)
    with SimulatedNetworkManager() as sim, NetnsPair() as pair:
        sim.add_ethernet_device("eth0", connected=True)
        sim.set_connectivity("full")
        env = {**sim.env, "PATH": path, "CONTROL_ADDRESS": "127.0.0.1:8081",
               "LOST_CONNECTION_TOLERANCE": "600", "WIFI_CONNECT_SOCKET": str(bin_dir / "daemon.sock"),
               **{k: v for k, v in settings.items() if not k.startswith("_")}}
        process = pair.popen(pair.device, [WIFI_CONNECT], env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        try:
            wait_for(pair, lambda s: s.get("state") == "connected")
            time.sleep(2)  # start-up calls done
            before = len(calls.read_text().splitlines())
            time.sleep(idle)
            idle_calls = calls.read_text().splitlines()[before:]
            children = psutil.Process(process.pid).children(recursive=True)
            monitors = [(" ".join(c.cmdline()), pss_kib(c.pid)) for c in children
                        if " monitor" in " ".join(c.cmdline())]
            sim.set_connectivity("none")
            noticed = wait_for(pair, lambda s: s.get("online") is False)
        finally:
            process.terminate()
            process.wait(timeout=30)
    return {
        "nmcli_runs_while_idle": len(idle_calls),
        "nmcli_runs_per_day": round(len(idle_calls) * 86400 / idle),
        "kinds": sorted(set(idle_calls)),
        "monitor": monitors[0][0] if monitors else None,
        "monitor_pss_kib": monitors[0][1] if monitors else 0,
        "loss_noticed_s": round(noticed, 3),
    }


def plot(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(result["variants"])
    runs = [result["variants"][n]["nmcli_runs_while_idle"] for n in names]
    noticed = [result["variants"][n]["loss_noticed_s"] for n in names]
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    left.bar_label(left.bar(names, runs), fmt="%d")
    left.set_ylabel(f"nmcli runs in {result['idle_s']:g} s idle, connected")
    right.bar_label(right.bar(names, noticed), fmt="%.2f")
    right.set_ylabel("seconds until a loss shows in GET /status")
    for axes in (left, right):
        axes.tick_params(axis="x", labelsize=8, rotation=10)
    figure.suptitle("wifi-connect: NetworkManager's events instead of polling (simulated device)")
    figure.tight_layout()
    figure.savefig(path, dpi=100)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--idle", type=float, default=60.0, help="idle seconds counted per variant")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="wc-events-") as work:
        variants = {name: run_variant(name, settings, args.idle, Path(work))
                    for name, settings in VARIANTS.items()}
    result = {"benchmark": __doc__.split("\n", 1)[0], "idle_s": args.idle, "variants": variants}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    plot(result, RESULTS.with_suffix(".png"))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
