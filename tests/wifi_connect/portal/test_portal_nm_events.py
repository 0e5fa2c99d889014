"""NetworkManager's events drive the policy (NmMonitor); polling is only a long safety net."""

from __future__ import annotations

from wifi_connect.models import State
from wifi_connect.ports import Connectivity, NmChange

from tests.wifi_connect.portal.conftest import Rig
from tests.wifi_connect.portal.fakes import FakeProbe

DEFAULT_RECHECK = 300.0  # CHECK_INTERVAL's default


def nm_says(rig: Rig, connectivity: Connectivity | None = None, text: str = "wlan0: disconnected") -> None:
    """What NmMonitor delivers from its thread: NM's verdict when the signal carried one."""
    if connectivity is not None:
        rig.backend.connectivity_value = connectivity
    rig.controller.nm_changed(NmChange(text, connectivity=connectivity))
    rig.advance(0)


def connectivity_reads(rig: Rig) -> int:
    return rig.backend.names().count("connectivity")


def test_an_idle_connected_minute_asks_network_manager_nothing():
    rig = Rig(check_interval=DEFAULT_RECHECK)
    rig.backend.connectivity_value = Connectivity.FULL
    rig.start()
    assert rig.state is State.CONNECTED
    before = len(rig.backend.calls)
    rig.advance(60)
    assert rig.backend.calls[before:] == []
    rig.advance(DEFAULT_RECHECK)  # the documented safety net: one re-check every CHECK_INTERVAL
    assert [c for c in rig.backend.calls[before:] if c[0] == "connectivity"] == [("connectivity", True)]


def test_a_loss_reported_by_network_manager_raises_the_portal_after_the_tolerance_without_polling():
    rig = Rig(check_interval=DEFAULT_RECHECK, lost_tolerance=30.0)
    rig.backend.connectivity_value = Connectivity.FULL
    rig.start()
    nm_says(rig, Connectivity.NONE)
    assert rig.state is State.CONNECTED and rig.controller.status()["online"] is False
    rig.advance(29)
    assert rig.state is State.CONNECTED
    rig.advance(1)
    assert rig.state is State.PORTAL


def test_network_manager_recovering_within_the_tolerance_keeps_the_connection():
    rig = Rig(check_interval=DEFAULT_RECHECK, lost_tolerance=30.0)
    rig.backend.connectivity_value = Connectivity.FULL
    rig.start()
    nm_says(rig, Connectivity.NONE)
    rig.advance(10)
    nm_says(rig, Connectivity.FULL)
    rig.advance(60)
    assert rig.state is State.CONNECTED and rig.controller.status()["online"] is True


def test_a_saved_network_coming_up_is_noticed_from_the_event_during_the_grace_period():
    rig = Rig(check_interval=DEFAULT_RECHECK, grace_period=20.0)
    rig.start()
    assert rig.state is State.WAITING
    rig.advance(3)
    nm_says(rig, Connectivity.FULL, "Connectivity is now 'full'")
    assert rig.state is State.CONNECTED


def test_a_burst_of_events_is_looked_at_once_and_a_verdict_in_the_line_needs_no_read():
    rig = Rig(check_interval=DEFAULT_RECHECK)
    rig.backend.connectivity_value = Connectivity.FULL
    rig.start()
    reads = connectivity_reads(rig)
    for text in ("wlan0: connecting (prepare)", "wlan0: connected", "Connectivity is now 'full'"):
        rig.controller.nm_changed(NmChange(text, connectivity=Connectivity.FULL if "now" in text else None))
    rig.advance(0)
    assert connectivity_reads(rig) == reads  # the verdict came with the event
    nm_says(rig, None, "wlan0: connected")  # no verdict in the line: one read of NM's last value
    assert connectivity_reads(rig) == reads + 1
    assert [c for c in rig.backend.calls if c[0] == "connectivity"][-1] == ("connectivity", False)


def test_the_http_probe_runs_only_when_network_manager_changes_its_verdict():
    probe = FakeProbe(online=True)
    calls = []
    original = probe.online
    probe.online = lambda: calls.append(1) or original()
    rig = Rig(probe=probe, check_interval=DEFAULT_RECHECK)
    rig.backend.connectivity_value = Connectivity.FULL
    rig.start()
    assert rig.state is State.CONNECTED and len(calls) == 1
    nm_says(rig, None, "wlan0: connected")  # same verdict: no probe
    nm_says(rig, Connectivity.FULL)
    assert len(calls) == 1
    nm_says(rig, Connectivity.LIMITED)  # changed: probe again
    assert len(calls) == 2


def test_events_in_other_states_are_not_looked_at():
    rig = Rig(check_interval=DEFAULT_RECHECK)
    rig.to_portal()
    reads = connectivity_reads(rig)
    nm_says(rig, None, "wlan0: connected")  # our own access point coming up
    assert connectivity_reads(rig) == reads and rig.state is State.PORTAL
