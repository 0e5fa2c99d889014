"""Quick-start command (1): the demo runs the whole bundle on a simulated device, with exactly the compose
file's environment, and cleans up after itself.

This machine plays the phone on the open setup access point (the demo's own veth, a namespace this test's
demo created): from here only the captive portal, DNS and DHCP may answer; everything else on the device
listens on its loopback (or a Unix socket) and is reached from inside the device namespace, as an app on the
device would.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GATEWAY = "192.168.42.1"
PORTAL_PORT = 80
LAN_PORTS = {"tcp": {PORTAL_PORT, 53}, "udp": {53, 67}}  # the portal, dnsmasq's DNS and DHCP

pytestmark = [pytest.mark.rig, pytest.mark.slow]


def fetch(url: str, deadline: float, namespace: str | None = None) -> str:
    """GET ``url`` (from inside ``namespace`` when given), retrying until ``deadline`` while the demo's
    services are still coming up."""
    while True:
        try:
            if namespace is None:
                opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
                with opener.open(url, timeout=3) as response:
                    return response.read().decode()
            result = subprocess.run(["ip", "netns", "exec", namespace, "curl", "-sf", "--max-time", "3", url],
                                    capture_output=True, text=True, timeout=10)
            if result.returncode == 0:
                return result.stdout
            raise OSError(f"curl {url}: exit {result.returncode}")
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def namespaces() -> set[str]:
    result = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True, timeout=10)
    return {line.split()[0] for line in result.stdout.splitlines() if line.strip()}


def open_tcp_ports(host: str) -> set[int]:
    """A connect scan of every TCP port (traffic only to the demo's own namespace)."""
    def probe(port: int) -> int | None:
        with socket.socket() as sock:
            sock.settimeout(1.0)
            return port if sock.connect_ex((host, port)) == 0 else None

    with ThreadPoolExecutor(max_workers=256) as pool:
        return {port for port in pool.map(probe, range(1, 65536)) if port is not None}


def listeners(namespace: str) -> list[tuple[str, str, int, str]]:
    """(protocol, local address, port, process) of every listening socket inside ``namespace``."""
    result = subprocess.run(["ip", "netns", "exec", namespace, "ss", "-H", "-tulnp"],
                            capture_output=True, text=True, check=True, timeout=10)
    found = []
    for line in result.stdout.splitlines():
        fields = line.split()
        address, _, port = fields[4].rpartition(":")
        found.append((fields[0], address.strip("[]").split("%")[0], int(port), " ".join(fields[6:])))
    return found


def is_loopback(address: str) -> bool:
    return address.startswith("127.") or address == "::1"


@pytest.mark.skipif(os.geteuid() != 0, reason="the demo creates network namespaces (root)")
def test_demo_runs_the_bundle_exposes_only_the_portal_and_leaves_nothing_behind(tmp_path: Path) -> None:
    before = namespaces()
    state_file = tmp_path / "demo.json"
    demo = subprocess.Popen(
        [sys.executable, "-m", "devrig.demo", "--duration", "90", "--state-file", str(state_file)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        deadline = time.monotonic() + 60
        networks = json.loads(fetch(f"http://{GATEWAY}/networks", deadline))
        assert {"HomeNetwork", "Office:5G\\", "Café ☕ Wi-Fi"} <= {n["ssid"] for n in networks}
        assert "<form" in fetch(f"http://{GATEWAY}/", deadline)
        device = json.loads(state_file.read_text())["device_namespace"]
        assert "Device health" in fetch("http://127.0.0.1:9199/", deadline, device)
        assert "log_agent_" in fetch("http://127.0.0.1:24220/metrics", deadline, device)

        # the phone's view: only the portal and DNS accept TCP connections
        assert open_tcp_ports(GATEWAY) == LAN_PORTS["tcp"]
        # the device's view: every other listener is on loopback
        exposed = [(proto, address, port, process) for proto, address, port, process in listeners(device)
                   if not is_loopback(address) and port not in LAN_PORTS[proto]]
        assert not exposed, f"listening beyond loopback: {exposed}"
        demo.terminate()
        output, _ = demo.communicate(timeout=60)
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.communicate(timeout=30)
    assert demo.returncode == 0, output
    assert "captive portal" in output and "heartbeat" in output, output
    assert namespaces() == before, "the demo left a network namespace behind"
