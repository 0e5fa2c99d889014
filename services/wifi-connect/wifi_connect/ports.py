"""The contracts between policy and the outside world.

``portal.controller`` depends only on these protocols; ``adapters`` implement them against nmcli,
dnsmasq and HTTP, and the unit tests implement them with in-memory fakes.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from .models import AccessPoint, Credentials, FailureReason


class Connectivity(enum.StrEnum):
    """NetworkManager's connectivity values (``nmcli networking connectivity``)."""

    UNKNOWN = "unknown"
    NONE = "none"
    PORTAL = "portal"
    LIMITED = "limited"
    FULL = "full"


@dataclass(frozen=True, slots=True)
class NmChange:
    """One thing NetworkManager told us (``adapters.nm_monitor``). ``connectivity``: NM's new verdict,
    when the signal said it; ``resync``: the monitor reconnected or NM restarted, so changes may have gone
    unseen."""

    text: str = ""
    device: str | None = None
    connectivity: Connectivity | None = None
    resync: bool = False


class ActivationFailed(Exception):
    """Raised by ``NetworkBackend.activate`` with the reason the user will be shown."""

    def __init__(self, reason: FailureReason, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else str(reason))
        self.reason = reason
        self.detail = detail


class NetworkBackend(Protocol):
    """NetworkManager as seen by the policy. Every call is bounded by a timeout and raises AdapterError."""

    def find_wifi_device(self, interface: str | None) -> str:
        """The named device, or the first managed WiFi device; DeviceError says why not."""

    def hardware_address(self, interface: str) -> str:
        """The device's MAC address (``aa:bb:cc:dd:ee:ff``)."""

    def hostname(self) -> str:
        """The host's name as NetworkManager knows it (the one avahi publishes as ``<name>.local``)."""

    def ipv4_addresses(self, interface: str) -> list[str]:
        """The device's IPv4 addresses (without prefix) on that interface; [] when it has none."""

    def connectivity(self, check: bool = False) -> Connectivity:
        """NM's own connectivity verdict (any device, Ethernet included); ``check``: NM re-checks first."""

    def scan(self, interface: str, rescan: bool) -> list[AccessPoint]:
        """Access points the device hears; ``rescan`` asks the driver for a fresh scan first."""

    def saved_wifi_ssids(self) -> set[str]:
        """SSIDs of saved infrastructure (non-AP) WiFi profiles."""

    def active_wifi_ssid(self, interface: str) -> str | None:
        """SSID of the connection active on the device, or None."""

    def start_access_point(self, interface: str, ssid: str, passphrase: str | None, gateway: str) -> None:
        """Create and activate the portal's AP profile (mode ap, band bg, ipv4 manual gateway/24)."""

    def stop_access_point(self, ssid: str) -> None:
        """Deactivate and delete every AP-mode profile with that SSID (also used for stale ones)."""

    def set_aside_profiles(self, ssid: str) -> Mapping[str, bool]:
        """Turn autoconnect off on every saved infrastructure profile for that SSID (so NetworkManager
        does not pick one during an attempt); returns {uuid: the autoconnect it had}. All or nothing."""

    def restore_profiles(self, set_aside: Mapping[str, bool]) -> None:
        """Give profiles set aside their autoconnect back (the attempt failed: they still work)."""

    def add_profile(self, interface: str, credentials: Credentials) -> str:
        """Create (not activate) a client profile without its secret; returns the profile's UUID."""

    def activate(self, uuid: str, credentials: Credentials, timeout: float) -> None:
        """Bring the profile up, handing the secret over without argv; raises ActivationFailed."""

    def delete_profile(self, uuid: str) -> None:
        """Delete one profile by UUID."""

    def activate_saved(self, interface: str, timeout: float) -> bool:
        """Let NM bring up the best saved profile on the device; True when one became active."""

    def forget_wifi_networks(self) -> Sequence[str]:
        """Delete every saved infrastructure WiFi profile; returns the SSIDs forgotten."""


class Dhcp(Protocol):
    """The portal's DHCP + wildcard DNS server (dnsmasq), supervised by the caller."""

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def alive(self) -> bool: ...


class PortalService(Protocol):
    """What the HTTP apps may ask of the daemon (``rpc.ControllerClient`` in production, fakes in tests).

    The web handlers never decide anything: they validate nothing themselves, they forward the request
    and render the answer. Shapes (JSON-ready dicts):

    status  -> {"state", "interface", "ssid", "portal_ssid", "gateway", "online",
                "last_attempt": None | {"id", "ssid", "result": "pending"|"connected"|"failed",
                                        "reason": None | FailureReason, "message",
                                        "started_at", "finished_at"}}
    networks/rescan -> [Network.to_json(), ...] strongest first
    connect -> the new attempt (as in last_attempt); raises InputError(field) or BusyError
    """

    def status(self) -> dict: ...

    def networks(self) -> list[dict]: ...

    def rescan(self) -> list[dict]: ...

    def connect(self, fields: dict[str, str]) -> dict: ...

    def touch(self) -> None:
        """A person is using the portal (any portal request): the activity timeout is cancelled."""

    def enter_setup_mode(self) -> dict: ...

    def forget_networks(self) -> dict: ...
