"""Quick-start command (1): the demo runs the whole bundle on a simulated device and cleans up after itself.

This machine plays the phone, as for a developer: the portal, the health dashboard and the log agent's
metrics are fetched over the demo's own veth (a namespace this test's demo created).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GATEWAY = "192.168.42.1"

pytestmark = [pytest.mark.rig, pytest.mark.slow]


def fetch(url: str, deadline: float) -> str:
    """GET ``url``, retrying until ``deadline`` while the demo's services are still coming up."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    while True:
        try:
            with opener.open(url, timeout=3) as response:
                return response.read().decode()
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def namespaces() -> set[str]:
    result = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True, timeout=10)
    return {line.split()[0] for line in result.stdout.splitlines() if line.strip()}


@pytest.mark.skipif(os.geteuid() != 0, reason="the demo creates network namespaces (root)")
def test_demo_runs_the_bundle_and_leaves_nothing_behind() -> None:
    before = namespaces()
    demo = subprocess.Popen(
        [sys.executable, "-m", "devrig.demo", "--duration", "40"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        deadline = time.monotonic() + 30
        networks = json.loads(fetch(f"http://{GATEWAY}/networks", deadline))
        assert {"HomeNetwork", "Office:5G\\", "Café ☕ Wi-Fi"} <= {n["ssid"] for n in networks}
        assert "<form" in fetch(f"http://{GATEWAY}/", deadline)
        assert "Device health" in fetch(f"http://{GATEWAY}:9199/", deadline)
        assert "log_agent_" in fetch(f"http://{GATEWAY}:24220/metrics", deadline)
        demo.terminate()
        output, _ = demo.communicate(timeout=60)
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.communicate(timeout=30)
    assert demo.returncode == 0, output
    assert "captive portal" in output and "heartbeat" in output, output
    assert namespaces() == before, "the demo left a network namespace behind"
