"""Memory in use: 1 - MemAvailable/MemTotal (page cache that can be dropped does not count)."""

from __future__ import annotations

from dataclasses import dataclass

from ..snapshot import Snapshot, memory_used_bytes
from .base import ThresholdCheck, ThresholdSettings


@dataclass(frozen=True)
class MemorySettings(ThresholdSettings):
    warn: float = 0.85
    critical: float = 0.95
    hysteresis: float = 0.03


class MemoryCheck(ThresholdCheck):
    name = "memory"
    title = "Memory in use"
    settings_type = MemorySettings
    unit = "%"

    def measure(self, snap: Snapshot) -> tuple[float, str] | None:
        memory = memory_used_bytes(snap)
        return None if memory is None else (memory[0] / memory[1], "memory in use")
