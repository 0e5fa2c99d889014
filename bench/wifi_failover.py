"""Seconds from a failed connection attempt (wrong password) to the setup access point being back.

The real ``wifi-connect`` daemon runs in a devrig "device" namespace over the simulated NetworkManager. A
"phone" namespace posts a wrong password; from the moment ``POST /connect`` answered we measure
``failed_s`` (the daemon recorded the failure), ``ap_profile_s`` (the AP profile is back in NetworkManager)
and ``portal_s`` (the phone has a new DHCP lease and the portal page again). The simulator rejects the
password at once, so this is the service's own recovery time, not a driver's. Needs root. Run from the
repository root: ``.venv/bin/python bench/wifi_failover.py [--runs 5]``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))  # devrig is the repository's simulated device, not an installed package

from devrig.netns import NetnsPair  # noqa: E402
from devrig.nm import SimulatedNetworkManager  # noqa: E402

WIFI_CONNECT = str(Path(sys.executable).with_name("wifi-connect"))
RESULTS = REPO_ROOT / "bench" / "results" / "wifi_failover.json"
SSID, PASSWORD = "HomeNet", "correct horse battery"
CONTROL = "http://127.0.0.1:8081"


def curl(pair: NetnsPair, namespace: str, url: str, *args: str) -> tuple[int, str]:
    done = pair.run(namespace, ["curl", "-s", "-m", "2", "-w", "\n%{http_code}", *args, url], timeout=5)
    body, _, code = done.stdout.rpartition("\n")
    return int(code or 0), body


def status(pair: NetnsPair) -> dict:
    code, body = curl(pair, pair.device, f"{CONTROL}/status")
    return json.loads(body) if code == 200 else {}


def wait_until(check: Callable[[], bool], timeout: float = 60.0, step: float = 0.05) -> float:
    """Seconds until ``check()`` holds (polled every ``step``)."""
    began = time.monotonic()
    while time.monotonic() - began < timeout:
        if check():
            return time.monotonic() - began
        time.sleep(step)
    raise TimeoutError("condition not reached")


def ap_active(sim: SimulatedNetworkManager) -> bool:
    """The daemon deletes the AP profile while it tries a network and re-creates + activates it after."""
    return any(profile.get("mode") == "ap" for profile in sim.profiles())


def phone_sees_portal(pair: NetnsPair) -> bool:
    try:
        pair.dhcp_lease(timeout=3)
    except (RuntimeError, subprocess.TimeoutExpired):
        return False
    return curl(pair, pair.phone, f"http://{pair.gateway}/")[0] == 200


def one_failure(sim: SimulatedNetworkManager, pair: NetnsPair) -> dict:
    body = json.dumps({"ssid": SSID, "passphrase": "wrong password!"})
    code, _ = curl(pair, pair.phone, f"http://{pair.gateway}/connect", "-H", "Content-Type: application/json",
                   "--data-binary", body)
    assert code == 202, code
    began = time.monotonic()
    failed = _since(began, lambda: (status(pair).get("last_attempt") or {}).get("result") == "failed")
    ap_profile = _since(began, lambda: ap_active(sim))
    portal = _since(began, lambda: phone_sees_portal(pair))
    return {"failed_s": round(failed, 3), "ap_profile_s": round(ap_profile, 3), "portal_s": round(portal, 3)}


def _since(began: float, check: Callable[[], bool]) -> float:
    wait_until(check)
    return time.monotonic() - began


def measure(runs: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="wc-bench-") as work, SimulatedNetworkManager() as sim, \
            NetnsPair() as pair:
        sim.add_network(SSID, "wpa-psk", PASSWORD, signal=80)
        env = {**sim.env, "GRACE_PERIOD": "0", "CHECK_INTERVAL": "0.2", "CONNECT_TIMEOUT": "8",
               "RETRY_INTERVAL": "0", "WIFI_CONNECT_SOCKET": f"{work}/daemon.sock"}
        with open(Path(work) / "daemon.log", "wb") as log:
            daemon = pair.popen(pair.device, [WIFI_CONNECT], env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_until(lambda: status(pair).get("state") == "portal", timeout=60)
            wait_until(lambda: phone_sees_portal(pair), timeout=30)
            samples = [one_failure(sim, pair) for _ in range(runs)]
        finally:
            daemon.terminate()
            daemon.wait(timeout=30)
    summary = {key: {"median": round(statistics.median(s[key] for s in samples), 3),
                     "max": max(s[key] for s in samples)} for key in samples[0]}
    return {"benchmark": "wrong password -> setup AP back (real daemon, simulated NetworkManager)",
            "runs": runs, "summary": summary, "samples": samples}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    result = measure(parser.parse_args().runs)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
