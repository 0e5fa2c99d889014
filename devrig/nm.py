"""``SimulatedNetworkManager``: a private system bus + dbusmock running devrig's NM template.

The real ``nmcli`` talks to it when its environment carries ``sim.env`` (DBUS_SYSTEM_BUS_ADDRESS).
Control calls go through ``busctl`` to the template's org.freedesktop.DBus.Mock methods, so the
project venv needs no D-Bus bindings.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from devrig.bus import PrivateSystemBus
from devrig.proc import StartedWith, stop_process

TEMPLATE = Path(__file__).with_name("nm_template.py")
SYSTEM_PYTHON = "/usr/bin/python3"  # dbusmock + dbus-python live in Debian's python, not the venv
NM_NAME = "org.freedesktop.NetworkManager"
MOCK_PATH = "/org/freedesktop"
MOCK_IFACE = "org.freedesktop.DBus.Mock"
DEVICE_DISCONNECTED = 30
SECURITIES = ("open", "wep", "wpa-psk", "sae", "wpa-eap")


class SimulatedNetworkManager(StartedWith):
    """Start with ``with SimulatedNetworkManager() as sim:``; see devrig/__init__.py for a tour."""

    def __init__(self, interface: str = "wlan0") -> None:
        self.interface = interface
        self.bus = PrivateSystemBus()
        self._mock: subprocess.Popen[bytes] | None = None
        self.log_path = self.bus.run_dir / "dbusmock.log"

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def env(self) -> dict[str, str]:
        """Environment for nmcli (and anything else) to reach this NetworkManager."""
        return self.bus.env()

    def start(self, timeout: float = 15.0) -> None:
        self.bus.start()
        try:
            self._start_mock(timeout)
        except BaseException:
            self.stop()
            raise

    def restart(self, timeout: float = 15.0) -> None:
        """NetworkManager restarts: its name changes owner on the same bus. The simulator forgets everything
        (one WiFi device again, no networks, no profiles)."""
        if self._mock is not None:
            stop_process(self._mock)
            self._mock = None
        self._start_mock(timeout)

    def _start_mock(self, timeout: float) -> None:
        with self.log_path.open("ab") as log:
            self._mock = subprocess.Popen(
                [SYSTEM_PYTHON, "-m", "dbusmock", "--system", "--template", str(TEMPLATE)],
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self._wait_for_name(timeout)
        self.call("AddWiFiDevice", "ssi", "wlan0", self.interface, str(DEVICE_DISCONNECTED))

    def _wait_for_name(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._mock is not None and self._mock.poll() is not None:
                raise RuntimeError(f"dbusmock exited: {self.log_path.read_text(errors='replace')[-2000:]}")
            owned = self._busctl(
                "call",
                "org.freedesktop.DBus",
                "/org/freedesktop/DBus",
                "org.freedesktop.DBus",
                "NameHasOwner",
                "s",
                NM_NAME,
                check=False,
            )
            if owned and owned.get("data") == [True]:
                return
            time.sleep(0.05)
        raise RuntimeError("simulated NetworkManager did not appear on the bus")

    def stop(self) -> None:
        if self._mock is not None:
            stop_process(self._mock)
            self._mock = None
        self.bus.stop()

    # -- the world the device sees -----------------------------------------------------------

    def add_network(
        self,
        ssid: str,
        security: str = "wpa-psk",
        password: str = "",
        *,
        identity: str = "",
        signal: int = 70,
        frequency: int = 2437,
        hidden: bool = False,
        behaviour: str = "ok",
        aps: int = 1,
        address: str = "",
    ) -> list[str]:
        """Make a network audible. ``security``: open | wep | wpa-psk | sae | wpa-eap. ``password`` (and
        ``identity`` for wpa-eap) are what activation accepts. ``aps`` BSSIDs, each 5 weaker than the last.
        ``behaviour``: ok | hang (activation never completes) | no_ip (fails like a DHCP timeout).
        ``address``: what the device gets there ("a.b.c.d/prefix", default 192.168.1.23/24)."""
        if security not in SECURITIES:
            raise ValueError(f"security must be one of {SECURITIES}, not {security!r}")
        spec = {
            "ssid": ssid,
            "security": security,
            "password": password,
            "identity": identity,
            "signal": signal,
            "frequency": frequency,
            "hidden": hidden,
            "behaviour": behaviour,
            "aps": aps,
            "address": address,
        }
        spec_path = self._private_file(json.dumps(spec))
        try:
            return json.loads(self.call("AddNetwork", "s", str(spec_path)))
        finally:
            spec_path.unlink(missing_ok=True)

    def remove_network(self, ssid: str) -> None:
        """The network vanishes; a connection to it is lost (reason SSID_NOT_FOUND)."""
        self.call("RemoveNetwork", "s", ssid)

    def set_behaviour(self, ssid: str, behaviour: str) -> None:
        self.call("SetNetworkBehaviour", "ss", ssid, behaviour)

    def set_connectivity(self, value: str) -> None:
        """full | limited | portal | none | unknown: now (if connected) and for later connections."""
        self.call("SetConnectivityState", "s", value)

    def refuse_scan_in_ap_mode(self, refuse: bool = True) -> None:
        """While an AP-mode profile is up, rescans fail ("Scanning not allowed"), as on many drivers."""
        self.call("RefuseScanInApMode", "b", "true" if refuse else "false")

    def refuse_every_scan(self, refuse: bool = True) -> None:
        """Every rescan fails (a busy driver); the list NM already has is still readable."""
        self.call("RefuseEveryScan", "b", "true" if refuse else "false")

    def set_managed(self, interface: str, managed: bool) -> None:
        """Mark a device unmanaged (``nmcli device status`` shows "unmanaged") or managed again."""
        self.call("SetDeviceManaged", "sb", interface, "true" if managed else "false")

    def add_wifi_device(self, interface: str) -> None:
        """Another WiFi device (its own MAC; it hears every network), e.g. a USB dongle for the AP."""
        self.call("AddWiFiDevice", "ssi", interface, interface, str(DEVICE_DISCONNECTED))

    def set_hostname(self, hostname: str) -> None:
        """The host name NetworkManager reports (``nmcli general hostname``)."""
        self.call("SetHostname", "s", hostname)

    def add_ethernet_device(self, interface: str = "eth0", connected: bool = False) -> None:
        """A wired device (not WiFi), e.g. to test device selection."""
        self.call("AddEthernetDevice", "ssi", interface, interface, "100" if connected else "30")

    def drop_connection(self, interface: str | None = None) -> None:
        """The active connection on the interface (default: the first WiFi device) is lost (out of range)."""
        self.call("DropConnection", "s", interface or self.interface)

    def reboot_autoconnect(self, wait: float = 5.0) -> str | None:
        """Simulated reboot: no secret agents, NM activates the best saved profile with saved secrets only.
        Returns the UUID that became active, or None."""
        uuid = self.call("Autoconnect", "s", self.interface)
        if not uuid:
            return None
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            state = self.nmcli(
                "-t", "-f", "GENERAL.STATE,GENERAL.CONNECTION", "device", "show", self.interface
            )
            if "100 (connected)" in state.stdout:
                return uuid
            if "(disconnected)" in state.stdout:
                return None
            time.sleep(0.05)
        return None

    # -- inspection --------------------------------------------------------------------------

    def profiles(self) -> list[dict[str, Any]]:
        """Every saved profile: id, uuid, ssid, mode, hidden, key_mgmt, settings, secrets."""
        return json.loads(self.call("ListProfiles", ""))

    def saved_secrets(self, ssid: str) -> dict[str, dict[str, str]]:
        """Secrets stored in the (first) client profile for ``ssid``; {} if none or no profile."""
        for profile in self.profiles():
            if profile["ssid"] == ssid and profile["mode"] != "ap":
                return profile["secrets"]
        return {}

    def nmcli(self, *args: str, timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
        """Run the real nmcli against this simulator (tests and the demo; never for secrets)."""
        return subprocess.run(
            ["nmcli", *args], env=self.env, capture_output=True, text=True, timeout=timeout, check=False
        )

    # -- plumbing ----------------------------------------------------------------------------

    def _private_file(self, text: str) -> Path:
        """A 0600 file in the bus's private directory: how a password reaches the simulator without
        appearing in busctl's argv (tests running alongside watch every command line for secrets)."""
        descriptor, name = tempfile.mkstemp(prefix="spec-", suffix=".json", dir=self.bus.run_dir)
        with os.fdopen(descriptor, "w") as spec_file:
            spec_file.write(text)
        return Path(name)

    def call(self, method: str, signature: str, *args: str) -> Any:
        """Call a method of the template's control interface; returns its (single) result."""
        reply = self._busctl("call", NM_NAME, MOCK_PATH, MOCK_IFACE, method, signature, *args)
        data = reply.get("data", []) if reply else []
        return data[0] if data else None

    def _busctl(self, *args: str, check: bool = True) -> dict[str, Any] | None:
        result = subprocess.run(
            ["busctl", f"--address={self.bus.address}", "--json=short", *args],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
        if result.returncode != 0:
            if check:
                raise RuntimeError(f"busctl {args[4] if len(args) > 4 else args}: {result.stderr.strip()}")
            return None
        return json.loads(result.stdout) if result.stdout.strip() else {}
