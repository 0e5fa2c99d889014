"""In-memory fakes of the controller's ports: pure policy tests, instant and deterministic."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from wifi_connect.errors import AdapterError, DeviceError
from wifi_connect.models import AccessPoint, Credentials, FailureReason, Security
from wifi_connect.ports import ActivationFailed, Connectivity


class FakeClock:
    """Monotonic and wall time that only move when a test (or ``sleep``) moves them."""

    def __init__(self) -> None:
        self.now = 0.0

    def monotonic(self) -> float:
        return self.now

    def time(self) -> float:
        return 1_800_000_000.0 + self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class FakeBackend:
    """NetworkManager as a few dicts. ``passwords`` says which networks exist and what they accept."""

    devices: tuple[str, ...] = ("wlan0",)
    client_device: str = "wlan0"  # where activations happen (the second device in two-interface tests)
    connectivity_value: Connectivity = Connectivity.NONE
    access_points: list[AccessPoint] = field(default_factory=list)
    passwords: dict[str, str] = field(default_factory=dict)
    saved: set[str] = field(default_factory=set)
    saved_comes_up: bool = False  # activate_saved succeeds (and brings connectivity back)
    online_after_activation: bool = True
    scan_fails: bool = False
    rescan_fails: bool = False  # only scans that ask the driver for a fresh scan fail
    ap_fails: bool = False
    calls: list[tuple] = field(default_factory=list)
    profiles: dict[str, Credentials] = field(default_factory=dict)
    autoconnect_off: set[str] = field(default_factory=set)
    ap_up: bool = False

    def _record(self, *call: object) -> None:
        self.calls.append(call)

    def find_wifi_device(self, interface: str | None) -> str:
        self._record("find_wifi_device", interface)
        if interface is not None and interface not in self.devices:
            raise DeviceError(f"{interface} is not a WiFi device")
        if not self.devices:
            raise DeviceError("no WiFi device")
        return interface or self.devices[0]

    def hardware_address(self, interface: str) -> str:
        return "02:00:00:00:" + {"wlan0": "3f:9a", "wlan1": "77:01"}.get(interface, "00:00")

    def hostname(self) -> str:
        return "kiosk-7"

    def ipv4_addresses(self, interface: str) -> list[str]:
        active = self.connectivity_value is Connectivity.FULL and interface == self.client_device
        return ["192.168.1.23"] if active else []

    def connectivity(self, check: bool = False) -> Connectivity:
        self._record("connectivity", check)
        return self.connectivity_value

    def scan(self, interface: str, rescan: bool) -> list[AccessPoint]:
        self._record("scan", interface, rescan)
        if self.scan_fails or (rescan and self.rescan_fails):
            raise AdapterError("Scanning not allowed")
        return list(self.access_points)

    def saved_wifi_ssids(self) -> set[str]:
        return set(self.saved)

    def active_wifi_ssid(self, interface: str) -> str | None:
        return next(iter(self.saved), None) if self.connectivity_value is Connectivity.FULL else None

    def start_access_point(self, interface: str, ssid: str, passphrase: str | None, gateway: str) -> None:
        self._record("start_access_point", interface, ssid, gateway)
        if self.ap_fails:
            raise AdapterError("AP mode not supported")
        self.ap_up = True

    def stop_access_point(self, ssid: str) -> None:
        self._record("stop_access_point", ssid)
        self.ap_up = False

    def set_aside_profiles(self, ssid: str) -> dict[str, bool]:
        self._record("set_aside_profiles", ssid)
        set_aside = {u: u not in self.autoconnect_off for u, c in self.profiles.items() if c.ssid == ssid}
        self.autoconnect_off.update(set_aside)
        return set_aside

    def restore_profiles(self, set_aside: Mapping[str, bool]) -> None:
        self._record("restore_profiles", dict(set_aside))
        for uuid, autoconnect in set_aside.items():
            (self.autoconnect_off.discard if autoconnect else self.autoconnect_off.add)(uuid)

    def add_profile(self, interface: str, credentials: Credentials) -> str:
        uuid = f"uuid-{len(self.calls)}"
        self._record("add_profile", interface, credentials.ssid)
        self.profiles[uuid] = credentials
        return uuid

    def activate(self, uuid: str, credentials: Credentials, timeout: float) -> None:
        self._record("activate", uuid, timeout)
        expected = self.passwords.get(credentials.ssid)
        if expected is None:
            raise ActivationFailed(FailureReason.NOT_FOUND, "no such network")
        if credentials.passphrase != expected:
            raise ActivationFailed(FailureReason.WRONG_PASSWORD, "secrets were required")
        self.saved.add(credentials.ssid)
        if self.online_after_activation:
            self.connectivity_value = Connectivity.FULL

    def delete_profile(self, uuid: str) -> None:
        self._record("delete_profile", uuid)
        self.profiles.pop(uuid, None)
        self.autoconnect_off.discard(uuid)

    def activate_saved(self, interface: str, timeout: float) -> bool:
        self._record("activate_saved", interface)
        if self.saved_comes_up:
            self.connectivity_value = Connectivity.FULL
        return self.saved_comes_up

    def forget_wifi_networks(self) -> Sequence[str]:
        forgotten = sorted(self.saved)
        self.saved.clear()
        self.profiles.clear()
        return forgotten

    def names(self) -> list[str]:
        return [call[0] for call in self.calls]


class FakeProcess:
    """dnsmasq or the portal web server: up or down, and it can 'die'."""

    def __init__(self) -> None:
        self.running = False
        self.starts = 0

    def start(self) -> None:
        self.running = True
        self.starts += 1

    def stop(self) -> None:
        self.running = False

    def alive(self) -> bool:
        return self.running


class RecordingHook:
    def __init__(self) -> None:
        self.changes: list[dict[str, str]] = []

    def state_changed(self, change: dict[str, str]) -> None:
        self.changes.append(change)


class FakeProbe:
    def __init__(self, online: bool) -> None:
        self.answer = online

    def online(self) -> bool:
        return self.answer


def access_point(
    ssid: str,
    signal: int = 60,
    security: Security = Security.WPA,
    frequency: int = 2437,
    bssid: str = "00:11:22:33:44:55",
) -> AccessPoint:
    return AccessPoint(ssid=ssid, bssid=bssid, security=security, signal=signal, frequency=frequency)
