"""Telemetry to the log agent's forward input through the stock fluent-logger sender.

What is sent (tags ``<prefix>.metrics``, ``<prefix>.heartbeat``, ``<prefix>.event``):
- a compact metrics record only when a value has moved at least one bucket width (cpu 20 %, temperature
  5 C, memory 10 MB ..., the balena supervisor's sizes) away from the value LAST SENT, and at most one
  per ``metrics_min_interval_seconds``. Comparing with the last sent value rather than with fixed bucket
  boundaries (the supervisor's floor(value / bucket)) is hysteresis: a value jittering across a boundary
  (59.9 / 60.1 C) sends nothing; the cap bounds a value that really swings. A change held back by the
  cap is sent on the first tick after it, so nothing significant is lost, only delayed;
- a heartbeat every N minutes with the same fields and every check's status;
- every check transition and autoheal action as an event.

The sender runs in its own thread behind a bounded queue, so an unreachable or slow agent never delays
sampling or HTTP. fluent-logger keeps what it could not send in RAM (up to ``buffer_bytes``) and retries on
the next record; beyond that the records are dropped and counted.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import msgpack
from fluent import sender as fluent_sender

from .config import TelemetryConfig
from .models import Sample, counter, gauge

log = logging.getLogger(__name__)

# Field -> bucket width; None: any change counts. Values come from snapshot.summary() (+ status).
BUCKETS: dict[str, float | None] = {
    "cpu_usage": 20,  # %
    "cpu_temp": 5,  # degrees C
    "memory_usage": 10,  # MB
    "storage_usage": 100,  # MB
    "wifi_signal_dbm": 10,
    "log_backlog_records": 1000,
    "log_backlog_bytes": 1 << 20,  # 1 MiB; None while the agent reports records
    "is_undervolted": None,
    "status": None,
}
QUEUE_LIMIT = 1000
_STOP = object()


def compact(summary: Mapping[str, Any], status: str) -> dict[str, Any]:
    """The few headline fields of /status that telemetry carries."""
    wifi = summary.get("wifi") or {}
    log_agent = (summary.get("sidecars") or {}).get("log-agent") or {}
    return {
        "cpu_usage": summary.get("cpu_usage"),
        "cpu_temp": summary.get("cpu_temp"),
        "memory_usage": summary.get("memory_usage"),
        "memory_total": summary.get("memory_total"),
        "storage_usage": summary.get("storage_usage"),
        "storage_total": summary.get("storage_total"),
        "is_undervolted": summary.get("is_undervolted"),
        "wifi_signal_dbm": wifi.get("signal_dbm"),
        "log_backlog_records": log_agent.get("backlog_records"),
        "log_backlog_bytes": log_agent.get("backlog_bytes"),
        "status": status,
    }


def moved(last_sent: Mapping[str, Any] | None, record: Mapping[str, Any]) -> bool:
    """Whether ``record`` differs significantly from the last record sent: a bucketed field moved at least
    one bucket width, or any other field (status, a value appearing or vanishing) changed at all."""
    if last_sent is None:
        return True
    return any(_field_moved(last_sent.get(f), record.get(f), width) for f, width in BUCKETS.items())


def _field_moved(before: Any, after: Any, width: float | None) -> bool:
    numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (before, after))
    if width is None or not numbers:
        return before != after
    return abs(after - before) >= width


class Telemetry:
    def __init__(
        self,
        config: TelemetryConfig,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._config = config
        self._clock = clock
        self._sender = fluent_sender.FluentSender(
            config.tag_prefix,
            host=config.fluent_host,
            port=config.fluent_port,
            bufmax=config.buffer_bytes,
            timeout=config.timeout_seconds,
            nanosecond_precision=True,
            buffer_overflow_handler=self._overflowed,
        )
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=QUEUE_LIMIT)
        self._thread = threading.Thread(target=self._drain, name="telemetry", daemon=True)
        self._last_sent: dict[str, Any] | None = None  # the last metrics record queued
        self._next_metrics = 0.0  # clock() before which no metrics record goes out
        self._next_heartbeat = 0.0
        self.sent = 0
        self.failed_sends = 0
        self.dropped = 0
        self._buffered = 0  # records fluent-logger holds for a retry
        self._overflow_count = 0
        # The sampler thread (queue full) and the sender thread (sent, failed, overflow) both update
        # the counters; += on an attribute is not atomic, and readers want a consistent set.
        self._counts_lock = threading.Lock()

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the sender thread; fluent-logger tries once more to flush what it still holds."""
        if self._thread.is_alive():
            self._queue.put(_STOP)
            self._thread.join(timeout)
        self._sender.close()

    def on_sample(self, summary: Mapping[str, Any], status: str, checks: Mapping[str, str]) -> None:
        record = compact(summary, status)
        now = self._clock()
        if now >= self._next_metrics and moved(self._last_sent, record):
            self._last_sent = record
            self._next_metrics = now + self._config.metrics_min_interval_seconds
            self._enqueue("metrics", record)
        if now >= self._next_heartbeat:
            self._next_heartbeat = now + self._config.heartbeat_minutes * 60
            heartbeat = {**record, "uptime_seconds": summary.get("uptime_seconds"), "checks": dict(checks)}
            self._enqueue("heartbeat", heartbeat)

    def event(self, record: Mapping[str, Any]) -> None:
        self._enqueue("event", dict(record))

    @property
    def unsent(self) -> int:
        with self._counts_lock:
            return self._queue.qsize() + self._buffered

    def samples(self) -> list[Sample]:
        with self._counts_lock:
            sent, failed, dropped = self.sent, self.failed_sends, self.dropped
        return [
            counter("device_telemetry_sent_records_total", sent,
                    "Telemetry records the log agent accepted."),
            counter("device_telemetry_failed_sends_total", failed,
                    "Attempts to send telemetry that failed (the record is kept for a retry)."),
            counter("device_telemetry_dropped_records_total", dropped,
                    "Telemetry records given up: queue or fluent-logger buffer full."),
            gauge("device_telemetry_unsent_records", self.unsent, "Telemetry records waiting to be sent."),
        ]  # fmt: skip

    def _enqueue(self, label: str, record: dict[str, Any]) -> None:
        try:
            self._queue.put_nowait((label, time.time(), record))
        except queue.Full:
            with self._counts_lock:
                self.dropped += 1

    def _drain(self) -> None:
        while (item := self._queue.get()) is not _STOP:
            label, timestamp, record = item
            self._send(label, timestamp, record)

    def _send(self, label: str, timestamp: float, record: dict[str, Any]) -> None:
        self._overflow_count = 0  # set by _overflowed, which fluent-logger calls inside emit_with_time
        delivered = self._sender.emit_with_time(label, timestamp, record)  # blocking: not under the lock
        with self._counts_lock:
            previously_buffered = self._buffered
            if delivered:
                self.sent += 1 + self._buffered
                self._buffered = 0
            else:
                self.failed_sends += 1
                if self._overflow_count:  # fluent-logger gave up its whole buffer, this record included
                    self.dropped += self._overflow_count
                    self._buffered = 0
                else:
                    self._buffered += 1
        if delivered and previously_buffered:
            log.info("telemetry: log agent reachable again, %d buffered records sent", previously_buffered)
        elif not delivered and not previously_buffered:  # first failure since the agent was reachable
            log.warning(
                "telemetry: cannot reach the log agent at %s:%d (%s); buffering up to %d bytes",
                self._config.fluent_host, self._config.fluent_port,
                self._sender.last_error, self._config.buffer_bytes,
            )  # fmt: skip

    def _overflowed(self, pending: bytes) -> None:
        unpacker = msgpack.Unpacker(raw=False, strict_map_key=False)
        unpacker.feed(pending)
        self._overflow_count = sum(1 for _ in unpacker)
