"""A sidecar of the bundle (wifi-connect, log-agent) does not answer on its HTTP endpoint."""

from __future__ import annotations

from dataclasses import dataclass

from ..models import Level
from ..snapshot import Snapshot
from .base import ConditionSettings, ListCheck


@dataclass(frozen=True)
class SidecarSettings(ConditionSettings):
    level: Level = Level.CRITICAL
    raise_after: int = 2  # one missed poll is often a restart in progress


class SidecarCheck(ListCheck):
    name = "sidecar"
    title = "Sidecars up"
    what = "sidecars down"
    settings_type = SidecarSettings
    slow_input = True
    reported_by = "device_sidecar_up"  # absent: both probes off, or the sidecars collector

    def listed(self, snap: Snapshot) -> list[str]:
        return [s.label("sidecar") for s in snap.find("device_sidecar_up") if s.value < 1]
