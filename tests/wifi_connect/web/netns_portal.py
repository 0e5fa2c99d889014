"""The portal as it runs on a device, inside a devrig network namespace: the service's dnsmasq adapter and
the portal (gunicorn forked as the daemon forks it) on the gateway, a fake daemon behind the RPC socket.

``python -m tests.wifi_connect.web.netns_portal IFACE GATEWAY RANGE`` is run inside the device namespace
(``ip netns exec``) to start the real ``adapters.dnsmasq.Dnsmasq`` there; it stops it on SIGTERM.
"""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from tests.wifi_connect.web.gunicorn_server import REPO_ROOT, fake_daemon, portal_server

DHCP_RANGE = "192.168.42.10,192.168.42.50"


@contextlib.contextmanager
def portal_in_namespace(pair, service=None, log_dir: Path | None = None,
                        **limits: object) -> Iterator[object]:
    """dnsmasq + portal (port 80) in ``pair.device``; yields the fake service once the phone reaches it."""
    dnsmasq = pair.popen(pair.device, [sys.executable, "-m", "tests.wifi_connect.web.netns_portal",
                                       pair.interface, pair.gateway, DHCP_RANGE],
                         cwd=REPO_ROOT, stdout=subprocess.PIPE, text=True)
    try:
        if dnsmasq.stdout.readline().strip() != "ready":
            raise RuntimeError("dnsmasq did not start in the device namespace")
        with fake_daemon(service) as (fake, socket_path), \
                portal_server(pair.gateway, 80, socket_path, prefix=["ip", "netns", "exec", pair.device],
                              log_path=log_dir / "gunicorn.log" if log_dir else None, **limits):
            wait_for_portal(pair)
            yield fake
    finally:
        dnsmasq.terminate()
        dnsmasq.wait(timeout=10)


def wait_for_portal(pair, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        # Asked from inside the device: the phone has no address until it takes a DHCP lease.
        result = pair.run(pair.device, ["curl", "-s", "-o", "/dev/null", "-m", "1", f"http://{pair.gateway}/"])
        if result.returncode == 0:
            return
        time.sleep(0.2)
    raise TimeoutError(f"the portal did not answer on {pair.gateway}:80 within {timeout} s")


def _serve_dnsmasq(interface: str, gateway: str, dhcp_range: str) -> None:
    from wifi_connect.adapters.dnsmasq import Dnsmasq

    dhcp = Dnsmasq(interface=interface, gateway=gateway, dhcp_range=dhcp_range)
    dhcp.start()
    signal.signal(signal.SIGTERM, lambda *_: None)
    print("ready", flush=True)
    try:
        signal.pause()  # until SIGTERM
    finally:
        dhcp.stop()


if __name__ == "__main__":
    _serve_dnsmasq(*sys.argv[1:4])
