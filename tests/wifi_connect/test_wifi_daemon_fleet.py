"""Fleet features on the simulated device, with the real daemon: two WiFi devices (the AP on wlan0, the
phone's veth; networks joined on wlan1), a per-device setup SSID, the setup QR code on the control API,
and where to reach the device after joining (<hostname>.local through a simulated avahi, the address)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from wifi_connect.setup_qr import wifi_payload

from devrig.netns import NetnsPair
from devrig.nm import SYSTEM_PYTHON, SimulatedNetworkManager
from tests.wifi_connect.test_wifi_daemon import CONTROL_PORT, GATEWAY, WIFI_CONNECT, RunningDaemon
from tests.wifi_connect.web.test_web_setup_qr import matrix_of, module_grid

pytestmark = [pytest.mark.rig, pytest.mark.slow]

HOME, HOME_PASSWORD = "Home", "correct horse battery"
PORTAL_SECRET = "portal-secret-42"


@pytest.fixture
def avahi(nm_sim: SimulatedNetworkManager) -> Iterator[None]:
    """Something owning org.freedesktop.Avahi on the (private) system bus, as avahi-daemon does."""
    process = subprocess.Popen(
        [SYSTEM_PYTHON, "-m", "dbusmock", "--system", "org.freedesktop.Avahi", "/",
         "org.freedesktop.Avahi.Server"],
        env=nm_sim.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        probe = ["dbus-send", "--system", "--print-reply", "--dest=org.freedesktop.DBus",
                 "/org/freedesktop/DBus", "org.freedesktop.DBus.NameHasOwner", "string:org.freedesktop.Avahi"]
        for _ in range(100):
            owned = subprocess.run(probe, env=nm_sim.env, capture_output=True, text=True, check=False)
            if "boolean true" in owned.stdout:
                break
            time.sleep(0.05)
        yield
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def two_radio_daemon(
    nm_sim: SimulatedNetworkManager, netns_pair: NetnsPair, tmp_path: Path, avahi: None
) -> Iterator[RunningDaemon]:
    nm_sim.add_wifi_device("wlan1")
    nm_sim.set_hostname("kiosk-7")
    nm_sim.add_network(HOME, "wpa-psk", HOME_PASSWORD, signal=80, address="10.20.30.40/24")
    hook_path = tmp_path / "hook.log"
    line = "';'.join(os.environ[k] for k in ('WIFI_CONNECT_STATE', 'WIFI_CONNECT_MDNS_NAME', " \
           "'WIFI_CONNECT_ADDRESSES', 'WIFI_CONNECT_CLIENT_INTERFACE')) + chr(10)"
    hook = f'{sys.executable} -c "import os; open(\'{hook_path}\', \'a\').write({line})"'
    env = {
        **nm_sim.env,
        "PORTAL_INTERFACE": "wlan0",
        "CLIENT_INTERFACE": "wlan1",
        "PORTAL_SSID": "Setup {id4}",
        "PORTAL_PASSPHRASE": PORTAL_SECRET,
        "GRACE_PERIOD": "0.5",
        "CONNECT_TIMEOUT": "8",
        "RETRY_INTERVAL": "0",
        "CONTROL_ADDRESS": f"127.0.0.1:{CONTROL_PORT}",
        "WIFI_CONNECT_SOCKET": str(tmp_path / "daemon.sock"),
        "HOOK_COMMAND": hook,
    }
    log_path = tmp_path / "daemon.log"
    with log_path.open("wb") as log:
        process = netns_pair.popen(
            netns_pair.device, [WIFI_CONNECT], env=env, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        yield RunningDaemon(netns_pair, process, log_path, hook_path)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


def device_state(nm_sim: SimulatedNetworkManager) -> dict[str, str]:
    rows = nm_sim.nmcli("-t", "-f", "DEVICE,STATE,CONNECTION", "device").stdout.splitlines()
    return {row.split(":")[0]: row.split(":", 1)[1] for row in rows}


def test_two_radios_per_device_ssid_qr_and_where_to_reach_the_device(
    two_radio_daemon: RunningDaemon, nm_sim: SimulatedNetworkManager
):
    daemon = two_radio_daemon
    status = daemon.wait_for(lambda s: s["state"] == "portal")
    mac = nm_sim.nmcli("-g", "GENERAL.HWADDR", "device", "show", "wlan0").stdout.strip().replace("\\:", "")
    expected_ssid = f"Setup {mac[-4:].lower()}"
    assert status["portal_ssid"] == expected_ssid  # the per-device SSID, from wlan0's MAC
    assert [(p["ssid"], p["mode"]) for p in nm_sim.profiles()] == [(expected_ssid, "ap")]
    assert (status["interface"], status["client_interface"]) == ("wlan0", "wlan1")

    qr_url = f"http://127.0.0.1:{CONTROL_PORT}/setup-qr.svg"
    qr = daemon.pair.run(daemon.pair.device, ["curl", "-s", "-m", "5", qr_url])
    assert module_grid(qr.stdout.encode()) == matrix_of(wifi_payload(expected_ssid, PORTAL_SECRET))
    code, _ = daemon.curl(daemon.pair.phone, f"http://{GATEWAY}/setup-qr.svg")
    assert code != 200  # the QR (it carries the AP passphrase) is not on the portal

    daemon.pair.dhcp_lease()  # the phone joins the setup AP
    body = json.dumps({"ssid": HOME, "passphrase": HOME_PASSWORD})
    json_body = ("-H", "Content-Type: application/json", "--data-binary", "@-")
    code, _ = daemon.curl(daemon.pair.phone, f"http://{GATEWAY}/connect", *json_body, body=body)
    assert code == 202
    # the phone stays on the portal (the AP never went down) and reads the result there
    code, status = daemon.curl(daemon.pair.phone, f"http://{GATEWAY}/status")
    for _ in range(100):
        if isinstance(status, dict) and status.get("state") == "connected":
            break
        time.sleep(0.2)
        code, status = daemon.curl(daemon.pair.phone, f"http://{GATEWAY}/status")
    assert code == 200 and status["state"] == "connected", daemon.log()
    assert status["last_attempt"]["result"] == "connected"
    reach = {"hostname": "kiosk-7", "mdns_name": "kiosk-7.local", "addresses": ["10.20.30.40"]}
    assert status["reach"] == reach
    states = device_state(nm_sim)
    assert states["wlan0"].startswith("connected:")  # the AP never went down
    assert states["wlan1"].startswith("connected:")
    assert states["wlan1"].endswith(HOME)

    connected_line = "connected;kiosk-7.local;10.20.30.40;wlan1"
    for _ in range(50):  # hooks run one at a time on their own thread
        if daemon.hook_path.exists() and connected_line in daemon.hook_path.read_text().splitlines():
            break
        time.sleep(0.1)
    hook_states = [line.split(";")[0] for line in daemon.hook_path.read_text().splitlines()]
    assert hook_states[-3:] == ["portal", "connecting", "connected"]
    assert daemon.hook_path.read_text().splitlines()[-1] == connected_line
