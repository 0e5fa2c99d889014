"""``PORTAL_SERVER=in-process`` on the simulated device: the daemon serves the portal itself (no gunicorn
child), the onboarding works end to end, and SIGTERM leaves no process or profile behind."""

from __future__ import annotations

import signal

import psutil
import pytest

from devrig.nm import SimulatedNetworkManager
from tests.wifi_connect.test_wifi_daemon import (  # noqa: F401 - daemon is a fixture
    GATEWAY,
    HOME,
    HOME_PASSWORD,
    WRONG_PASSWORD,
    RunningDaemon,
    daemon,
)

pytestmark = [pytest.mark.rig, pytest.mark.slow]


@pytest.fixture
def daemon_settings() -> dict[str, str]:
    return {"PORTAL_SERVER": "in-process"}


def test_the_daemon_serves_the_portal_itself(daemon: RunningDaemon, nm_sim: SimulatedNetworkManager):  # noqa: F811
    daemon.wait_for(lambda s: s["state"] == "portal")
    children = psutil.Process(daemon.process.pid).children(recursive=True)
    own = psutil.Process(daemon.process.pid).cmdline()
    assert not [child for child in children if child.cmdline() == own]  # no forked web server
    daemon.pair.dhcp_lease()
    code, _ = daemon.curl(daemon.pair.phone, f"http://{GATEWAY}/generate_204",
                          "-H", "Host: connectivitycheck.gstatic.com")
    assert code == 302
    assert daemon.connect(HOME, WRONG_PASSWORD)[0] == 202
    status = daemon.wait_for(lambda s: s["state"] == "portal" and s["last_attempt"]["result"] == "failed")
    assert status["last_attempt"]["reason"] == "wrong_password"
    daemon.pair.dhcp_lease()
    assert daemon.connect(HOME, HOME_PASSWORD)[0] == 202
    assert daemon.wait_for(lambda s: s["state"] == "connected")["ssid"] == HOME
    children = psutil.Process(daemon.process.pid).children(recursive=True)
    daemon.process.send_signal(signal.SIGTERM)
    assert daemon.process.wait(timeout=30) == 0
    assert not [child for child in children if child.is_running() and child.status() != psutil.STATUS_ZOMBIE]
    assert [p["mode"] for p in nm_sim.profiles()] == ["infrastructure"]
