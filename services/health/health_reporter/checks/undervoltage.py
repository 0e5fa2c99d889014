"""Raspberry Pi under-voltage from get_throttled: now is critical (brown-outs corrupt SD cards); "has
occurred since boot" is a warning that stays until reboot, like balena's is_undervolted."""

from __future__ import annotations

from dataclasses import dataclass

from ..models import Level
from ..snapshot import Snapshot
from .base import ConditionCheck, ConditionSettings


@dataclass(frozen=True)
class UndervoltageSettings(ConditionSettings):
    level: Level = Level.CRITICAL
    since_boot: bool = True  # also warn while the sticky "has occurred" bit is set


class UndervoltageCheck(ConditionCheck):
    name = "undervoltage"
    title = "Power supply"
    settings_type = UndervoltageSettings
    slow_input = True
    settings: UndervoltageSettings

    def assess(self, snap: Snapshot) -> tuple[Level, str] | None:
        if snap.flag("device_undervolted") is None:
            return None  # not a Pi (the throttling collector reports device_undervolted whenever it can)
        if snap.flag("device_throttled", condition="under_voltage", period="now"):
            return self.settings.level, "under-voltage now"
        earlier = snap.flag("device_throttled", condition="under_voltage", period="since_boot")
        if self.settings.since_boot and earlier:
            return Level.WARNING, "under-voltage has occurred since boot"
        if snap.value("device_throttled_raw") is None and snap.flag("device_undervolted"):
            return self.settings.level, "under-voltage reported"
        return Level.OK, "supply voltage fine"
