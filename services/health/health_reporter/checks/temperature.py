"""CPU temperature. Defaults sit below a Raspberry Pi's firmware limits (frequency capped at about 80 C,
throttled at about 85 C), so the warning comes before the device slows itself down."""

from __future__ import annotations

from dataclasses import dataclass

from ..snapshot import Snapshot
from .base import ThresholdCheck, ThresholdSettings


@dataclass(frozen=True)
class TemperatureSettings(ThresholdSettings):
    warn: float = 75.0
    critical: float = 80.0
    hysteresis: float = 3.0


class TemperatureCheck(ThresholdCheck):
    name = "temperature"
    title = "CPU temperature"
    settings_type = TemperatureSettings
    slow_input = True
    unit = " °C"

    def measure(self, snap: Snapshot) -> tuple[float, str] | None:
        celsius = snap.value("device_cpu_temperature_celsius")
        return None if celsius is None else (celsius, "CPU at")
