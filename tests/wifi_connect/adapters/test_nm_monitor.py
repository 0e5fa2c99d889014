"""NmMonitor: the real ``nmcli monitor`` against devrig's simulated NetworkManager (its signals)."""

from __future__ import annotations

import threading
import time

from wifi_connect.adapters.nm_monitor import NmMonitor, parse_monitor_line
from wifi_connect.ports import Connectivity, NmChange


def test_monitor_lines_are_parsed_into_changes():
    assert parse_monitor_line("Connectivity is now 'limited'\n").connectivity is Connectivity.LIMITED
    assert parse_monitor_line("wlan0: disconnected").device == "wlan0"
    odd = parse_monitor_line("Connectivity is now 'weird'")
    assert odd.connectivity is None and odd.text == "Connectivity is now 'weird'"
    state = parse_monitor_line("Networkmanager is now in the 'connected' state")
    assert state.device is None and state.connectivity is None


class Collector:
    def __init__(self) -> None:
        self.changes: list[NmChange] = []
        self.arrived = threading.Condition()

    def __call__(self, change: NmChange) -> None:
        with self.arrived:
            self.changes.append(change)
            self.arrived.notify_all()

    def wait_for(self, predicate, timeout: float = 5.0) -> NmChange:
        deadline = time.monotonic() + timeout
        with self.arrived:
            while True:
                found = next((c for c in self.changes if predicate(c)), None)
                if found is not None:
                    return found
                left = deadline - time.monotonic()
                assert left > 0, f"not seen; got {[c.text for c in self.changes]}"
                self.arrived.wait(left)


def test_state_and_connectivity_changes_arrive_as_events(nm_sim):
    nm_sim.add_network("Home", "open")
    heard = Collector()
    monitor = NmMonitor(heard, env=nm_sim.env)
    monitor.start()
    try:
        heard.wait_for(lambda c: "running" in c.text)  # nmcli is listening
        assert nm_sim.nmcli("-w", "5", "device", "wifi", "connect", "Home").returncode == 0
        heard.wait_for(lambda c: c.device == "wlan0" and c.text.endswith("connected"))
        heard.wait_for(lambda c: c.connectivity is Connectivity.FULL)
        nm_sim.set_connectivity("limited")
        heard.wait_for(lambda c: c.connectivity is Connectivity.LIMITED)
        nm_sim.drop_connection()
        heard.wait_for(lambda c: c.connectivity is Connectivity.NONE)
        assert monitor.starts == 1 and monitor.alive()
    finally:
        monitor.stop()
    assert not monitor.alive()


def test_a_monitor_that_dies_is_started_again_and_asks_for_a_resync(nm_sim):
    heard = Collector()
    monitor = NmMonitor(heard, env=nm_sim.env)
    monitor.start()
    try:
        heard.wait_for(lambda c: "running" in c.text)
        monitor._process.kill()  # nmcli crashed
        heard.wait_for(lambda c: c.resync, timeout=10)
        assert monitor.starts == 2
    finally:
        monitor.stop()
