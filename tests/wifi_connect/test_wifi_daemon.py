"""The real ``wifi-connect`` process on the simulated device: real nmcli, dnsmasq, forked gunicorn, RPC.

The daemon runs in the "device" namespace (its wlan0 is a veth to the "phone"), NetworkManager is the
devrig simulator on a private bus. The phone takes a DHCP lease from the daemon's dnsmasq and talks to
the portal; the test reads the daemon's state through the loopback control API.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest

from devrig.netns import NetnsPair
from devrig.nm import SimulatedNetworkManager

pytestmark = [pytest.mark.rig, pytest.mark.slow]

WIFI_CONNECT = str(Path(sys.executable).with_name("wifi-connect"))
HOME, HOME_PASSWORD, WRONG_PASSWORD = "Home:Net\\", "correct horse battery", "wrong horse battery"
PORTAL_SECRET = "portal-secret-42"
CONTROL_PORT = 8081  # inside the device namespace: its own loopback, nothing else there
GATEWAY = "192.168.42.1"


class RunningDaemon:
    """The daemon process plus helpers to reach it from the device and the phone."""

    def __init__(self, pair: NetnsPair, process: subprocess.Popen, log_path: Path, hook_path: Path) -> None:
        self.pair, self.process, self.log_path, self.hook_path = pair, process, log_path, hook_path

    def curl(self, namespace: str, url: str, *args: str, body: str | None = None) -> tuple[int, dict | list]:
        """The body goes through stdin: the phone's own argv must not carry the password either."""
        argv = ["curl", "-s", "-m", "10", "-w", "\n%{http_code}", *args, url]
        done = self.pair.run(namespace, argv, timeout=15, input=body)
        text, _, code = done.stdout.rpartition("\n")
        return int(code or 0), (json.loads(text) if text.strip().startswith(("{", "[")) else {})

    def status(self) -> dict:
        _, body = self.curl(self.pair.device, f"http://127.0.0.1:{CONTROL_PORT}/status")
        return body if isinstance(body, dict) else {}

    def wait_for(self, predicate: Callable[[dict], bool], timeout: float = 30.0) -> dict:
        deadline = time.monotonic() + timeout
        status: dict = {}
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"daemon exited {self.process.returncode}: {self.log()}"
            status = self.status()
            if status and predicate(status):
                return status
            time.sleep(0.2)
        raise AssertionError(f"timed out; last status {status}; log:\n{self.log()}")

    def connect(self, ssid: str, passphrase: str) -> tuple[int, dict]:
        body = json.dumps({"ssid": ssid, "passphrase": passphrase, "identity": ""})
        headers = ("-H", "Content-Type: application/json", "--data-binary", "@-")
        return self.curl(self.pair.phone, f"http://{GATEWAY}/connect", *headers, body=body)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


@pytest.fixture
def daemon(nm_sim: SimulatedNetworkManager, netns_pair: NetnsPair, tmp_path: Path,
           request: pytest.FixtureRequest) -> Iterator[RunningDaemon]:
    """A module may define a ``daemon_settings`` fixture: settings on top of the defaults below."""
    try:
        daemon_settings = request.getfixturevalue("daemon_settings")
    except pytest.FixtureLookupError:
        daemon_settings = {}
    nm_sim.add_network(HOME, "wpa-psk", HOME_PASSWORD, signal=80)
    nm_sim.add_network("Neighbour", "open", signal=30)
    stale = nm_sim.nmcli(
        "connection",
        "add",
        "type",
        "wifi",
        "ifname",
        "wlan0",
        "con-name",
        "WiFi Connect",
        "ssid",
        "WiFi Connect",
        "802-11-wireless.mode",
        "ap",
    )  # left by a killed run
    assert stale.returncode == 0, stale.stderr
    log_path, hook_path = tmp_path / "daemon.log", tmp_path / "hook.log"
    line = "os.environ['WIFI_CONNECT_STATE'] + '|' + os.environ['WIFI_CONNECT_SSID'] + chr(10)"
    write_state = f"open('{hook_path}', 'a').write({line})"
    hook = f'{sys.executable} -c "import os; {write_state}"'
    env = {
        **nm_sim.env,
        "PORTAL_PASSPHRASE": PORTAL_SECRET,
        "GRACE_PERIOD": "0.5",
        "CHECK_INTERVAL": "0.2",
        "CONNECT_TIMEOUT": "8",
        "RETRY_INTERVAL": "0",
        "LOST_CONNECTION_TOLERANCE": "1",
        "CONTROL_ADDRESS": f"127.0.0.1:{CONTROL_PORT}",
        "WIFI_CONNECT_SOCKET": str(tmp_path / "daemon.sock"),
        "HOOK_COMMAND": hook,
        **daemon_settings,
    }
    with log_path.open("wb") as log:
        process = netns_pair.popen(
            netns_pair.device, [WIFI_CONNECT], env=env, stdout=log, stderr=subprocess.STDOUT
        )
    running = RunningDaemon(netns_pair, process, log_path, hook_path)
    try:
        yield running
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


