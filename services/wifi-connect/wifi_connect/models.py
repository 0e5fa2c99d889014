"""Value types shared by adapters, policy and web. They import nothing from the service."""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field


class Security(enum.StrEnum):
    """balena wifi-connect's security names, as ``GET /networks`` reports them."""

    NONE = "none"
    WEP = "wep"
    WPA = "wpa"  # WPA/WPA2/WPA3 personal
    ENTERPRISE = "enterprise"

    @classmethod
    def from_nmcli(cls, text: str) -> Security:
        """Map nmcli's SECURITY column ("WPA2 802.1X", "WPA1 WPA2", "WEP", "") to a Security."""
        words = text.split()
        if "802.1X" in words:
            return cls.ENTERPRISE
        if any(word.startswith("WPA") for word in words):
            return cls.WPA
        if "WEP" in words:
            return cls.WEP
        return cls.NONE


@dataclass(frozen=True, slots=True)
class AccessPoint:
    """One scanned BSSID. ``ssid`` is the exact SSID text (unescaped); hidden APs have ``ssid == ""``."""

    ssid: str
    bssid: str
    security: Security
    signal: int  # 0-100
    frequency: int  # MHz
    in_use: bool = False

    @property
    def band(self) -> str:
        return "5GHz" if self.frequency >= 4900 else "2.4GHz"


@dataclass(frozen=True, slots=True)
class Network:
    """One row of ``GET /networks``: the strongest access point of an SSID."""

    ssid: str
    security: Security
    signal: int
    frequency: int
    band: str
    saved: bool

    def to_json(self) -> dict:
        data = asdict(self)
        data["security"] = str(self.security)
        return data


@dataclass(frozen=True, slots=True)
class Credentials:
    """What the user submitted. ``repr`` hides the secrets so they never reach a log line."""

    ssid: str
    security: Security
    passphrase: str = field(default="", repr=False)
    identity: str = ""
    hidden: bool = False
    eap: str = "peap"  # peap | ttls, enterprise only
    anonymous_identity: str = ""
    ca_cert: str = ""
    domain_suffix_match: str = ""


@dataclass(frozen=True, slots=True)
class Reach:
    """How a person reaches the device on the network it joined: ``mdns_name`` (``<hostname>.local``)
    when the host publishes mDNS, and its IPv4 addresses there once known."""

    hostname: str = ""
    mdns_name: str | None = None
    addresses: tuple[str, ...] = ()

    def to_json(self) -> dict:
        return {"hostname": self.hostname, "mdns_name": self.mdns_name, "addresses": list(self.addresses)}


class FailureReason(enum.StrEnum):
    """Why a connection attempt failed, in words the portal page can explain."""

    WRONG_PASSWORD = "wrong_password"
    NOT_FOUND = "not_found"
    TIMEOUT = "timeout"
    NO_IP = "no_ip"
    NO_INTERNET = "no_internet"
    FAILED = "failed"


class State(enum.StrEnum):
    STARTING = "starting"
    CONNECTED = "connected"  # online: the portal is down, we watch
    WAITING = "waiting"  # grace period: saved networks may still come up
    PORTAL = "portal"  # AP, dnsmasq and the portal web app are up
    CONNECTING = "connecting"  # trying the user's credentials; AP is down
    RETRYING = "retrying"  # AP briefly down to retry saved networks
    STOPPING = "stopping"
