"""Containers whose Docker HEALTHCHECK reports unhealthy (containers without a healthcheck are ignored)."""

from __future__ import annotations

from dataclasses import dataclass

from ..models import Level
from ..snapshot import Snapshot, unhealthy_containers
from .base import ConditionSettings, ListCheck


@dataclass(frozen=True)
class ContainersSettings(ConditionSettings):
    level: Level = Level.WARNING


class ContainersCheck(ListCheck):
    name = "containers"
    title = "Container health"
    what = "unhealthy containers"
    settings_type = ContainersSettings
    slow_input = True
    reported_by = "device_container_state_info"  # absent: no engine socket (or no containers)

    def listed(self, snap: Snapshot) -> list[str]:
        return unhealthy_containers(snap)
