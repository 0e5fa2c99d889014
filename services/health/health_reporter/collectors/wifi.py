"""WiFi link per wireless interface: signal and link quality from <proc>/net/wireless, link state from
sysfs, SSID and bitrate from `iw dev <if> link` when iw is installed, else the SSID from wifi-connect."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import NamedTuple

from ..errors import CollectorError
from ..models import Sample
from .base import Cadence
from .common import BaseCollector, check_text, check_timeout, check_url, gauge, info, read_optional, run_tool
from .local_http import EndpointDown, fetch_json
from .sidecars import DEFAULT_WIFI_CONNECT_URL

SIGNAL_HELP = "Received signal strength of the associated access point in dBm."
QUALITY_HELP = "Link quality as reported by the driver, as a share of its maximum (0-1)."
BITRATE_HELP = "Transmit bitrate of the WiFi link in bits per second."
INFO_HELP = "The network the WiFi interface is associated with."
# cfg80211's wireless-extensions view reports quality out of 70 (signal + 110, clamped).
MAX_QUALITY = 70.0


class WirelessLink(NamedTuple):
    interface: str
    quality: float
    level_dbm: float


def parse_proc_wireless(text: str) -> list[WirelessLink]:
    """Lines after the two headers: 'wlan0: 0000   70.  -40.  -256  0 0 0 0 0  0'."""
    links = []
    for line in text.splitlines()[2:]:
        interface, colon, rest = line.partition(":")
        fields = rest.split()
        if not colon or len(fields) < 3:
            continue
        try:
            quality, level = (float(field.rstrip(".")) for field in fields[1:3])
        except ValueError as err:
            raise CollectorError(f"net/wireless: unexpected line {line[:60]!r}") from err
        # Some old drivers report the level as an unsigned byte (e.g. 216 for -40 dBm).
        links.append(WirelessLink(interface.strip(), quality, level - 256 if level > 0 else level))
    return links


def parse_iw_link(text: str) -> tuple[str | None, float | None]:
    """(ssid, tx bitrate in bit/s) from `iw dev wlan0 link`; 'Not connected.' gives (None, None)."""
    ssid = re.search(r"^\s*SSID: (.*)$", text, re.MULTILINE)
    rate = re.search(r"^\s*tx bitrate: ([\d.]+) MBit/s", text, re.MULTILINE)
    return (ssid[1] if ssid else None, float(rate[1]) * 1e6 if rate else None)


@dataclass(frozen=True)
class WifiOptions:
    iw: str = "iw"  # looked up on PATH; "" never runs it
    wifi_connect_url: str = DEFAULT_WIFI_CONNECT_URL  # SSID source without iw; "" disables
    timeout: float = 1.0

    def __post_init__(self) -> None:
        check_text("iw", self.iw)
        check_url("wifi_connect_url", self.wifi_connect_url)
        check_timeout(self.timeout)


class WifiCollector(BaseCollector):
    """<proc>/net/wireless is per network namespace: the host's needs network_mode: host."""

    name = "wifi"
    cadence = Cadence.SLOW
    Options = WifiOptions

    def collect(self) -> list[Sample]:
        text = read_optional(self.paths.in_proc("net", "wireless"))
        if text is None:
            return []  # no wireless extensions: no WiFi on this device
        samples = []
        for link in parse_proc_wireless(text):
            samples += self._link_samples(link)
        return samples

    def _link_samples(self, link: WirelessLink) -> list[Sample]:
        operstate = read_optional(self.paths.in_sys("class", "net", link.interface, "operstate"))
        if operstate not in (None, "up", "unknown") or link.quality <= 0:
            return []  # not associated: the numbers in /proc/net/wireless are stale or placeholders
        labels = {"interface": link.interface}
        samples = [
            gauge("device_wifi_signal_dbm", link.level_dbm, SIGNAL_HELP, **labels),
            gauge(
                "device_wifi_link_quality_ratio", min(1.0, link.quality / MAX_QUALITY), QUALITY_HELP, **labels
            ),
        ]
        ssid, bitrate = self._iw_link(link.interface)
        if bitrate is not None:
            samples.append(gauge("device_wifi_bitrate_bits_per_second", bitrate, BITRATE_HELP, **labels))
        ssid = ssid or self._wifi_connect_ssid(link.interface)
        if ssid:
            samples.append(info("device_wifi_info", INFO_HELP, ssid=ssid, **labels))
        return samples

    def _iw_link(self, interface: str) -> tuple[str | None, float | None]:
        output = run_tool(self.options.iw, ["dev", interface, "link"], self.options.timeout)
        return (None, None) if output is None else parse_iw_link(output)

    def _wifi_connect_ssid(self, interface: str) -> str | None:
        if not self.options.wifi_connect_url:
            return None
        try:
            status = fetch_json(self.options.wifi_connect_url, self.options.timeout)
        except EndpointDown:
            return None  # reported by the sidecars collector
        if not isinstance(status, dict) or status.get("interface") not in (None, interface):
            return None
        ssid = status.get("ssid")
        return ssid if isinstance(ssid, str) else None
