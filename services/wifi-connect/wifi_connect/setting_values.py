"""Parsers for the text of each start-up setting (``config.SETTINGS``): each returns the value or raises
ValueError with words for the person who set it (config.py adds the flag and the variable)."""

from __future__ import annotations

import ipaddress
import os
import re
import shlex
import shutil
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from .ssid_template import check_template, device_id_from
from .validation import check_wpa_passphrase

IFNAMSIZ = 16  # Linux interface names are at most 15 bytes
LEASE_TIME = re.compile(r"[0-9]+[mhdw]?|infinite")  # dnsmasq's lease-time syntax


def interface(text: str) -> str:
    if not text or len(text.encode()) >= IFNAMSIZ or any(c in text for c in "/: \t\n\0"):
        raise ValueError("must be a network interface name (1-15 characters, no '/', ':' or spaces)")
    return text


def ssid(text: str) -> str:
    return check_template(text)  # {idN} placeholders included: 1-32 bytes once expanded


def choice(*allowed: str) -> Callable[[str], str]:
    def parse(text: str) -> str:
        if text not in allowed:
            raise ValueError(f"must be one of {', '.join(allowed)}")
        return text

    return parse


def device_id(text: str) -> str | None:
    return device_id_from(text) or None


def portal_passphrase(text: str) -> str | None:
    if text == "":
        return None  # balena: no passphrase = open access point
    if len(text) == 64:
        raise ValueError("must be 8-63 printable ASCII characters (or empty for an open access point)")
    check_wpa_passphrase(text)
    return text


def ipv4(text: str) -> ipaddress.IPv4Address:
    try:
        return ipaddress.IPv4Address(text)
    except ValueError as err:
        raise ValueError("must be an IPv4 address like 192.168.42.1") from err


def dhcp_range(text: str) -> tuple[ipaddress.IPv4Address, ipaddress.IPv4Address, str | None]:
    parts = [part.strip() for part in text.split(",")]
    if len(parts) not in (2, 3):
        raise ValueError("must be 'START,END' or 'START,END,LEASE' (e.g. 192.168.42.2,192.168.42.254)")
    start, end = ipv4(parts[0]), ipv4(parts[1])
    if start > end:
        raise ValueError("START must not be above END")
    lease = parts[2] if len(parts) == 3 else None
    if lease is not None and not LEASE_TIME.fullmatch(lease):
        raise ValueError("LEASE must be seconds, a number with m/h/d/w, or 'infinite'")
    return start, end, lease


def integer(low: int, high: int | None = None) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError as err:
            raise ValueError("must be a whole number") from err
        if value < low or (high is not None and value > high):
            raise ValueError(f"must be between {low} and {high}" if high else f"must be at least {low}")
        return value

    return parse


def seconds(low: float) -> Callable[[str], float]:
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError as err:
            raise ValueError("must be a number of seconds") from err
        if not value >= low or value == float("inf"):  # also refuses NaN
            raise ValueError(f"must be a number of seconds >= {low:g}")
        return value

    return parse


def bounded_seconds(low: float, high: float) -> Callable[[str], float]:
    at_least = seconds(low)

    def parse(text: str) -> float:
        value = at_least(text)
        if value > high:
            raise ValueError(f"must be a number of seconds between {low:g} and {high:g}")
        return value

    return parse


def directory(text: str) -> Path:
    path = Path(text)
    if not (path / "index.html").is_file():
        raise ValueError("must be a directory containing index.html")
    return path


def cert_directory(text: str) -> Path:
    path = Path(text)
    if not path.is_absolute() or not path.is_dir():
        raise ValueError("must be the absolute path of a directory")
    return path


def http_url(text: str) -> str | None:
    if text == "":
        return None
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http:// or https:// URL (or empty for none)")
    return text


def loopback_address(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    host = host.strip("[]")
    if not sep:
        raise ValueError("must be HOST:PORT on loopback, e.g. 127.0.0.1:8081")
    try:
        is_loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        is_loopback = False
    if not is_loopback:
        raise ValueError("must be a loopback address (127.x.x.x or [::1]): the control API has no login")
    return host, integer(1, 65535)(port)


def portal_gateway(text: str) -> ipaddress.IPv4Address:
    """A unicast address a phone can reach as the host of its /24 (not .0 or .255 of it)."""
    address = ipv4(text)
    unusable = {"loopback": address.is_loopback, "multicast": address.is_multicast,
                "unspecified": address.is_unspecified, "link-local": address.is_link_local}
    kind = next((name for name, found in unusable.items() if found), None)
    if kind is not None:
        raise ValueError(f"must be a unicast address for the portal network, not a {kind} address")
    network = ipaddress.IPv4Network(f"{address}/24", strict=False)
    if address in (network.network_address, network.broadcast_address):
        raise ValueError(f"must be a host of its /24, not the network or broadcast address of {network}")
    return address


def command(text: str) -> str | None:
    """Split like sh (no shell runs it); the program must exist now rather than fail at every change."""
    if not text:
        return None
    try:
        argv = shlex.split(text)
    except ValueError as err:
        raise ValueError(f"cannot be split like a shell command: {err}") from err
    if not argv:
        return None
    program = argv[0]
    if "/" in program:
        if not (os.path.isfile(program) and os.access(program, os.X_OK)):
            raise ValueError(f"{program!r} is not an executable file")
    elif shutil.which(program) is None:
        raise ValueError(f"program {program!r} is not found on PATH")
    return text


def socket_path(text: str) -> Path:
    if not text.startswith("/") or len(text.encode()) > 107:
        raise ValueError("must be an absolute path of at most 107 bytes (a Unix socket path)")
    return Path(text)
