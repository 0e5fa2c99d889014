"""Boot time (psutil reads btime from <proc>/stat), as node_exporter's stat collector; the current time
is the time collector's node_time_seconds."""

from __future__ import annotations

import psutil

from ..models import Sample
from .base import Cadence
from .common import BaseCollector, gauge

BOOT_HELP = "Node boot time, in unixtime."


class UptimeCollector(BaseCollector):
    name = "uptime"
    # Slow tier: the boot time is constant for the whole boot.
    cadence = Cadence.SLOW

    def collect(self) -> list[Sample]:
        boot = self.read_with_psutil("stat", psutil.boot_time)
        return [gauge("node_boot_time_seconds", boot, BOOT_HELP)]
