"""NmMonitor: NetworkManager's D-Bus signals heard in-process (jeepney) from devrig's simulated
NetworkManager on its private bus; the signal -> NmChange policy on messages built with jeepney."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from jeepney import DBusAddress, Message, new_signal
from wifi_connect.adapters.nm_monitor import (
    MAX_TEXT,
    SYSTEM_BUS,
    NmMonitor,
    change_from_signal,
    system_bus_address,
)
from wifi_connect.ports import Connectivity, NmChange

NM = "org.freedesktop.NetworkManager"
MANAGER = "/org/freedesktop/NetworkManager"
PROPERTIES = "org.freedesktop.DBus.Properties"


def signal(path: str, interface: str, member: str, signature: str | None = None, body: tuple = ()) -> Message:
    return new_signal(DBusAddress(path, interface=interface), member, signature, body)


def properties_changed(path: str, interface: str, changed: dict) -> Message:
    """The standard signal, as NM (and dbusmock's Set) sends it."""
    return signal(path, PROPERTIES, "PropertiesChanged", "sa{sv}as", (interface, changed, []))


# -- the policy: which signals become a change ---------------------------------------------------------


def test_connectivity_in_either_properties_changed_shape_is_nms_verdict():
    standard = change_from_signal(properties_changed(MANAGER, NM, {"Connectivity": ("u", 4)}))
    assert standard is not None and standard.connectivity is Connectivity.FULL
    legacy = change_from_signal(signal(MANAGER, NM, "PropertiesChanged", "a{sv}",
                                       ({"Connectivity": ("u", 3), "State": ("u", 70)},)))
    assert legacy is not None and legacy.connectivity is Connectivity.LIMITED
    assert legacy.text == f"{MANAGER} NetworkManager.PropertiesChanged {{'State': 70, 'Connectivity': 3}}"
    for value, verdict in ((0, Connectivity.UNKNOWN), (1, Connectivity.NONE), (2, Connectivity.PORTAL),
                           (9, Connectivity.UNKNOWN)):
        change = change_from_signal(properties_changed(MANAGER, NM, {"Connectivity": ("u", value)}))
        assert change is not None and change.connectivity is verdict


def test_manager_state_changes_become_changes_without_a_verdict():
    state = change_from_signal(properties_changed(MANAGER, NM, {"State": ("u", 70)}))
    assert state is not None and state.connectivity is None and not state.resync
    changed = change_from_signal(signal(MANAGER, NM, "StateChanged", "u", (20,)))
    assert changed == NmChange(f"{MANAGER} NetworkManager.StateChanged (20,)")


def test_a_device_state_change_names_the_device():
    path = f"{MANAGER}/Devices/3"
    change = change_from_signal(signal(path, f"{NM}.Device", "StateChanged", "uuu", (100, 30, 0)))
    assert change == NmChange(f"{path} Device.StateChanged (100, 30, 0)", device="3")


def test_nm_changing_hands_on_the_bus_asks_for_a_resync():
    bus = ("/org/freedesktop/DBus", "org.freedesktop.DBus", "NameOwnerChanged", "sss")
    for old, new in (("", ":1.7"), (":1.7", ""), (":1.7", ":1.9")):
        change = change_from_signal(signal(*bus, (NM, old, new)))
        assert change is not None and change.resync
    assert change_from_signal(signal(*bus, ("org.freedesktop.Avahi", "", ":1.8"))) is None


def test_chatter_is_ignored():
    chatter = [
        properties_changed(f"{MANAGER}/AccessPoint/7", f"{NM}.AccessPoint", {"Strength": ("y", 60)}),
        properties_changed(MANAGER, NM, {"ActiveConnections": ("ao", [])}),
        properties_changed(MANAGER, "org.freedesktop.NetworkManager.Other", {"State": ("u", 70)}),
        properties_changed(f"{MANAGER}/Devices/3", f"{NM}.Device", {"State": ("u", 100)}),
        signal(f"{MANAGER}/Settings", f"{NM}.Settings", "NewConnection", "o", (f"{MANAGER}/Settings/1",)),
        signal(f"{MANAGER}/Devices/3", f"{NM}.Device.Wireless", "AccessPointAdded", "o", ("/x",)),
        signal(MANAGER, NM, "DeviceAdded", "o", (f"{MANAGER}/Devices/4",)),
        signal(f"{MANAGER}/ActiveConnection/1", f"{NM}.Connection.Active", "StateChanged", "uu", (2, 0)),
    ]
    for message in chatter:
        assert change_from_signal(message) is None, message


def test_the_text_is_bounded():
    huge = {"State": ("u", 70), "Connectivity": ("u", 4)}
    change = change_from_signal(signal(MANAGER, NM, "StateChanged", "s", ("x" * 10_000,)))
    assert change is not None and len(change.text) == MAX_TEXT and change.text.endswith("…")
    assert change_from_signal(properties_changed(MANAGER, NM, huge)) is not None


def test_the_bus_address_is_libdbus_s(monkeypatch):
    assert system_bus_address({"DBUS_SYSTEM_BUS_ADDRESS": "unix:path=/host/run/dbus/s"}) == \
        "unix:path=/host/run/dbus/s"
    assert system_bus_address({}) == SYSTEM_BUS
    monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", "unix:path=/tmp/bus")
    assert system_bus_address() == "unix:path=/tmp/bus"


# -- the real thing: the simulator's signals over a real bus ----------------------------------------------


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


def monitor_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "nm-monitor"]


