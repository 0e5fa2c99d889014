"""PSS of wifi-connect's whole process tree on the simulated device, with the portal up and once connected.

The real daemon runs in a devrig "device" namespace over the simulated NetworkManager (as in
``tests/wifi_connect/test_wifi_daemon.py``). State 1, **portal**: the portal is up and a phone (the
"phone" namespace) took a lease and loaded the page, so the worker has served requests. State 2,
**connected**: the phone joined the device to its network through the portal. In each state, after a
short settle, we sum ``Pss`` from ``/proc/<pid>/smaps_rollup`` over the daemon and every descendant
(the portal's gunicorn worker, dnsmasq and its guard), and keep the per-process rows. PSS splits a
shared library's pages among every process on this machine that maps it, so it drops when other Python
processes run; ``unique_mib`` is the stricter figure, every page the tree maps counted once (what the
service costs in a container whose files nothing else maps), from ``/proc/<pid>/pagemap``.

Variants: ``PORTAL_SERVER=gunicorn`` (the default) and ``PORTAL_SERVER=in-process``. The same run
measures the implementation before issue 7 (commit ``--before``, checked out into a
temporary worktree: Flask apps under two gunicorn gthread servers started with exec) as the baseline.
The targets (issue 7) are for PSS: 40 MiB with the portal up, 25 MiB connected.
balena's wifi-connect (one Rust process) cannot run on the simulated device; its figure is not measured.
Needs root. Run from the repository root: ``.venv/bin/python bench/wifi_memory.py``. Writes
``bench/results/wifi_memory.json`` and ``.png``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psutil

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))  # devrig is the repository's simulated device, not an installed package

from bench.before_issue7 import BEFORE_COMMIT, checkout, pythonpath  # noqa: E402
from devrig.netns import NetnsPair  # noqa: E402
from devrig.nm import SimulatedNetworkManager  # noqa: E402

RESULTS = REPO_ROOT / "bench" / "results" / "wifi_memory"
SSID, PASSWORD = "HomeNet", "correct horse battery"
CONTROL = "http://127.0.0.1:8081"
TARGETS_MIB = {"portal": 40.0, "connected": 25.0}
SETTLE_SECONDS = 3.0
PAGE = os.sysconf("SC_PAGE_SIZE")


def pss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/smaps_rollup") as rollup:
        for line in rollup:
            if line.startswith("Pss:"):
                return int(line.split()[1])
    return 0


def resident_frames(pid: int) -> set[int]:
    """The physical page frames ``pid`` has resident (``/proc/<pid>/pagemap``, root only)."""
    frames = set()
    with open(f"/proc/{pid}/maps") as maps, open(f"/proc/{pid}/pagemap", "rb") as pagemap:
        for line in maps:
            if line.rstrip().endswith("[vsyscall]"):
                continue
            low, high = (int(edge, 16) for edge in line.split()[0].split("-"))
            pagemap.seek(low // PAGE * 8)
            for (entry,) in struct.iter_unpack("<Q", pagemap.read((high - low) // PAGE * 8)):
                if entry >> 63:  # present
                    frames.add(entry & ((1 << 55) - 1))
    return frames


def unique_mib(pids: list[int]) -> float:
    """Every page the tree maps, counted once: what it costs where nothing else shares its files (a
    container on the device), while PSS splits a library's pages with every process on this machine."""
    frames: set[int] = set()
    for pid in pids:
        with contextlib.suppress(OSError):
            frames |= resident_frames(pid)
    return round(len(frames) * PAGE / 2**20, 1)


def tree_rows(root: int) -> list[dict]:
    """Every process of the service (the daemon and its descendants) with its PSS."""
    daemon = psutil.Process(root)
    rows = []
    for process in [daemon, *daemon.children(recursive=True)]:
        with contextlib.suppress(psutil.Error, FileNotFoundError, ProcessLookupError):
            command = " ".join(process.cmdline())[:80]
            rows.append({"pid": process.pid, "ppid": process.ppid(), "command": command,
                         "pss_kib": pss_kib(process.pid)})
    return rows


def curl(pair: NetnsPair, namespace: str, url: str, *args: str) -> tuple[int, str]:
    done = pair.run(namespace, ["curl", "-s", "-m", "5", "-w", "\n%{http_code}", *args, url], timeout=10)
    body, _, code = done.stdout.rpartition("\n")
    return int(code or 0), body


