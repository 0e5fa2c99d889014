"""Raspberry Pi firmware slowing the CPU right now (frequency capped, throttled, soft temperature limit)."""

from __future__ import annotations

from dataclasses import dataclass

from ..models import Level
from ..snapshot import Snapshot, throttling
from .base import ConditionSettings, ListCheck


@dataclass(frozen=True)
class ThrottlingSettings(ConditionSettings):
    level: Level = Level.WARNING


class ThrottlingCheck(ListCheck):
    name = "throttling"
    title = "CPU throttling"
    what = "throttling"
    settings_type = ThrottlingSettings
    slow_input = True
    reported_by = "device_throttled"  # absent: no get_throttled word, not a Pi

    def listed(self, snap: Snapshot) -> list[str]:
        # under-voltage has its own check; here only what slows the CPU down
        return [c for c, periods in throttling(snap).items() if c != "under_voltage" and periods.get("now")]
