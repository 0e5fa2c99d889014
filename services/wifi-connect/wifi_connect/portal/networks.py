"""From scanned access points to the rows of ``GET /networks``, and the cached list they make."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from dataclasses import replace

from ..errors import AdapterError
from ..models import AccessPoint, Network, Security
from ..ports import NetworkBackend
from .best_effort import quietly

log = logging.getLogger(__name__)


def networks_from_scan(points: Iterable[AccessPoint], saved: set[str], own_ssid: str) -> list[Network]:
    """One row per SSID (its strongest access point), strongest first; hidden APs and our own AP left out."""
    strongest: dict[str, AccessPoint] = {}
    for point in points:
        if not point.ssid or point.ssid == own_ssid:
            continue
        best = strongest.get(point.ssid)
        if best is None or point.signal > best.signal:
            strongest[point.ssid] = point
    rows = [
        Network(ssid=p.ssid, security=p.security, signal=p.signal, frequency=p.frequency, band=p.band,
                saved=p.ssid in saved)
        for p in strongest.values()
    ]
    return sorted(rows, key=lambda row: (-row.signal, row.ssid))


class NetworkList:
    """The scan behind ``GET /networks``, cached (scanning is slow and cuts the AP on many drivers):
    refreshed on the controller's thread, read from the RPC threads."""

    def __init__(self, backend: NetworkBackend, own_ssid: str) -> None:
        self.backend, self.own_ssid = backend, own_ssid
        self._lock = threading.Lock()
        self._networks: list[Network] = []

    def refresh(self, interface: str, rescan: bool) -> list[Network]:
        """Scan and cache. A refused rescan (busy driver, AP mode) still reads the list NetworkManager
        already has; only when that fails too is the cached list kept."""
        try:
            points = self._scan(interface, rescan)
            saved = self.backend.saved_wifi_ssids()
        except AdapterError as err:
            log.warning("scan failed, keeping the %d cached networks: %s", len(self._networks), err)
            return self._networks
        networks = networks_from_scan(points, saved, self.own_ssid)
        with self._lock:
            self._networks = networks
        return networks

    def _scan(self, interface: str, rescan: bool) -> list[AccessPoint]:
        try:
            return self.backend.scan(interface, rescan)
        except AdapterError as err:
            if not rescan:
                raise
            log.warning("rescan refused, reading NetworkManager's last list instead: %s", err)
            return self.backend.scan(interface, False)

    def rows(self) -> list[dict]:
        """The cached rows, with "saved" read afresh: a join or a forget changes it without a scan."""
        saved = quietly(self.backend.saved_wifi_ssids)
        with self._lock:
            if saved is not None:
                self._networks = [replace(network, saved=network.ssid in saved) for network in self._networks]
            return [network.to_json() for network in self._networks]

    def security_by_ssid(self) -> dict[str, Security]:
        with self._lock:
            return {network.ssid: network.security for network in self._networks}

    def mark_none_saved(self) -> None:
        """Every saved network was forgotten."""
        with self._lock:
            self._networks = [replace(network, saved=False) for network in self._networks]
