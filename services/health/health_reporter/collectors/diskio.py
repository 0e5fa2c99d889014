"""Per-device disk I/O from <proc>/diskstats, every field node_exporter's diskstats collector exports
(older kernels have fewer columns: those series are left out)."""

from __future__ import annotations

import re

from ..errors import CollectorError
from ..models import Sample
from .common import BaseCollector, counter, gauge, read_text

# node_exporter's default device exclude: RAM disks, loop devices and partitions of whole disks that
# are already counted (mmcblk0p1 stays, as in node_exporter).
EXCLUDED_DEVICES = re.compile(r"^(z?ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\d+n\d+p)\d+$")
SECTOR = 512  # /proc/diskstats counts 512-byte sectors whatever the device's block size
MS = 0.001
# column after the device name -> (metric, scale, help)
COLUMNS = (
    ("node_disk_reads_completed_total", 1, "The total number of reads completed successfully."),
    ("node_disk_reads_merged_total", 1, "The total number of reads merged."),
    ("node_disk_read_bytes_total", SECTOR, "The total number of bytes read successfully."),
    ("node_disk_read_time_seconds_total", MS, "The total number of seconds spent by all reads."),
    ("node_disk_writes_completed_total", 1, "The total number of writes completed successfully."),
    ("node_disk_writes_merged_total", 1, "The number of writes merged."),
    ("node_disk_written_bytes_total", SECTOR, "The total number of bytes written successfully."),
    ("node_disk_write_time_seconds_total", MS, "This is the total number of seconds spent by all writes."),
    ("node_disk_io_now", 1, "The number of I/Os currently in progress."),
    ("node_disk_io_time_seconds_total", MS, "Total seconds spent doing I/Os."),
    ("node_disk_io_time_weighted_seconds_total", MS, "The weighted # of seconds spent doing I/Os."),
    ("node_disk_discards_completed_total", 1, "The total number of discards completed successfully."),
    ("node_disk_discards_merged_total", 1, "The total number of discards merged."),
    ("node_disk_discarded_sectors_total", 1, "The total number of sectors discarded successfully."),
    (
        "node_disk_discard_time_seconds_total",
        MS,
        "This is the total number of seconds spent by all discards.",
    ),
    ("node_disk_flush_requests_total", 1, "The total number of flush requests completed successfully"),
    (
        "node_disk_flush_requests_time_seconds_total",
        MS,
        "This is the total number of seconds spent by all flush requests.",
    ),
)


def parse_diskstats(text: str) -> dict[str, list[float]]:
    disks = {}
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 14:
            raise CollectorError(f"diskstats: unexpected line {line[:60]!r}")
        try:
            disks[fields[2]] = [float(value) for value in fields[3:]]
        except ValueError as err:
            raise CollectorError(f"diskstats: unexpected line {line[:60]!r}") from err
    return disks


class DiskIoCollector(BaseCollector):
    name = "diskio"

    def collect(self) -> list[Sample]:
        samples = []
        for device, values in sorted(parse_diskstats(read_text(self.paths.in_proc("diskstats"))).items()):
            if EXCLUDED_DEVICES.match(device):
                continue
            for (metric, scale, help_text), value in zip(COLUMNS, values, strict=False):
                build = gauge if metric == "node_disk_io_now" else counter
                samples.append(build(metric, value * scale, help_text, device=device))
        return samples
