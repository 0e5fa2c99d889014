"""The health document (/health): per output its delivery state and backlog, per input its address and
whether it turns clients away, and an overall status ("ok", "degraded", "stopping").

Built on demand (every /health and /metrics request), which also copies the spool's and the inputs'
own counters into the metrics, so /health and /metrics tell the same story.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from .delivery import OutputWorker
from .inputs.base import REFUSALS, ConnectionStats, Input
from .spool import Spool

if TYPE_CHECKING:
    from .metrics import Metrics


class HealthReport:
    """Builds the health document; remembers the refusals it saw to tell "refusing clients now"."""

    def __init__(self, spool: Spool, metrics: Metrics) -> None:
        self.spool = spool
        self.metrics = metrics
        self.started = time.time()
        self._seen_refusals: dict[str, int] = {}  # per input, at the last round

    def build(self, workers: Iterable[OutputWorker], inputs: Iterable[Input],
              stopping: bool) -> dict[str, Any]:
        """Refresh the spool and input gauges and return the health document."""
        stats = self.spool.stats()
        self.metrics.observe_spool(stats)
        now_ns = time.time_ns()
        outputs = {}
        for worker in workers:
            oldest = worker.health.oldest_unsent_ns
            # the worker remembers the oldest record of its last batch; with nothing left it is 0
            pending = stats.backlog_records.get(worker.name, 0) > 0
            age = max(0.0, (now_ns - oldest) / 1e9) if oldest and pending else 0.0
            self.metrics.oldest_unsent_age.labels(worker.name).set(age)
            outputs[worker.name] = {**asdict(worker.health), "oldest_unsent_age_seconds": round(age, 3),
                                    "backlog_bytes": stats.backlog_bytes.get(worker.name, 0),
                                    "backlog_records": stats.backlog_records.get(worker.name, 0),
                                    "dropped": stats.dropped.get(worker.name, 0)}
        inputs_report = self._inputs_health(inputs)
        return {
            "status": self._status(outputs, inputs_report, stopping),
            "pid": os.getpid(),
            "updated": time.time(),
            "started": self.started,
            "spool": {"bytes": stats.total_bytes, "segments": stats.segments,
                      "mode": self.spool.config.mode, "max_bytes": self.spool.config.max_bytes},
            "inputs": inputs_report,
            "outputs": outputs,
        }

    def _inputs_health(self, inputs: Iterable[Input]) -> dict[str, Any]:
        """Per input: where it listens ("address": operators, tests using port 0) and, for inputs that
        keep connection stats, open connections, errors by reason and whether it refuses clients now."""
        report: dict[str, Any] = {}
        for item in inputs:
            report[item.name] = {"address": getattr(item, "address", None)}
            stats = getattr(item, "stats", None)
            if isinstance(stats, ConnectionStats):
                report[item.name].update(self._connection_health(item.name, stats))
            own_report = getattr(item, "report", None)  # L3: the device inputs' counters
            if own_report is not None:
                report[item.name].update(own_report())
        return report

    def _connection_health(self, name: str, stats: ConnectionStats) -> dict[str, Any]:
        errors = dict(stats.errors)
        self.metrics.observe_input(name, stats.connections_active, errors)
        refusals = sum(errors.get(reason, 0) for reason in REFUSALS)
        refusing = refusals > self._seen_refusals.get(name, 0)  # some clients turned away since last round
        self._seen_refusals[name] = refusals
        return {"connections": stats.connections_active, "errors": errors, "refusing_clients": refusing}

    @staticmethod
    def _status(outputs: dict[str, dict[str, Any]], inputs: dict[str, Any], stopping: bool) -> str:
        if stopping:
            return "stopping"
        failing = any(o["state"] in ("retrying", "stopped") for o in outputs.values())
        refusing = any(i.get("refusing_clients") for i in inputs.values())
        return "degraded" if failing or refusing else "ok"