def watch_argv(stop: threading.Event, seen: list[str]) -> None:
    """Every command line on the machine while a connect runs (the secret must never be in one)."""
    while not stop.is_set():
        for proc in psutil.process_iter(["cmdline"]):
            seen.append(" ".join(proc.info["cmdline"] or []))
        time.sleep(0.01)


def test_onboarding_end_to_end_on_the_simulated_device(
    daemon: RunningDaemon, nm_sim: SimulatedNetworkManager
):
    status = daemon.wait_for(lambda s: s["state"] == "portal")
    assert status["interface"] == "wlan0" and status["last_attempt"] is None

    lease = daemon.pair.dhcp_lease()  # the daemon's dnsmasq answers the phone
    assert lease["router"] == GATEWAY and lease["ip"].startswith("192.168.42.")
    code, networks = daemon.curl(daemon.pair.phone, f"http://{GATEWAY}/networks")
    assert code == 200 and [n["ssid"] for n in networks] == [HOME, "Neighbour"]  # exact SSID round trip

    seen: list[str] = []
    stop = threading.Event()
    watcher = threading.Thread(target=watch_argv, args=(stop, seen), daemon=True)
    watcher.start()
    try:
        code, attempt = daemon.connect(HOME, WRONG_PASSWORD)
        assert code == 202 and attempt["result"] == "pending"
        status = daemon.wait_for(lambda s: s["state"] == "portal" and s["last_attempt"]["result"] == "failed")
        assert status["last_attempt"]["reason"] == "wrong_password"
        assert not [p for p in nm_sim.profiles() if p["ssid"] == HOME]  # the failed profile is gone

        daemon.pair.dhcp_lease()  # the phone rejoins the portal that came back
        code, _ = daemon.connect(HOME, HOME_PASSWORD)
        assert code == 202
        status = daemon.wait_for(lambda s: s["state"] == "connected")
    finally:
        stop.set()
        watcher.join(5)
    assert status["ssid"] == HOME and status["last_attempt"]["result"] == "connected"
    assert [p["mode"] for p in nm_sim.profiles()] == ["infrastructure"]  # the AP profile is gone
    assert nm_sim.saved_secrets(HOME)  # kept for autoconnect after a reboot

    nm_sim.drop_connection()  # out of range for longer than LOST_CONNECTION_TOLERANCE
    status = daemon.wait_for(lambda s: s["state"] == "portal")
    forget_url = f"http://127.0.0.1:{CONTROL_PORT}/forget"
    code, forgotten = daemon.curl(daemon.pair.device, forget_url, "-X", "POST")
    assert code == 200 and forgotten == {"forgotten": [HOME]}  # factory reset through the control API

    children = psutil.Process(daemon.process.pid).children(recursive=True)
    daemon.process.send_signal(signal.SIGTERM)
    assert daemon.process.wait(timeout=30) == 0
    assert not [child for child in children if child.is_running() and child.status() != psutil.STATUS_ZOMBIE]
    assert nm_sim.profiles() == []  # no AP profile left behind (and the saved one was forgotten)

    secrets = (HOME_PASSWORD, WRONG_PASSWORD, PORTAL_SECRET)
    assert seen and not [line for line in seen if any(secret in line for secret in secrets)]
    log = daemon.log()
    assert not [secret for secret in secrets if secret in log]
    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    states = [line["state"] for line in lines if line["logger"] == "wifi_connect.state"]
    assert states == [
        "waiting",
        "portal",
        "connecting",
        "portal",
        "connecting",
        "connected",
        "portal",
        "stopping",
    ]
    hook_calls = [line.split("|", 1) for line in daemon.hook_path.read_text().splitlines()]
    assert [state for state, _ssid in hook_calls] == states
    assert {ssid for state, ssid in hook_calls if state == "connecting"} == {HOME}  # named while it runs


