"""Run the whole bundle on a simulated device: ``bash scripts/demo.sh`` (root).

The "device" is a network namespace, as in production where every sidecar runs with host networking:
wifi-connect (on a simulated NetworkManager with a few networks), the log agent (stdout sink), the health
reporter and the example application all run inside it. Its WiFi interface is a veth whose other end
stays on this machine, so this machine plays the phone: open the portal URL in a browser here.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from devrig.netns import NetnsPair
from devrig.nm import SimulatedNetworkManager
from devrig.proc import stop_process

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PHONE_ADDRESS = "192.168.42.254/24"  # this machine's end of the veth, outside the demo's DHCP range
NETWORKS = [
    # ssid, security, password, identity, signal, frequency
    ("HomeNetwork", "wpa-psk", "correct-horse", "", 82, 2437),
    ("CoffeeShop", "open", "", "", 64, 2412),
    ("Office:5G\\", "wpa-psk", "office-pass-123", "", 55, 5180),
    ("Corp", "wpa-eap", "s3cret-pass", "alice", 47, 5240),
    ("Café ☕ Wi-Fi", "wpa-psk", "espresso-99", "", 30, 2462),
]


def bring_phone_end_home(pair: NetnsPair) -> str:
    """Move the phone end of the veth into this machine's namespace so a local browser is the phone."""
    host_interface = f"wcd{pair.device[-6:]}"
    subprocess.run(["ip", "-n", pair.phone, "link", "set", pair.phone_interface, "name", host_interface,
                    "netns", "1"], check=True, timeout=10)
    subprocess.run(["ip", "addr", "add", PHONE_ADDRESS, "dev", host_interface], check=True, timeout=10)
    subprocess.run(["ip", "link", "set", host_interface, "up"], check=True, timeout=10)
    return host_interface


def compose_environment(service: str) -> dict[str, str]:
    """What docker-compose.yml sets for ``service``: the demo runs the bundle with exactly that."""
    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    return {key: str(value) for key, value in (services[service].get("environment") or {}).items()}


def sidecar_commands(work: Path, sim_env: dict[str, str]) -> dict[str, tuple[list[str], dict[str, str]]]:
    """Each sidecar's command and environment: the compose file's, with what the device would provide
    replaced by the simulation (the system bus of the simulated NetworkManager, the volumes as folders of
    the demo's temporary directory, the device's balena identity)."""
    device = {"BALENA_DEVICE_UUID": "5ca1ab1e00000000000000000000de42", "BALENA_DEVICE_NAME_AT_INIT": "demo-device"}
    # a container's private paths (its volumes, its /run) become folders of the demo's temporary directory
    volumes = {"LOG_AGENT_SPOOL_DIR": str(work / "spool")}
    private_run = {"WIFI_CONNECT_SOCKET": str(work / "wifi-connect.sock")}
    return {
        "log-agent": ([str(BIN / "log-agent")], {**compose_environment("log-agent"), **device, **volumes}),
        "wifi-connect": ([str(BIN / "wifi-connect")],
                         {**compose_environment("wifi-connect"), **device, **sim_env, **private_run}),
        "health-reporter": ([str(BIN / "health-reporter")], {**compose_environment("health"), **device}),
        "app": ([sys.executable, str(ROOT / "examples/app/app.py")], compose_environment("app")),
    }


def print_banner(pair: NetnsPair) -> None:
    gateway = pair.gateway
    print(f"""
edge-sidecars demo is running. The device is network namespace {pair.device}; this machine is the phone.

  captive portal      http://{gateway}/            (try a wrong password, then the right one)

Everything else listens on the device's loopback only, as on a real device (nothing but the portal, DNS and
DHCP answers on the access point):
  health dashboard    ip netns exec {pair.device} curl -s 127.0.0.1:9199/
  log agent metrics   ip netns exec {pair.device} curl -s 127.0.0.1:24220/metrics
  wifi-connect API    ip netns exec {pair.device} curl -s 127.0.0.1:8081/status

Networks the device hears (password):""")
    for ssid, security, password, identity, _signal, _freq in NETWORKS:
        who = f"identity {identity}, " if identity else ""
        print(f"  {ssid!r:20} {security:8} {who}{password or '(open)'}")
    print("\nEvery sidecar's log lines follow (the log agent prints what it ships).", flush=True)
    print("Ctrl-C stops everything.\n", flush=True)


def run(duration: float | None, state_file: Path | None = None) -> int:
    if os.geteuid() != 0:
        print("demo: run as root (it creates network namespaces)", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="edge-sidecars-demo-"))
    processes: list[subprocess.Popen] = []
    with SimulatedNetworkManager(interface="wlan0") as sim, NetnsPair(interface="wlan0") as pair:
        for ssid, security, password, identity, strength, frequency in NETWORKS:
            sim.add_network(ssid, security, password, identity=identity, signal=strength, frequency=frequency)
        bring_phone_end_home(pair)
        for argv, extra in sidecar_commands(work, sim.env).values():
            env = {**os.environ, "PYTHONUNBUFFERED": "1", **extra}
            processes.append(pair.popen(pair.device, argv, env=env, start_new_session=True))
            time.sleep(0.5)  # the log agent listens before the others start logging to it
        print_banner(pair)
        if state_file is not None:  # for tests: where the device is
            state_file.write_text(json.dumps({"device_namespace": pair.device, "gateway": pair.gateway}))
        stop = {"now": False}
        signal.signal(signal.SIGTERM, lambda *_: stop.update(now=True))
        deadline = time.monotonic() + duration if duration else None
        try:
            while not stop["now"] and (deadline is None or time.monotonic() < deadline):
                time.sleep(0.5)
        except KeyboardInterrupt:
            pass
        for process in reversed(processes):
            stop_process(process, grace=10)
    print("demo: stopped, namespaces and simulated NetworkManager removed")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=float, help="stop after this many seconds (default: until Ctrl-C)")
    parser.add_argument("--state-file", type=Path, help="write the device namespace and gateway here (JSON)")
    arguments = parser.parse_args()
    return run(arguments.duration, arguments.state_file)


if __name__ == "__main__":
    sys.exit(main())
