"""Shared fixtures for every wifi-connect test (and anyone else who needs the simulated device).

``nm_sim``      a started ``devrig.nm.SimulatedNetworkManager``: private system bus + dbusmock running
                devrig's NetworkManager template, one WiFi device ``wlan0``, no networks yet. Use
                ``nm_sim.env`` as the environment of anything that runs ``nmcli``; add networks with
                ``nm_sim.add_network(...)``. Fresh per test (starts in ~0.5 s), stopped afterwards.
``netns_pair``  a started ``devrig.netns.NetnsPair``: "device" and "phone" namespaces (random names)
                joined by a veth named ``wlan0`` (gateway 192.168.42.1/24 in the device namespace).
                Needs root; skipped with the reason otherwise. Removed with every process in it.

Both skip (with the missing tool named) when the machine lacks what they need; mark tests that use
``netns_pair`` with ``@pytest.mark.rig``.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from devrig.netns import NetnsPair, can_use_namespaces
from devrig.nm import SYSTEM_PYTHON, SimulatedNetworkManager

# pytest (prepend import mode) put tests/ on sys.path to import this file; left there, the directory
# tests/wifi_connect would shadow the wifi_connect package (as a namespace package) in every test.
_TESTS_DIR = str(Path(__file__).resolve().parent)
sys.path[:] = [entry for entry in sys.path if str(Path(entry).resolve()) != _TESTS_DIR]


def _missing_sim_tools() -> list[str]:
    missing = [tool for tool in ("dbus-daemon", "busctl", "nmcli") if shutil.which(tool) is None]
    if not Path(SYSTEM_PYTHON).exists() or not list(Path("/usr/lib/python3/dist-packages").glob("dbusmock")):
        missing.append("python3-dbusmock")
    return missing


@pytest.fixture
def nm_sim() -> Iterator[SimulatedNetworkManager]:
    missing = _missing_sim_tools()
    if missing:
        pytest.skip(f"simulated NetworkManager needs: {', '.join(missing)}")
    sim = SimulatedNetworkManager()
    sim.start()
    try:
        yield sim
    finally:
        sim.stop()


@pytest.fixture
def netns_pair() -> Iterator[NetnsPair]:
    if not can_use_namespaces():
        pytest.skip("network namespaces need root and iproute2")
    pair = NetnsPair()
    pair.start()
    try:
        yield pair
    finally:
        pair.stop()