def wait_for_state(pair: NetnsPair, process: subprocess.Popen, state: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the daemon exited with {process.returncode}")
        code, body = curl(pair, pair.device, f"{CONTROL}/status")
        if code == 200 and json.loads(body).get("state") == state:
            return
        time.sleep(0.2)
    raise TimeoutError(f"the daemon did not reach {state!r}")


@contextlib.contextmanager
def running_daemon(variant: str, source: Path, log_dir: Path,
                   extra: dict[str, str]) -> Iterator[tuple[NetnsPair, subprocess.Popen]]:
    """The daemon of ``source`` (a checkout) in a fresh device namespace over a fresh simulator."""
    with SimulatedNetworkManager() as sim, NetnsPair() as pair:
        sim.add_network(SSID, "wpa-psk", PASSWORD, signal=80)
        env = {**sim.env, "PYTHONPATH": pythonpath(source, log_dir),
               "GRACE_PERIOD": "0.5", "CONNECT_TIMEOUT": "8", "RETRY_INTERVAL": "0",
               "CONTROL_ADDRESS": "127.0.0.1:8081", "WIFI_CONNECT_SOCKET": str(log_dir / f"{variant}.sock"),
               **extra}
        with (log_dir / f"{variant}.log").open("wb") as log:
            process = pair.popen(pair.device, [sys.executable, "-m", "wifi_connect"], env=env, cwd=log_dir,
                                 stdout=log, stderr=subprocess.STDOUT)
        try:
            yield pair, process
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


def measure(variant: str, source: Path, log_dir: Path, **extra: str) -> dict:
    with running_daemon(variant, source, log_dir, extra) as (pair, process):
        wait_for_state(pair, process, "portal")
        pair.dhcp_lease()
        for path in ("/", "/static/app.css", "/static/app.js", "/networks", "/status"):
            assert curl(pair, pair.phone, f"http://{pair.gateway}{path}")[0] == 200, path
        time.sleep(SETTLE_SECONDS)
        portal = tree_rows(process.pid)
        portal_unique = unique_mib([row["pid"] for row in portal])
        body = json.dumps({"ssid": SSID, "passphrase": PASSWORD})
        code, _ = curl(pair, pair.phone, f"http://{pair.gateway}/connect", "-H",
                       "Content-Type: application/json", "--data-binary", body)
        assert code == 202, code
        wait_for_state(pair, process, "connected")
        time.sleep(SETTLE_SECONDS)
        connected = tree_rows(process.pid)
        connected_unique = unique_mib([row["pid"] for row in connected])
    return {state: {"pss_mib": round(sum(r["pss_kib"] for r in rows) / 1024, 1), "unique_mib": unique,
                    "processes": rows}
            for state, rows, unique in (("portal", portal, portal_unique),
                                        ("connected", connected, connected_unique))}


def median(runs: list[dict]) -> dict:
    """Per state, the run with the median PSS (its process rows), with every run's figures alongside."""
    result = {}
    for state in ("portal", "connected"):
        ordered = sorted((run[state] for run in runs), key=lambda figures: figures["pss_mib"])
        result[state] = {**ordered[len(ordered) // 2],
                         "runs_pss_mib": [run[state]["pss_mib"] for run in runs],
                         "runs_unique_mib": [run[state]["unique_mib"] for run in runs]}
    return result


def plot(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    states = ["portal", "connected"]
    variants = list(result["variants"])
    figure, axes = plt.subplots(figsize=(7, 4))
    width = 0.8 / len(variants)
    for index, variant in enumerate(variants):
        values = [result["variants"][variant][state]["pss_mib"] for state in states]
        bars = axes.bar([x + index * width for x in range(len(states))], values, width, label=variant)
        axes.bar_label(bars, fmt="%.1f")
    for x, state in enumerate(states):
        axes.hlines(TARGETS_MIB[state], x - width / 2, x + width * (len(variants) - 0.5), colors="red",
                    linestyles="dashed", label="target" if x == 0 else None)
    axes.set_xticks([x + width * (len(variants) - 1) / 2 for x in range(len(states))], states)
    axes.set_ylabel("PSS of the service's process tree (MiB)")
    axes.set_title("wifi-connect memory on the simulated device")
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--before", default=BEFORE_COMMIT, help="baseline commit ('' to skip it)")
    parser.add_argument("--runs", type=int, default=3, help="runs per variant; the median is reported")
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("needs root (network namespaces)")
    variants: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="wifi-memory-") as log_dir:
        runs = range(args.runs)
        variants["gunicorn (default)"] = median([measure("current", REPO_ROOT, Path(log_dir)) for _ in runs])
        variants["in-process"] = median([measure("in-process", REPO_ROOT, Path(log_dir),
                                                 PORTAL_SERVER="in-process") for _ in runs])
        if args.before:
            with checkout(args.before) as before:
                variants[f"before ({args.before})"] = median([measure("before", before, Path(log_dir))
                                                              for _ in runs])
    result = {
        "benchmark": "PSS (sum of smaps_rollup Pss) of the daemon and every descendant, simulated device",
        "targets_mib": TARGETS_MIB,
        "within_targets": {name: all(data[state]["pss_mib"] <= limit for state, limit in TARGETS_MIB.items())
                           for name, data in variants.items()},
        "variants": variants,
        "python": sys.version.split()[0],
        "versions": {name: _version(name)
                     for name in ("gunicorn", "bottle", "waitress", "jeepney")},
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    plot(result, RESULTS.with_suffix(".png"))
    summary = {name: {state: data[state]["pss_mib"] for state in ("portal", "connected")}
               for name, data in variants.items()}
    unique = {name: {state: data[state]["unique_mib"] for state in ("portal", "connected")}
              for name, data in variants.items()}
    print(json.dumps({"targets_mib": TARGETS_MIB, "pss_mib": summary, "unique_pages_mib": unique}, indent=2))


def _version(name: str) -> str:
    from importlib import metadata

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


if __name__ == "__main__":
    main()
