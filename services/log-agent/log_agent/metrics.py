"""The agent's Prometheus metrics, one object per agent process, in its own registry.

/metrics (web.py) is the stock prometheus_client exposition of that registry, served in-process: the
values are plain in-memory counters, no files, no second process.
"""

from __future__ import annotations

import contextlib

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from .spool import SpoolStats

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        counter = self._counter
        self.records_in = counter("records_in", "Records stored in the spool, per input.", "input")
        self.records_out = counter("records_out", "Records delivered, per output.", "output")
        self.records_retried = counter(
            "records_retried", "Records in batches an output asked to send again.", "output")
        self.records_dropped = counter(
            "records_dropped", "Records an output lost because the spool cap dropped them unsent.", "output")
        self.records_dead_lettered = counter(
            "records_dead_lettered", "Records written to the dead-letter file, per output.", "output")
        self.records_dead_letter_failed = counter(
            "records_dead_letter_failed",
            "Records an output could neither send nor write to the dead-letter file (lost).", "output")
        self.records_corrupt = counter(
            "spool_corrupt_records", "Corrupt spool records skipped by an output's reader.", "output")
        self.output_errors = counter("output_errors", "Failed send attempts, per output.", "output")
        self.input_errors = counter("input_errors", "Batches an input could not store.", "input")
        self.spool_bytes = Gauge(
            "log_agent_spool_bytes", "Bytes in the spool.", registry=self.registry)
        self.backlog_bytes = self._gauge("backlog_bytes", "Spooled bytes an output has not delivered yet.")
        self.backlog_records = self._gauge(
            "backlog_records", "Spooled records an output has not delivered yet (its reader has not passed).")
        self.oldest_unsent_age = self._gauge(
            "oldest_unsent_age_seconds", "Age (event time) of the oldest record an output has not delivered.")
        self.output_up = self._gauge("output_up", "1 when the output's last send succeeded, else 0.")
        self.ack_latency = Histogram(
            "log_agent_ack_latency_seconds", "Time to store an input batch durably (before its ack).",
            ["input"], buckets=LATENCY_BUCKETS, registry=self.registry)
        self.send_latency = Histogram(
            "log_agent_send_seconds", "Time of one send attempt, per output (ack included).",
            ["output"], buckets=LATENCY_BUCKETS, registry=self.registry)
        self.input_connections = Gauge(
            "log_agent_input_connections", "Open client connections, per input.", ["input"],
            registry=self.registry)
        self.input_connection_errors = Counter(
            "log_agent_input_connection_errors",
            "Connections an input closed or refused, by reason (too_many_connections and no_thread "
            "and memory_budget are refused clients).",
            ["input", "reason"], registry=self.registry)
        # declared at 0 for each output (output_up and send_latency appear with the first send)
        self._per_output = (self.records_out, self.records_retried, self.records_dropped,
                            self.records_dead_lettered, self.records_dead_letter_failed,
                            self.records_corrupt, self.output_errors,
                            self.backlog_bytes, self.backlog_records, self.oldest_unsent_age)
        self._seen_input_errors: dict[tuple[str, str], int] = {}
        self._seen_dropped: dict[str, int] = {}
        self._seen_corrupt: dict[str, int] = {}

    def declare_output(self, output: str) -> None:
        """Export an output's series at 0 from the start, so dashboards and alerts see them."""
        for metric in self._per_output:
            metric.labels(output)

    def declare_input(self, input_name: str) -> None:
        for metric in (self.records_in, self.input_errors):
            metric.labels(input_name)

    def observe_input(self, input_name: str, connections: int, errors: dict[str, int]) -> None:
        """Copy an input's own connection counters into the metrics."""
        self.input_connections.labels(input_name).set(connections)
        for reason, total in errors.items():
            seen = self._seen_input_errors.get((input_name, reason), 0)
            if total > seen:
                self.input_connection_errors.labels(input_name, reason).inc(total - seen)
                self._seen_input_errors[input_name, reason] = total

    def forget_output(self, output: str) -> None:
        """An output removed by a reload: drop its series, so none stays frozen at its last value."""
        for metric in (*self._per_output, self.output_up, self.send_latency):
            with contextlib.suppress(KeyError):
                metric.remove(output)
        self._seen_dropped.pop(output, None)
        self._seen_corrupt.pop(output, None)

    def _counter(self, name: str, documentation: str, label: str) -> Counter:
        return Counter(f"log_agent_{name}", documentation, [label], registry=self.registry)

    def _gauge(self, name: str, documentation: str) -> Gauge:
        return Gauge(f"log_agent_{name}", documentation, ["output"], registry=self.registry)

    def observe_spool(self, stats: SpoolStats) -> None:
        """Copy the spool's own counters (exact drops, corrupt skips) into the metrics."""
        self.spool_bytes.set(stats.total_bytes)
        for output, backlog in stats.backlog_bytes.items():
            self.backlog_bytes.labels(output).set(backlog)
        for output, backlog in stats.backlog_records.items():
            self.backlog_records.labels(output).set(backlog)
        self._add_new(self.records_dropped, stats.dropped, self._seen_dropped)
        self._add_new(self.records_corrupt, stats.corrupt, self._seen_corrupt)

    @staticmethod
    def _add_new(counter: Counter, totals: dict[str, int], seen: dict[str, int]) -> None:
        for output, total in totals.items():
            if total > seen.get(output, 0):
                counter.labels(output).inc(total - seen.get(output, 0))
                seen[output] = total
