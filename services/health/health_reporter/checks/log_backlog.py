"""Age of the oldest record the log agent has not shipped yet: logs stuck on the device."""

from __future__ import annotations

from dataclasses import dataclass

from ..snapshot import Snapshot
from .base import ThresholdCheck, ThresholdSettings


@dataclass(frozen=True)
class LogBacklogSettings(ThresholdSettings):
    warn: float = 600.0
    critical: float = 3600.0
    hysteresis: float = 60.0


class LogBacklogCheck(ThresholdCheck):
    name = "log_backlog"
    title = "Unsent logs"
    settings_type = LogBacklogSettings
    unit = " s"

    def measure(self, snap: Snapshot) -> tuple[float, str] | None:
        age = snap.value("device_log_oldest_unsent_age_seconds")
        return None if age is None else (age, "oldest unsent log record is")
