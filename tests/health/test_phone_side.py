"""Safe by default, seen from the phone side of a simulated device (network namespaces joined by a veth:
the phone on the open setup AP, the reporter on the device)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from devrig.netns import NetnsPair
from tests.health.conftest import CONSOLE_SCRIPT
from tests.health.helpers import stop_process, wait_until

pytestmark = pytest.mark.rig
PORT = 9199  # the default; free in the device's own namespace


def join_the_ap(pair: NetnsPair) -> None:
    """The phone takes an address on the AP's network (what its DHCP lease would give) and reaches the
    device, so a refused connection below is the reporter's doing, not a missing route."""
    phone_address = f"{pair.network.network_address + 50}/{pair.network.prefixlen}"
    pair.run(pair.phone, ["ip", "addr", "add", phone_address, "dev", pair.phone_interface], check=True)
    assert pair.run(pair.phone, ["busybox", "ping", "-c1", "-W2", pair.gateway]).returncode == 0


def start_on_device(pair: NetnsPair, env: dict[str, str], log: Path) -> subprocess.Popen:
    full = {**os.environ, "HEALTH_TELEMETRY": "0", "HEALTH_FAST_INTERVAL": "1", "HEALTH_SLOW_INTERVAL": "2",
            "HEALTH_WIFI_CONNECT_URL": "off", "HEALTH_LOG_AGENT_URL": "off", **env}  # fmt: skip
    with log.open("wb") as out:
        process = subprocess.Popen(pair.command(pair.device, [str(CONSOLE_SCRIPT)]), env=full, stdout=out,
                                   stderr=subprocess.STDOUT)  # fmt: skip

    def ready() -> bool:
        return (
            curl(pair, pair.device, f"http://127.0.0.1:{PORT}/readyz") == "200" or process.poll() is not None
        )

    wait_until(ready, 30, "reporter ready on the device")
    assert process.poll() is None, log.read_text()
    return process


def curl(pair: NetnsPair, namespace: str, url: str, *args: str) -> str:
    """The HTTP status, or "refused"/"error <code>" when no HTTP answer came."""
    result = pair.run(
        namespace, ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-m", "5", *args, url]
    )
    if result.returncode == 7:
        return "refused"
    return result.stdout if result.returncode == 0 else f"error {result.returncode}"


def test_the_default_listen_is_out_of_the_phones_reach(netns_pair: NetnsPair, tmp_path: Path) -> None:
    join_the_ap(netns_pair)
    process = start_on_device(netns_pair, {}, tmp_path / "reporter.log")
    try:
        for path in ("/", "/status", "/metrics"):
            assert (
                curl(netns_pair, netns_pair.phone, f"http://{netns_pair.gateway}:{PORT}{path}") == "refused"
            )
        assert curl(netns_pair, netns_pair.device, f"http://127.0.0.1:{PORT}/status") == "200"
    finally:
        stop_process(process)


def test_beyond_loopback_the_phone_needs_the_token(netns_pair: NetnsPair, tmp_path: Path) -> None:
    token = tmp_path / "token"
    token.write_text("phone-side-test-token\n")
    env = {"HEALTH_LISTEN": f"0.0.0.0:{PORT}", "HEALTH_AUTH_TOKEN_FILE": str(token)}
    join_the_ap(netns_pair)
    process = start_on_device(netns_pair, env, tmp_path / "reporter.log")
    try:
        base = f"http://{netns_pair.gateway}:{PORT}"
        for path in ("/", "/status", "/metrics", "/history"):
            assert curl(netns_pair, netns_pair.phone, base + path) == "401", path
        bearer = "Authorization: Bearer phone-side-test-token"
        assert curl(netns_pair, netns_pair.phone, base + "/status", "-H", bearer) == "200"
        assert curl(netns_pair, netns_pair.phone, base + "/healthz") == "200"  # liveness only, no data
    finally:
        stop_process(process)
