"""Data partition usage (df's Use%), like the HA supervisor's free-space check but as a ratio."""

from __future__ import annotations

from dataclasses import dataclass

from ..snapshot import Snapshot, data_filesystem
from .base import ThresholdCheck, ThresholdSettings


@dataclass(frozen=True)
class DiskSettings(ThresholdSettings):
    warn: float = 0.80
    critical: float = 0.90
    hysteresis: float = 0.02


class DiskCheck(ThresholdCheck):
    name = "disk"
    title = "Data partition usage"
    settings_type = DiskSettings
    unit = "%"

    def measure(self, snap: Snapshot) -> tuple[float, str] | None:
        usage = data_filesystem(snap)
        return None if usage is None else (usage.used_ratio, f"{usage.mountpoint} used")
