"""From scanned access points to the rows of ``GET /networks``."""

from __future__ import annotations

from collections.abc import Iterable

from ..models import AccessPoint, Network


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
