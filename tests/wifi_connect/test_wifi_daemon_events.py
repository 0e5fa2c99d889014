"""The real daemon follows NetworkManager's events (its D-Bus signals, heard in-process) instead of polling.

Every nmcli the daemon runs goes through a counting shim on PATH (it logs the first two words only,
never arguments that could matter), so "idle means idle" is a number: nmcli invocations per idle period.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest

from devrig.netns import NetnsPair
from devrig.nm import SimulatedNetworkManager
from tests.wifi_connect.test_wifi_daemon import CONTROL_PORT, WIFI_CONNECT, RunningDaemon

pytestmark = [pytest.mark.rig, pytest.mark.slow]

IDLE_SECONDS = 15.0


def counting_nmcli(directory: Path) -> Path:
    """A ``nmcli`` that appends one line per invocation to ``calls.log`` and runs the real one."""
    directory.mkdir()
    log = directory / "calls.log"
    shim = directory / "nmcli"
    shim.write_text(f'#!/bin/sh\necho "$1 $2" >> {log}\nexec /usr/bin/nmcli "$@"\n')
    shim.chmod(0o755)
    return log


def invocations(log: Path) -> list[str]:
    return log.read_text().splitlines() if log.exists() else []


@pytest.fixture
def start_daemon(
    nm_sim: SimulatedNetworkManager, netns_pair: NetnsPair, tmp_path: Path
) -> Iterator[Callable[[bool], tuple[RunningDaemon, Path]]]:
    """A daemon with every default interval (CHECK_INTERVAL 300); Ethernet online at start or not."""
    processes: list[subprocess.Popen] = []

    def start(online: bool) -> tuple[RunningDaemon, Path]:
        nm_sim.add_ethernet_device("eth0", connected=True)
        nm_sim.set_connectivity("full" if online else "none")
        calls = counting_nmcli(tmp_path / "bin")
        env = {
            **nm_sim.env,
            "PATH": f"{calls.parent}:{os.environ['PATH']}",
            "GRACE_PERIOD": "60",
            "LOST_CONNECTION_TOLERANCE": "2",
            "CONTROL_ADDRESS": f"127.0.0.1:{CONTROL_PORT}",
            "WIFI_CONNECT_SOCKET": str(tmp_path / "daemon.sock"),
        }
        log_path = tmp_path / "daemon.log"
        with log_path.open("wb") as log:
            process = netns_pair.popen(
                netns_pair.device, [WIFI_CONNECT], env=env, stdout=log, stderr=subprocess.STDOUT
            )
        processes.append(process)
        return RunningDaemon(netns_pair, process, log_path, tmp_path / "hook.log"), calls

    yield start
    for process in processes:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


def thread_wakeups(pid: int) -> dict[str, int]:
    """Context switches so far of each thread of ``pid`` (a thread that polls wakes every interval)."""
    counts = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        lines = (task / "status").read_text().splitlines()
        fields = dict(line.split(":\t", 1) for line in lines if ":\t" in line)
        counts[task.name] = int(fields["voluntary_ctxt_switches"]) + int(fields["nonvoluntary_ctxt_switches"])
    return counts


def test_idle_connected_daemon_runs_no_nmcli_and_notices_a_loss_at_once(
    start_daemon: Callable[[bool], tuple[RunningDaemon, Path]], nm_sim: SimulatedNetworkManager
):
    daemon, calls = start_daemon(True)
    daemon.wait_for(lambda s: s["state"] == "connected" and s["online"])
    time.sleep(1)  # start-up calls done
    before = invocations(calls)
    children = [" ".join(c.cmdline()) for c in psutil.Process(daemon.process.pid).children(recursive=True)]
    monitors = [c for c in children if "monitor" in c or "dbus" in c]
    assert monitors == [], children  # a thread in the daemon listens: no monitor child
    switches = thread_wakeups(daemon.process.pid)
    time.sleep(IDLE_SECONDS)
    assert invocations(calls)[len(before):] == [], "an idle daemon must not run nmcli"
    now = thread_wakeups(daemon.process.pid)
    woken = {name: count - switches.get(name, 0) for name, count in now.items()}
    assert sum(woken.values()) <= 2, f"an idle daemon sleeps until something happens; woken: {woken}"

    lost_at = time.monotonic()
    nm_sim.set_connectivity("none")  # the uplink loses the internet: NM's verdict changes
    daemon.wait_for(lambda s: not s["online"], timeout=5)
    noticed = time.monotonic() - lost_at
    assert noticed < 2.0, f"noticed after {noticed:.1f}s; CHECK_INTERVAL is 300 s"
    daemon.wait_for(lambda s: s["state"] == "portal", timeout=15)  # after the 2 s tolerance
    print(f"D-Bus in the daemon: idle {IDLE_SECONDS:g}s, 0 nmcli runs; loss noticed in {noticed:.2f}s",
          file=sys.stderr)


def test_a_network_coming_up_while_waiting_is_noticed_from_the_event(
    start_daemon: Callable[[bool], tuple[RunningDaemon, Path]], nm_sim: SimulatedNetworkManager
):
    daemon, _calls = start_daemon(False)
    daemon.wait_for(lambda s: s["state"] == "waiting")  # GRACE_PERIOD 60 s, CHECK_INTERVAL 300 s
    came_up = time.monotonic()
    nm_sim.set_connectivity("full")
    daemon.wait_for(lambda s: s["state"] == "connected" and s["online"], timeout=5)
    assert time.monotonic() - came_up < 2.0
