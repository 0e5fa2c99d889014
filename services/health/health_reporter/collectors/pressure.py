"""Pressure stall information from <proc>/pressure/{cpu,io,memory,irq} (node_exporter's pressure).

The files' ``total=`` fields are microseconds; node_exporter exports seconds. A kernel without PSI
(< 4.20 or CONFIG_PSI off, or ``psi=0``: EOPNOTSUPP) yields no samples, not a failure.
"""

from __future__ import annotations

import errno

from ..errors import CollectorError
from ..models import Sample
from .common import BaseCollector, counter, read_file

# (resource, line kind) -> (metric, help); cpu's "full" line (newer kernels) is not exported, as upstream.
SERIES = {
    ("cpu", "some"): (
        "node_pressure_cpu_waiting_seconds_total",
        "Total time in seconds that processes have waited for CPU time",
    ),
    ("io", "some"): (
        "node_pressure_io_waiting_seconds_total",
        "Total time in seconds that processes have waited due to IO congestion",
    ),
    ("io", "full"): (
        "node_pressure_io_stalled_seconds_total",
        "Total time in seconds no process could make progress due to IO congestion",
    ),
    ("memory", "some"): (
        "node_pressure_memory_waiting_seconds_total",
        "Total time in seconds that processes have waited for memory",
    ),
    ("memory", "full"): (
        "node_pressure_memory_stalled_seconds_total",
        "Total time in seconds no process could make progress due to memory congestion",
    ),
    ("irq", "full"): (
        "node_pressure_irq_stalled_seconds_total",
        "Total time in seconds no process could make progress due to IRQ congestion",
    ),
}
RESOURCES = ("cpu", "io", "memory", "irq")


def parse_psi_totals(text: str, source: str) -> dict[str, float]:
    """{'some': seconds, 'full': seconds} from 'some avg10=0.00 avg60=0.00 avg300=0.00 total=1234'."""
    totals = {}
    for line in text.splitlines():
        kind, _, fields = line.partition(" ")
        for field in fields.split():
            key, _, value = field.partition("=")
            if key == "total":
                try:
                    totals[kind] = int(value) / 1e6
                except ValueError as err:
                    raise CollectorError(f"{source}: bad total {value[:20]!r}") from err
    return totals


class PressureCollector(BaseCollector):
    name = "pressure"

    def collect(self) -> list[Sample]:
        samples = []
        for resource in RESOURCES:
            path = self.paths.in_proc("pressure", resource)
            try:
                text = read_file(path)
            except OSError as err:
                if err.errno in (errno.ENOENT, errno.EOPNOTSUPP):
                    continue  # no PSI for this resource (irq needs 6.1+)
                raise CollectorError(f"cannot read {path}: {err.strerror or err}") from err
            for kind, seconds in parse_psi_totals(text, str(path)).items():
                if (resource, kind) in SERIES:
                    metric, help_text = SERIES[(resource, kind)]
                    samples.append(counter(metric, seconds, help_text))
        return samples