def test_setup_mode_probes_and_forget_on_the_simulated_device(daemon: RunningDaemon):
    """connected -> POST /setup-mode: the probes redirect (not "online"); connected again -> POST /forget:
    deleting the active profile drops the link, and the portal is back after the tolerance (1 s)."""
    control = f"http://127.0.0.1:{CONTROL_PORT}"
    probe = ("-H", "Host: connectivitycheck.gstatic.com")
    daemon.wait_for(lambda s: s["state"] == "portal")
    daemon.pair.dhcp_lease()
    assert daemon.connect(HOME, HOME_PASSWORD)[0] == 202
    status = daemon.wait_for(lambda s: s["state"] == "connected")
    assert (status["ssid"], status["online"]) == (HOME, True)
    assert daemon.curl(daemon.pair.device, f"{control}/setup-mode", "-X", "POST")[0] == 202
    status = daemon.wait_for(lambda s: s["state"] == "portal")
    assert status["online"] is False
    daemon.pair.dhcp_lease()
    assert daemon.curl(daemon.pair.phone, f"http://{GATEWAY}/generate_204", *probe)[0] == 302

    assert daemon.connect(HOME, HOME_PASSWORD)[0] == 202
    daemon.wait_for(lambda s: s["state"] == "connected")
    code, forgotten = daemon.curl(daemon.pair.device, f"{control}/forget", "-X", "POST")
    assert code == 200 and forgotten == {"forgotten": [HOME]}
    status = daemon.wait_for(lambda s: s["state"] != "connected" or s["ssid"] is None, timeout=10)
    assert status["ssid"] is None  # /status does not keep the forgotten network
    status = daemon.wait_for(lambda s: s["state"] == "portal", timeout=15)
    code, networks = daemon.curl(daemon.pair.device, f"{control}/networks")
    assert code == 200 and not [n for n in networks if n["saved"]]


def test_a_stale_portal_profile_is_replaced_and_sigterm_removes_everything(
    nm_sim: SimulatedNetworkManager, daemon: RunningDaemon
):
    daemon.wait_for(lambda s: s["state"] == "portal")
    assert [p["mode"] for p in nm_sim.profiles()] == ["ap"]
    children = psutil.Process(daemon.process.pid).children(recursive=True)
    assert any("dnsmasq" in " ".join(c.cmdline()) for c in children)
    assert len(forked_portal(daemon, children)) == 1  # the gunicorn worker; the daemon is its arbiter
    daemon.process.send_signal(signal.SIGTERM)
    assert daemon.process.wait(timeout=30) == 0
    assert not [child for child in children if child.is_running() and child.status() != psutil.STATUS_ZOMBIE]
    assert nm_sim.profiles() == []


def forked_portal(daemon: RunningDaemon, children: list[psutil.Process]) -> list[psutil.Process]:
    """The portal's gunicorn worker: forked from the daemon, so its command line."""
    own = psutil.Process(daemon.process.pid).cmdline()
    return [child for child in children if child.cmdline() == own]


def test_a_missing_device_exits_1_with_a_clear_message(nm_sim: SimulatedNetworkManager, tmp_path: Path):
    env = {**nm_sim.env, "PORTAL_INTERFACE": "wlan9", "WIFI_CONNECT_SOCKET": str(tmp_path / "d.sock")}
    done = subprocess.run([WIFI_CONNECT], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "wlan9" in done.stdout and "cannot run" in done.stdout


def test_sigterm_during_a_hanging_attempt_still_leaves_nothing_behind(
    nm_sim: SimulatedNetworkManager, daemon: RunningDaemon
):
    nm_sim.add_network("Flaky", "wpa-psk", HOME_PASSWORD, behaviour="hang")
    daemon.wait_for(lambda s: s["state"] == "portal")
    daemon.pair.dhcp_lease()
    code, networks = daemon.curl(daemon.pair.phone, f"http://{GATEWAY}/rescan", "-X", "POST")
    assert code == 200 and "Flaky" in [n["ssid"] for n in networks]  # rescan with the AP up
    code, _ = daemon.connect("Flaky", HOME_PASSWORD)
    assert code == 202
    daemon.wait_for(lambda s: s["state"] == "connecting")
    started = time.monotonic()
    daemon.process.send_signal(signal.SIGTERM)
    assert daemon.process.wait(timeout=60) == 0
    assert time.monotonic() - started < 8 + 15 + 5  # CONNECT_TIMEOUT + SHUTDOWN_GRACE + slack
    assert nm_sim.profiles() == []  # neither the AP nor the half-made profile


def test_children_die_with_a_sigkilled_daemon(nm_sim: SimulatedNetworkManager, daemon: RunningDaemon):
    """kill -9 (OOM killer, docker kill) gives no teardown: the kernel's parent-death signal does it."""
    daemon.wait_for(lambda s: s["state"] == "portal")
    children = psutil.Process(daemon.process.pid).children(recursive=True)
    names = [" ".join(child.cmdline()) for child in children]
    assert any("dnsmasq" in name for name in names) and len(forked_portal(daemon, children)) == 1
    run_dir = daemon.log_path.parent / "dnsmasq"  # next to the RPC socket, not a new /tmp dir per run
    assert any(f"--dhcp-leasefile={run_dir / 'dnsmasq.leases'}" in name for name in names)
    daemon.process.kill()
    daemon.process.wait(timeout=10)
    _, alive = psutil.wait_procs(children, timeout=10)
    orphans = [child for child in alive if child.status() != psutil.STATUS_ZOMBIE]
    for orphan in orphans:  # do not leave them running when the assertion fails
        orphan.kill()
    assert not orphans
