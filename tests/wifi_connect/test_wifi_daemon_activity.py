"""A stranger cannot hold the device offline (issue 7): the real daemon on the simulated device, its saved
network back in range while the portal is up, and someone on the AP fetching the portal every 4 s. Only
a person's progress (a choice posted, an attempt submitted) defers the retry, so it runs on time."""

from __future__ import annotations

import time

import pytest

from devrig.nm import SimulatedNetworkManager
from tests.wifi_connect.test_wifi_daemon import GATEWAY, HOME, HOME_PASSWORD, RunningDaemon, daemon  # noqa: F401

pytestmark = [pytest.mark.rig, pytest.mark.slow]
RETRY_INTERVAL = 10.0


@pytest.fixture
def daemon_settings() -> dict[str, str]:
    return {"RETRY_INTERVAL": str(RETRY_INTERVAL)}


def test_a_strangers_get_every_4_s_does_not_hold_the_device_offline(
    daemon: RunningDaemon, nm_sim: SimulatedNetworkManager  # noqa: F811
):
    daemon.wait_for(lambda s: s["state"] == "portal")
    daemon.pair.dhcp_lease()
    assert daemon.connect(HOME, HOME_PASSWORD)[0] == 202
    daemon.wait_for(lambda s: s["state"] == "connected")
    nm_sim.remove_network(HOME)  # out of range: the portal comes back after the tolerance (1 s)
    daemon.wait_for(lambda s: s["state"] == "portal", timeout=20)
    portal_since = time.monotonic()
    nm_sim.add_network(HOME, "wpa-psk", HOME_PASSWORD, signal=80)  # back in range, saved
    daemon.pair.dhcp_lease()
    while time.monotonic() - portal_since < 3 * RETRY_INTERVAL:
        for path in ("/", "/networks", "/status"):  # what a stranger's phone (or script) reads
            daemon.pair.run(daemon.pair.phone, ["curl", "-s", "-o", "/dev/null", "-m", "1",
                                                f"http://{GATEWAY}{path}"], timeout=5)
        if daemon.status().get("state") == "connected":
            break
        time.sleep(4)
    status = daemon.wait_for(lambda s: s["state"] == "connected", timeout=5)
    assert status["ssid"] == HOME
    assert time.monotonic() - portal_since < RETRY_INTERVAL + 12  # the retry ran when it was due
