"""inputs -> enrich -> spool -> one delivery worker per output (delivery.py) -> commit.

The pipeline owns the lifecycle: it starts the workers and the inputs of one configuration, swaps in
a new one on reload without losing or duplicating spooled records (cursors are per output name),
flushes on stop within the deadline, and builds the health document and the spool/input gauges on
demand (``housekeep_once``: each /health and /metrics request), so nothing wakes up at idle.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .budget import MemoryBudget
from .deadletter import DeadLetterFile
from .delivery import OutputWorker, Route
from .errors import LogAgentError
from .health import HealthReport
from .inputs.base import EntrySink, Input
from .models import Record
from .protocol.walk import Splice
from .retry import RetryConfig
from .sink import SpoolSink
from .spool import Spool

if TYPE_CHECKING:
    from .metrics import Metrics

log = logging.getLogger(__name__)

Enricher = Callable[[list[Record]], list[Record]]


@dataclass
class PipelineParts:
    """What one configuration builds; SIGHUP builds a new one and swaps it in."""

    inputs: list[Input]
    routes: list[Route]
    retry: RetryConfig
    secrets: tuple[str, ...] = ()  # configured secret values, scrubbed from /health and dead letters


class Pipeline:
    def __init__(self, spool: Spool, metrics: Metrics, enrich: Enricher, dead_letter: DeadLetterFile,
                 budget: MemoryBudget | None = None) -> None:
        self.spool = spool
        self.budget = budget or MemoryBudget()  # one for every input of the agent
        self.metrics = metrics
        self.enrich = enrich
        self.dead_letter = dead_letter
        self.last_health: dict[str, Any] | None = None  # what /health serves (None: not reported yet)
        self.health = HealthReport(spool, metrics)
        self._parts: PipelineParts | None = None
        self._workers: list[OutputWorker] = []
        self._housekeeping = threading.Lock()  # /health and /metrics requests run in parallel
        self._stopping = False  # /health says "stopping" while stop() flushes

    # -- inputs ----------------------------------------------------------------------------------

    def sink_for(self, input_name: str) -> EntrySink:
        """The sink an input writes to: check the entries, store them (fsynced when ``durable``)."""
        self.metrics.declare_input(input_name)
        return SpoolSink(self.spool, self.budget, input_name, self.metrics)

    def _splice(self) -> Splice | None:
        """The identity the workers splice into each record as they send (the current one: reload)."""
        return getattr(self.enrich, "splice", None)

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self, parts: PipelineParts) -> None:
        self._parts = parts  # first: a failed start is stopped like a running one
        self._stopping = False
        self._start_workers(parts)
        self._start_inputs(parts)

    def _start_workers(self, parts: PipelineParts) -> None:
        self._workers = [OutputWorker(route, self.spool, parts.retry, self.metrics, self.dead_letter,
                                      secrets=parts.secrets, splice=self._splice) for route in parts.routes]
        for worker in self._workers:
            worker.start()

    def _start_inputs(self, parts: PipelineParts) -> None:
        started: list[Input] = []
        try:
            for item in parts.inputs:
                item.start(self.sink_for(item.name))
                started.append(item)
        except (OSError, LogAgentError):
            for item in started:
                item.stop()
            raise

    def reload(self, parts: PipelineParts) -> None:
        """Swap in a new configuration: nothing spooled is lost or sent twice (cursors are per name)."""
        old = self._parts
        if old is not None:
            self._stop_inputs(old)
            self._stop_workers(abort=True, timeout=60)
            for name in {r.name for r in old.routes} - {r.name for r in parts.routes}:
                self.spool.unregister(name)
                self.metrics.forget_output(name)
        try:
            self.start(parts)
        finally:
            if old is not None:
                self._close_outputs(old)

    def stop(self, flush_timeout: float | None = None) -> None:
        """Stop inputs, deliver what can be delivered within ``flush_timeout``, then stop outputs."""
        parts = self._parts
        if parts is None:
            return
        timeout = parts.retry.flush_timeout if flush_timeout is None else flush_timeout
        self._stopping = True
        self._stop_inputs(parts)
        for worker in self._workers:
            worker.drain()
        self._stop_workers(abort=False, timeout=timeout)
        self._close_outputs(parts)
        self.housekeep_once()
        self._parts = None

    @staticmethod
    def _stop_inputs(parts: PipelineParts) -> None:
        for item in parts.inputs:
            item.stop()

    def _stop_workers(self, abort: bool, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        if abort:
            for worker in self._workers:
                worker.abort()
        for worker in self._workers:
            if not worker.join(max(0.0, deadline - time.monotonic())):
                worker.abort()
        for worker in self._workers:
            if not worker.join(5):
                log.error("output %s did not stop in time", worker.name)

    @staticmethod
    def _close_outputs(parts: PipelineParts) -> None:
        for route in parts.routes:
            try:
                route.output.close()
            except Exception:  # closing is best effort; one broken output must not block the rest
                log.exception("closing output %s failed", route.name)

    # -- metrics and health ----------------------------------------------------------------------

    def housekeep_once(self, stopping: bool = False) -> dict[str, Any]:
        """Copy the spool's and the inputs' counters into the metrics and build the health document
        (returned, and kept as ``last_health``). Called for every /health and /metrics request."""
        with self._housekeeping:
            inputs = self._parts.inputs if self._parts else []
            self.last_health = self.health.build(self._workers, inputs, stopping or self._stopping)
            return self.last_health

