"""System clock not synchronised (TLS, log timestamps and certificates depend on it). At boot NTP takes a
while, so the default waits for several samples before warning."""

from __future__ import annotations

from dataclasses import dataclass

from ..models import Level
from ..snapshot import Snapshot
from .base import ConditionCheck, ConditionSettings


@dataclass(frozen=True)
class ClockSettings(ConditionSettings):
    level: Level = Level.WARNING
    raise_after: int = 6


class ClockCheck(ConditionCheck):
    name = "clock"
    title = "Clock synchronised"
    settings_type = ClockSettings

    def assess(self, snap: Snapshot) -> tuple[Level, str] | None:
        synced = snap.flag("device_clock_synchronized")
        if synced is None:
            return None
        return (Level.OK, "clock synchronised") if synced else (self.settings.level, "clock not synchronised")
