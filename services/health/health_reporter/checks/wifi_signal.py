"""WiFi signal strength in dBm (lower is worse); Glances' -75/-85 dBm warning and critical levels."""

from __future__ import annotations

from dataclasses import dataclass

from ..snapshot import Snapshot, weakest_wifi_signal
from .base import ThresholdCheck, ThresholdSettings


@dataclass(frozen=True)
class WifiSignalSettings(ThresholdSettings):
    warn: float = -75.0
    critical: float = -85.0
    hysteresis: float = 3.0


class WifiSignalCheck(ThresholdCheck):
    name = "wifi_signal"
    title = "WiFi signal"
    settings_type = WifiSignalSettings
    slow_input = True
    higher_is_worse = False
    unit = " dBm"

    def measure(self, snap: Snapshot) -> tuple[float, str] | None:
        weakest = weakest_wifi_signal(snap)
        if weakest is None:
            return None
        return weakest.value, f"{weakest.label('interface')} signal"