def voluntary_switches(thread: threading.Thread) -> int:
    status = Path(f"/proc/self/task/{thread.native_id}/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("voluntary_ctxt")))


@contextlib.contextmanager
def listening(on_change, nm_sim) -> Iterator[NmMonitor]:
    """A started monitor on the simulator's bus, always stopped."""
    monitor = NmMonitor(on_change, env=nm_sim.env)
    monitor.start()
    try:
        yield monitor
    finally:
        monitor.stop()


def test_state_and_connectivity_changes_arrive_as_events(nm_sim):
    nm_sim.add_network("Home", "open")
    heard = Collector()
    with listening(heard, nm_sim) as monitor:  # start() returns listening: nothing to wait for
        assert monitor.alive() and monitor.starts == 1
        assert nm_sim.nmcli("-w", "5", "device", "wifi", "connect", "Home").returncode == 0
        connected = heard.wait_for(lambda c: c.device is not None and "StateChanged (100," in c.text)
        assert connected.text.startswith(f"{MANAGER}/Devices/{connected.device} Device.StateChanged")
        heard.wait_for(lambda c: c.connectivity is Connectivity.FULL)
        nm_sim.set_connectivity("limited")
        heard.wait_for(lambda c: c.connectivity is Connectivity.LIMITED)
        nm_sim.drop_connection()
        heard.wait_for(lambda c: c.connectivity is Connectivity.NONE)
        assert monitor.starts == 1 and monitor.alive()
        assert not any(c.resync for c in heard.changes)
    assert not monitor.alive()


def test_idle_means_asleep_in_recv(nm_sim):
    with listening(Collector(), nm_sim):
        [thread] = monitor_threads()
        time.sleep(0.3)  # start() returns as the thread heads for recv: let it get there
        before = voluntary_switches(thread)
        time.sleep(1.5)
        assert voluntary_switches(thread) == before  # no timeout, no poll woke it


def test_a_dropped_connection_is_reopened_and_asks_for_a_resync(nm_sim):
    heard = Collector()
    with listening(heard, nm_sim) as monitor:
        assert monitor._connection is not None
        monitor._connection.sock.shutdown(socket.SHUT_RDWR)  # as when dbus-daemon goes away
        heard.wait_for(lambda c: c.resync, timeout=10)
        assert monitor.starts == 2 and monitor.alive()
        nm_sim.set_connectivity("portal")  # and it listens again
        nm_sim.add_network("Cafe", "open")
        assert nm_sim.nmcli("-w", "5", "device", "wifi", "connect", "Cafe").returncode == 0
        heard.wait_for(lambda c: c.connectivity is Connectivity.PORTAL)


def test_nm_restarting_asks_for_a_resync(nm_sim):
    heard = Collector()
    with listening(heard, nm_sim) as monitor:
        nm_sim.restart()
        heard.wait_for(lambda c: c.resync and f"('{NM}', '', ':" in c.text)  # NM left, a new one appeared
        assert len([c for c in heard.changes if c.resync]) == 2, [c.text for c in heard.changes]
        nm_sim.add_network("Home", "open")  # the new NM's signals reach us too (rules follow the name)
        assert nm_sim.nmcli("-w", "5", "device", "wifi", "connect", "Home").returncode == 0
        heard.wait_for(lambda c: c.connectivity is Connectivity.FULL)
        assert monitor.starts == 1


def test_a_failing_listener_does_not_stop_the_listening(nm_sim):
    heard = Collector()

    def fragile(change: NmChange) -> None:
        heard(change)
        raise RuntimeError("a bug in the controller")

    with listening(fragile, nm_sim) as monitor:
        nm_sim.set_connectivity("limited")  # nothing connected: NM's verdict stays none, State changes
        nm_sim.add_network("Home", "open")
        assert nm_sim.nmcli("-w", "5", "device", "wifi", "connect", "Home").returncode == 0
        heard.wait_for(lambda c: c.connectivity is Connectivity.LIMITED)
        assert len(heard.changes) > 1 and monitor.alive()


def test_stop_is_prompt_idempotent_and_leaves_no_thread(nm_sim):
    monitor = NmMonitor(Collector(), env=nm_sim.env)
    monitor.start()
    assert len(monitor_threads()) == 1
    began = time.monotonic()
    monitor.stop()
    assert time.monotonic() - began < 1.0
    assert monitor_threads() == [] and not monitor.alive()
    monitor.stop()


def test_no_bus_is_retried_and_stop_is_still_prompt(tmp_path):
    heard = Collector()
    monitor = NmMonitor(heard, env={"DBUS_SYSTEM_BUS_ADDRESS": f"unix:path={tmp_path}/missing"})
    began = time.monotonic()
    monitor.start()  # the first open fails at once: start() does not hang on it
    assert time.monotonic() - began < 1.0
    assert not monitor.alive() and monitor.starts == 0
    began = time.monotonic()
    monitor.stop()  # while it waits to try again
    assert time.monotonic() - began < 1.0 and monitor_threads() == []
    assert heard.changes == []
