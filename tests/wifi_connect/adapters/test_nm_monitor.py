"""NmMonitor: the real ``gdbus monitor`` and ``nmcli monitor`` against devrig's simulated NetworkManager
(its D-Bus signals)."""

from __future__ import annotations

import shutil
import threading
import time

import pytest
from wifi_connect.adapters.nm_monitor import (
    GDBUS_MONITOR,
    NMCLI_MONITOR,
    NmMonitor,
    default_source,
    parse_gdbus_line,
    parse_monitor_line,
)
from wifi_connect.ports import Connectivity, NmChange

SOURCES = [NMCLI_MONITOR, pytest.param(GDBUS_MONITOR, marks=pytest.mark.skipif(
    shutil.which("gdbus") is None, reason="gdbus (Debian libglib2.0-bin) is not installed"))]


def test_monitor_lines_are_parsed_into_changes():
    assert parse_monitor_line("Connectivity is now 'limited'\n").connectivity is Connectivity.LIMITED
    assert parse_monitor_line("wlan0: disconnected").device == "wlan0"
    odd = parse_monitor_line("Connectivity is now 'weird'")
    assert odd.connectivity is None and odd.text == "Connectivity is now 'weird'"
    state = parse_monitor_line("Networkmanager is now in the 'connected' state")
    assert state.device is None and state.connectivity is None


def test_gdbus_lines_keep_only_what_the_policy_needs():
    manager = "/org/freedesktop/NetworkManager: org.freedesktop.DBus.Properties.PropertiesChanged "
    full = parse_gdbus_line(manager + "('org.freedesktop.NetworkManager', {'Connectivity': <uint32 4>}, @as"
                            " [])")
    assert full is not None and full.connectivity is Connectivity.FULL
    state = parse_gdbus_line("/org/freedesktop/NetworkManager: org.freedesktop.NetworkManager.StateChanged "
                             "(uint32 70,)")
    assert state is not None and state.connectivity is None
    device = parse_gdbus_line("/org/freedesktop/NetworkManager/Devices/3: org.freedesktop.NetworkManager"
                              ".Device.StateChanged (uint32 100, uint32 70, uint32 0)")
    assert device is not None and device.device == "3"
    owned = parse_gdbus_line("The name org.freedesktop.NetworkManager is owned by :1.2")
    assert owned is not None and owned.resync
    for chatter in (
        "/org/freedesktop/NetworkManager/AccessPoint/7: org.freedesktop.DBus.Properties.PropertiesChanged "
        "('org.freedesktop.NetworkManager.AccessPoint', {'Strength': <byte 0x3c>}, @as [])",
        manager + "('org.freedesktop.NetworkManager', {'ActiveConnections': <@ao []>}, @as [])",
        "Monitoring signals from all objects owned by org.freedesktop.NetworkManager",
    ):
        assert parse_gdbus_line(chatter) is None


def test_gdbus_is_preferred_when_installed():
    assert default_source() is (GDBUS_MONITOR if shutil.which("gdbus") else NMCLI_MONITOR)


def listening(change: NmChange) -> bool:
    return "running" in change.text or change.resync


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


@pytest.mark.parametrize("source", SOURCES, ids=lambda s: s.name)
def test_state_and_connectivity_changes_arrive_as_events(nm_sim, source):
    nm_sim.add_network("Home", "open")
    heard = Collector()
    monitor = NmMonitor(heard, source, env=nm_sim.env)
    monitor.start()
    try:
        heard.wait_for(listening)  # the child is listening
        assert nm_sim.nmcli("-w", "5", "device", "wifi", "connect", "Home").returncode == 0
        heard.wait_for(lambda c: c.device is not None and ("100" in c.text or c.text.endswith("connected")))
        heard.wait_for(lambda c: c.connectivity is Connectivity.FULL)
        nm_sim.set_connectivity("limited")
        heard.wait_for(lambda c: c.connectivity is Connectivity.LIMITED)
        nm_sim.drop_connection()
        heard.wait_for(lambda c: c.connectivity is Connectivity.NONE)
        assert monitor.starts == 1 and monitor.alive()
    finally:
        monitor.stop()
    assert not monitor.alive()


@pytest.mark.parametrize("source", SOURCES, ids=lambda s: s.name)
def test_a_monitor_that_dies_is_started_again_and_asks_for_a_resync(nm_sim, source):
    heard = Collector()
    monitor = NmMonitor(heard, source, env=nm_sim.env)
    monitor.start()
    try:
        heard.wait_for(listening)
        heard.changes.clear()
        monitor._process.kill()  # the child crashed
        heard.wait_for(lambda c: c.resync, timeout=10)
        assert monitor.starts == 2
    finally:
        monitor.stop()
