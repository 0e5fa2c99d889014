"""Per-device disk I/O counters from <proc>/diskstats through psutil (node_exporter names)."""

from __future__ import annotations

import re

import psutil

from ..models import Sample
from .common import BaseCollector, counter

# node_exporter's default device exclude: RAM disks, loop devices and partitions of whole disks that
# are already counted (mmcblk0p1 stays, as in node_exporter).
EXCLUDED_DEVICES = re.compile(r"^(z?ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\d+n\d+p)\d+$")

HELP = {
    "node_disk_read_bytes_total": "Bytes read successfully.",
    "node_disk_written_bytes_total": "Bytes written successfully.",
    "node_disk_reads_completed_total": "Reads completed successfully.",
    "node_disk_writes_completed_total": "Writes completed successfully.",
    "node_disk_io_time_seconds_total": "Seconds spent doing I/Os.",
}


class DiskIoCollector(BaseCollector):
    name = "diskio"

    def collect(self) -> list[Sample]:
        # nowrap=False: raw kernel counters, as node_exporter; Prometheus handles resets.
        disks = self.read_with_psutil("diskstats", lambda: psutil.disk_io_counters(True, nowrap=False))
        samples = []
        for device, io in sorted(disks.items()):
            if EXCLUDED_DEVICES.match(device):
                continue
            values = {
                "node_disk_read_bytes_total": io.read_bytes,
                "node_disk_written_bytes_total": io.write_bytes,
                "node_disk_reads_completed_total": io.read_count,
                "node_disk_writes_completed_total": io.write_count,
                "node_disk_io_time_seconds_total": io.busy_time / 1000,
            }
            samples += [counter(name, value, HELP[name], device=device) for name, value in values.items()]
        return samples
