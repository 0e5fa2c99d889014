"""Memory of the whole bundle, idle, on the simulated device: PSS of each sidecar's process tree.

Runs the quick-start demo (``devrig.demo``: the compose file's environment, a simulated NetworkManager, the
device as a network namespace), waits until it is idle, then sums ``Pss`` from ``/proc/<pid>/smaps_rollup`` of
every process in the device namespace, grouped by the sidecar whose tree it belongs to (dnsmasq and the
portal's gunicorn count for wifi-connect, journalctl for the log agent), with the portal up (no saved
network, as a new device is); several samples a few seconds apart, the median reported.

Target (issue 11): <= 100 MiB PSS for the three sidecars together.
Run as root from the repository root: ``.venv/bin/python bench/bundle_memory.py``.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "bundle_memory.json"
TARGET_MIB = 100
SIDECARS = {"wifi-connect": "wifi-connect", "log-agent": "log-agent", "health-reporter": "health"}
SETTLE_SECONDS = 40
SAMPLES = 5


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def parent(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return 0


def pss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def sidecar_of(pid: int) -> str | None:
    """The sidecar whose process tree ``pid`` belongs to (walks up the parents)."""
    while pid > 1:
        words = cmdline(pid).split()
        for word in words[:2]:
            name = Path(word).name
            if name in SIDECARS:
                return SIDECARS[name]
        pid = parent(pid)
    return None


def sample(namespace: str) -> dict[str, float]:
    pids = subprocess.run(["ip", "netns", "pids", namespace], capture_output=True, text=True, timeout=10)
    totals = dict.fromkeys(SIDECARS.values(), 0.0)
    for pid in map(int, pids.stdout.split()):
        sidecar = sidecar_of(pid)
        if sidecar is not None:
            totals[sidecar] += pss_kib(pid) / 1024
    return totals


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp) / "demo.json"
        demo = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "devrig.demo",
                "--duration",
                str(SETTLE_SECONDS + 60),
                "--state-file",
                str(state),
            ],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 30
            while not state.exists() and time.monotonic() < deadline:
                time.sleep(0.5)
            namespace = json.loads(state.read_text())["device_namespace"]
            time.sleep(SETTLE_SECONDS)
            samples = []
            for _ in range(SAMPLES):
                samples.append(sample(namespace))
                time.sleep(3)
        finally:
            demo.terminate()
            demo.wait(timeout=60)
    median = {name: round(statistics.median(s[name] for s in samples), 1) for name in samples[0]}
    total = round(sum(median.values()), 1)
    for name, mib in median.items():
        print(f"{name:13} {mib:6.1f} MiB PSS")
    print(f"{'bundle':13} {total:6.1f} MiB PSS (target <= {TARGET_MIB} MiB: {total / TARGET_MIB:.2f}x of it)")
    RESULTS.write_text(
        json.dumps(
            {
                "pss_mib": median,
                "total_mib": total,
                "target_mib": TARGET_MIB,
                "samples": samples,
                "settle_seconds": SETTLE_SECONDS,
            },
            indent=2,
        )
        + "\n"
    )
    plot(median, total)
    return 0


def plot(median: dict[str, float], total: float) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.2))
    bottom = 0.0
    for name, mib in median.items():
        ax.barh(["bundle"], [mib], left=bottom, label=f"{name} {mib:.0f} MiB")
        bottom += mib
    ax.axvline(TARGET_MIB, color="black", linestyle="--", label=f"target {TARGET_MIB} MiB")
    ax.set_xlabel("PSS, MiB (idle, portal up)")
    ax.set_title(f"Bundle memory on the simulated device: {total:.0f} MiB")
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(RESULTS.with_suffix(".png"), dpi=100)


if __name__ == "__main__":
    sys.exit(main())
