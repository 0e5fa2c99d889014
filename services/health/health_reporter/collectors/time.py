"""node_time_seconds, the time zone offset and the kernel's clocksources (node_exporter's time collector).

The clocksource files are sysfs attributes that only change when an administrator switches source;
they are read on the slow cadence with the time itself taken at each sample.
"""

from __future__ import annotations

import errno
import re
import time

from ..errors import CollectorError
from ..models import Sample, gauge
from .common import BaseCollector, read_file

NOW_HELP = "System time in seconds since epoch (1970)."
ZONE_HELP = "System time zone offset in seconds."
AVAILABLE_HELP = "Available clocksources read from '/sys/devices/system/clocksource'."
CURRENT_HELP = "Current clocksource read from '/sys/devices/system/clocksource'."
CLOCKSOURCE_DIR = re.compile(r"^clocksource(\d+)$")


class TimeCollector(BaseCollector):
    name = "time"

    def collect(self) -> list[Sample]:
        now = time.time()
        local = time.localtime(now)
        samples = [
            gauge("node_time_seconds", now, NOW_HELP),
            gauge("node_time_zone_offset_seconds", local.tm_gmtoff, ZONE_HELP, time_zone=local.tm_zone),
        ]
        return samples + self._clocksources()

    def _clocksources(self) -> list[Sample]:
        root = self.paths.in_sys("devices", "system", "clocksource")
        devices = sorted(
            (int(match[1]), entry)
            for entry in (root.iterdir() if root.is_dir() else ())
            if (match := CLOCKSOURCE_DIR.match(entry.name))
        )
        samples = []
        # node_exporter numbers the devices by their position, which is their number in practice.
        for index, (_number, directory) in enumerate(devices):
            try:
                available = read_file(directory / "available_clocksource").split()
                current = read_file(directory / "current_clocksource").strip()
            except OSError as err:
                if err.errno == errno.ENOENT:
                    continue
                raise CollectorError(f"cannot read {directory}: {err.strerror or err}") from err
            device = str(index)
            samples += [
                gauge(
                    "node_time_clocksource_available_info", 1, AVAILABLE_HELP, device=device, clocksource=name
                )
                for name in available
            ]
            samples.append(
                gauge(
                    "node_time_clocksource_current_info", 1, CURRENT_HELP, device=device, clocksource=current
                )
            )
        return samples
