"""Per-CPU packet processing from <proc>/net/softnet_stat (node_exporter's softnet collector)."""

from __future__ import annotations

from ..errors import CollectorError
from ..models import Sample, counter, gauge
from .common import BaseCollector, read_text

# column -> (metric, help, is a counter); later columns exist on newer kernels only
COLUMNS = {
    0: ("node_softnet_processed_total", "Number of processed packets", True),
    1: ("node_softnet_dropped_total", "Number of dropped packets", True),
    2: ("node_softnet_times_squeezed_total", "Number of times processing packets ran out of quota", True),
    8: (
        "node_softnet_cpu_collision_total",
        "Number of collision occur while obtaining device lock while transmitting",
        True,
    ),
    9: ("node_softnet_received_rps_total", "Number of times cpu woken up received_rps", True),
    10: ("node_softnet_flow_limit_count_total", "Number of times flow limit has been reached", True),
    11: ("node_softnet_backlog_len", "Softnet backlog status", False),
}
INDEX_COLUMN = 12  # the CPU number (kernel 5.10+); before, lines are in CPU order with offline CPUs skipped


class SoftnetCollector(BaseCollector):
    name = "softnet"

    def collect(self) -> list[Sample]:
        path = self.paths.in_proc("net", "softnet_stat")
        samples = []
        for line_number, line in enumerate(read_text(path).splitlines()):
            try:
                columns = [int(word, 16) for word in line.split()]
            except ValueError as err:
                raise CollectorError(f"{path}: bad line {line[:50]!r}") from err
            cpu = str(columns[INDEX_COLUMN] if len(columns) > INDEX_COLUMN else line_number)
            for column, (metric, help_text, is_counter) in COLUMNS.items():
                # a column older kernels lack reads 0, as node_exporter (procfs) reports it
                number = columns[column] if column < len(columns) else 0
                build = counter if is_counter else gauge
                samples.append(build(metric, number, help_text, cpu=cpu))
        return samples
