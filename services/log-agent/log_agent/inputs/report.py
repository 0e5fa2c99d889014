"""The device inputs' own counters as Prometheus metrics (a collector read at each scrape, like the
HTTP listener's): every input with a ``report()`` method contributes its numbers, and every input's
processors their dropped records.

    log_agent_input_report{input, key}                       what report() says (gauges and totals)
    log_agent_processor_dropped_records_total{input, processor, reason}
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector


class InputReportCollector(Collector):
    def __init__(self, inputs: Callable[[], Iterable[Any]]) -> None:
        self.inputs = inputs

    def collect(self) -> Iterator[Any]:
        values = GaugeMetricFamily(
            "log_agent_input_report",
            "Device inputs' own counters by key: journald gaps_total, entries_lost_total, "
            "filtered_total, restarts_total; files files_open, rotations_total, truncations_total; "
            "checkpoint_writes_total, checkpoint_bytes_total; records_out_total...",
            labels=["input", "key"])
        dropped = CounterMetricFamily("log_agent_processor_dropped_records",
                                      "Records a processor dropped on purpose (grep, rate_limit).",
                                      labels=["input", "processor", "reason"])
        for item in self.inputs():
            report = getattr(item, "report", None)
            if report is None:
                continue
            for key, value in sorted(report().items()):
                if isinstance(value, int | float) and not isinstance(value, bool):
                    values.add_metric([item.name, key], value)
            emitter = getattr(item, "emitter", None)
            if emitter is not None:
                for (processor, reason), total in sorted(emitter.chain.dropped().items()):
                    dropped.add_metric([item.name, processor, reason], total)
        yield values
        yield dropped


def emitter_report(emitter: Any) -> dict[str, Any]:
    """The counters every record-building input shares (its Emitter's)."""
    if emitter is None:
        return {}
    return {"records_in_total": emitter.records_in, "records_out_total": emitter.records_out,
            "budget_waits_total": emitter.budget_waits, "spool_errors_total": emitter.spool_errors_total,
            "spool_full_waits_total": emitter.spool_full_waits}
