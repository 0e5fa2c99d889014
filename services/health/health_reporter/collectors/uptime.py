"""Boot time (psutil reads btime from <proc>/stat) and the current time, as node_exporter."""

from __future__ import annotations

import time

import psutil

from ..models import Sample
from .common import BaseCollector, gauge

BOOT_HELP = "Node boot time, in unixtime."
TIME_HELP = "System time in seconds since epoch (1970)."


class UptimeCollector(BaseCollector):
    name = "uptime"

    def collect(self) -> list[Sample]:
        boot = self.read_with_psutil("stat", psutil.boot_time)
        return [
            gauge("node_boot_time_seconds", boot, BOOT_HELP),
            gauge("node_time_seconds", time.time(), TIME_HELP),
        ]
