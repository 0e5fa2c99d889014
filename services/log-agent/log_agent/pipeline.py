"""inputs -> enrich -> spool -> one reader thread per output -> send, retry, dead letter -> commit.

The order of the last three steps is the at-least-once promise: an output's cursor moves only after
its batch was delivered or written to the dead-letter file, so a crash at any point re-sends at most
the batch in flight. Retries use exponential backoff with full jitter, capped, unlimited by default.
"""

from __future__ import annotations

import json
import logging
import os
import random
import re
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from .confparse import PARSE, SectionConfig, parse_duration, parse_size
from .errors import ConfigError, LogAgentError, OutputError, SpoolError
from .inputs.base import REFUSALS, ConnectionStats, Input, RecordSink
from .models import Outcome, Record, SendResult
from .outputs.base import Output
from .outputs.encoding import envelope, to_json
from .spool import Batch, Spool

if TYPE_CHECKING:
    from .metrics import Metrics  # imported by __main__ once PROMETHEUS_MULTIPROC_DIR is set

log = logging.getLogger(__name__)

Enricher = Callable[[list[Record]], list[Record]]
TagFilter = Callable[[str], bool]

_URL_CREDENTIALS = re.compile(r"(?P<scheme>[a-zA-Z][\w+.-]*://)[^/\s@]+@")
_SECRET_VALUE = re.compile(
    r"(?i)(?P<key>password|passwd|token|secret|shared_key|authorization|api[_-]?key)"
    r"(?P<sep>[\"']?\s*[:=]\s*)(?:(?:Bearer|Basic)\s+)?\S+"
)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """Error text safe for /health, logs and dead-letter reasons: no configured secret value (as is
    or URL-encoded, wherever a library or a server echoed it), no URL credentials, no key=value secrets."""
    for secret in sorted(secrets, key=len, reverse=True):  # longest first: one may contain another
        text = text.replace(secret, "***").replace(urllib.parse.quote(secret, safe=""), "***")
    text = _URL_CREDENTIALS.sub(r"\g<scheme>***@", text)
    return _SECRET_VALUE.sub(r"\g<key>\g<sep>***", text)


@dataclass
class RetryConfig(SectionConfig):
    """Retry/backoff of every output, batch size, dead-letter file, and the SIGTERM flush deadline."""

    SECTION: ClassVar[str] = "retry"
    initial_backoff: float = field(default=0.5, metadata={PARSE: parse_duration})
    max_backoff: float = field(default=60.0, metadata={PARSE: parse_duration})
    multiplier: float = 2.0
    max_attempts: int = 0  # 0: retry forever; otherwise the batch goes to the dead-letter file
    batch_records: int = 500
    batch_bytes: int = field(default=1024 * 1024, metadata={PARSE: parse_size})
    dead_letter_path: str = ""  # "": <spool.dir>/dead-letter.jsonl
    dead_letter_max_bytes: int = field(default=16 * 1024 * 1024, metadata={PARSE: parse_size})
    flush_timeout: float = field(default=5.0, metadata={PARSE: parse_duration})  # < docker stop's 10 s

    def validate(self) -> None:
        if self.initial_backoff <= 0:
            raise ConfigError("retry.initial_backoff", "must be > 0")
        if self.max_backoff < self.initial_backoff:
            raise ConfigError("retry.max_backoff", "must be >= initial_backoff")
        if self.multiplier < 1:
            raise ConfigError("retry.multiplier", "must be >= 1")
        if self.max_attempts < 0:
            raise ConfigError("retry.max_attempts", "must be >= 0 (0 retries forever)")
        if self.batch_records < 1:
            raise ConfigError("retry.batch_records", "must be >= 1")
        if self.batch_bytes < 1024:
            raise ConfigError("retry.batch_bytes", "must be >= 1024")

    def backoff(self, attempt: int, retry_after: float | None, rng: random.Random) -> float:
        """Full jitter: uniform(0, min(cap, initial * multiplier**(attempt-1))); a Retry-After wins."""
        ceiling = min(self.max_backoff, self.initial_backoff * self.multiplier ** min(attempt - 1, 64))
        delay = rng.uniform(0, ceiling)
        if retry_after is not None:
            delay = min(max(delay, retry_after), self.max_backoff)
        return delay


class DeadLetterFile:
    """Rejected records as JSON lines ``{"output", "reason", "time", "tag", "record"}``, one backup."""

    def __init__(self, path: Path, max_bytes: int) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self._lock = threading.Lock()

    def write(self, output: str, reason: str, records: list[Record]) -> None:
        lines = "".join(
            to_json({"output": output, "reason": reason, **envelope(record)}) + "\n" for record in records)
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if self.path.exists() and self.path.stat().st_size + len(lines) > self.max_bytes:
                os.replace(self.path, self.path.with_name(self.path.name + ".1"))
            with self.path.open("a", encoding="utf-8") as handle:
                handle.write(lines)
                handle.flush()
                os.fdatasync(handle.fileno())  # the cursor moves past these records right after


@dataclass
class Route:
    """An output and the tags it takes (records of other tags are skipped by its reader)."""

    output: Output
    accepts: TagFilter = field(default=lambda tag: True)

    @property
    def name(self) -> str:
        return self.output.name


@dataclass
class OutputHealth:
    state: str = "idle"  # idle | ok | retrying | stopped
    last_error: str = ""  # cleared by the next delivery; last_error_time stays to tell when it was
    last_error_time: float | None = None
    last_delivery: float | None = None
    failures: int = 0
    oldest_unsent_ns: int | None = None

    def note_error(self, reason: str) -> None:
        self.last_error = reason
        self.last_error_time = time.time()


class OutputWorker:
    """One output's reader: read a batch at its cursor, deliver the records it routes, commit."""

    def __init__(self, route: Route, spool: Spool, retry: RetryConfig, metrics: Metrics,
                 dead_letter: DeadLetterFile, rng: random.Random | None = None,
                 secrets: tuple[str, ...] = ()) -> None:
        self.route = route
        self.secrets = secrets  # scrubbed from every error text this worker reports
        self.name = route.name
        self.spool = spool
        self.retry = retry
        self.metrics = metrics
        self.dead_letter = dead_letter
        self.health = OutputHealth()
        self._rng = rng or random.Random()
        self._draining = threading.Event()  # finish the backlog, then stop
        self._abort = threading.Event()  # stop at the next chance, leaving the batch unacknowledged
        self._thread = threading.Thread(target=self._run, name=f"output {self.name}", daemon=True)

    def start(self) -> None:
        self.spool.register(self.name)
        self.metrics.declare_output(self.name)
        self._thread.start()

    def drain(self) -> None:
        self._draining.set()

    def abort(self) -> None:
        self._abort.set()

    def join(self, timeout: float) -> bool:
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def _run(self) -> None:
        try:
            while not self._abort.is_set():
                try:
                    if not self._step():
                        return
                except (OSError, LogAgentError) as err:
                    # The spool or the dead-letter file failed (disk full?): nothing was committed,
                    # so the same batch comes back on the next try.
                    self.health.note_error(redact(str(err), self.secrets))
                    log.error("output %s: %s; trying again", self.name, self.health.last_error)
                    self.health.state = "retrying"
                    self._abort.wait(1.0)
        finally:
            self.health.state = "stopped"

    def _step(self) -> bool:
        """Handle one batch; False once drained (when draining) or aborted."""
        batch = self.spool.read(self.name, self.retry.batch_records, self.retry.batch_bytes, timeout=0.2)
        if batch.records or batch.corrupt:
            return self._handle(batch)
        self.health.oldest_unsent_ns = None
        return not self._draining.is_set()

    def _handle(self, batch: Batch) -> bool:
        """Deliver (or dead-letter) the routed records and commit; False when aborted first."""
        wanted = [record for record in batch.records if self.route.accepts(record.tag)]
        if wanted:
            self.health.oldest_unsent_ns = min(record.time_ns for record in wanted)
            if not self._deliver(wanted):
                return False
        self.spool.commit(batch)
        return True

    def _deliver(self, records: list[Record]) -> bool:
        attempt = 0
        while not self._abort.is_set():
            attempt += 1
            result = self._send(records)
            if result.outcome is Outcome.DELIVERED:
                self._delivered(records, result)
                return True
            if result.outcome is Outcome.REJECTED:
                self._reject(records, result.reason)
                return True
            self._failed(records, result.reason)
            if self.retry.max_attempts and attempt >= self.retry.max_attempts:
                self._reject(records, f"gave up after {attempt} attempts: {result.reason}")
                return True
            self._abort.wait(self.retry.backoff(attempt, result.retry_after, self._rng))
        return False

    def _send(self, records: list[Record]) -> SendResult:
        started = time.monotonic()
        try:
            return self.route.output.send(records)
        except OutputError as err:
            return SendResult(Outcome.RETRY if err.retryable else Outcome.REJECTED, str(err))
        except Exception as err:  # an output bug must not kill its reader: retry, and say so
            reason = f"{type(err).__name__}: {err}"
            # the message may hold a secret: redacted at error level, the traceback only at debug
            log.error("output %s raised %s", self.name, redact(reason, self.secrets))
            log.debug("output %s traceback", self.name, exc_info=True)
            return SendResult(Outcome.RETRY, reason)
        finally:
            self.metrics.send_latency.labels(self.name).observe(time.monotonic() - started)

    def _delivered(self, records: list[Record], result: SendResult) -> None:
        rejected = sorted(set(result.rejected))
        if rejected:
            self._reject([records[i] for i in rejected if 0 <= i < len(records)], result.reason)
        self.metrics.records_out.labels(self.name).inc(len(records) - len(rejected))
        self.metrics.output_up.labels(self.name).set(1)
        self.health.state = "ok"
        self.health.failures = 0
        self.health.last_delivery = time.time()
        if not rejected:
            self.health.last_error = ""  # recovered: /health must not show a stale error as current

    def _reject(self, records: list[Record], reason: str) -> None:
        reason = redact(reason, self.secrets)
        self.dead_letter.write(self.name, reason, records)
        log.warning("output %s: %d records to the dead-letter file: %s", self.name, len(records), reason)
        self.metrics.records_dead_lettered.labels(self.name).inc(len(records))
        self.health.note_error(reason)

    def _failed(self, records: list[Record], reason: str) -> None:
        reason = redact(reason, self.secrets)
        if not self.health.failures:
            log.warning("output %s: send failed, retrying: %s", self.name, reason)
        self.metrics.output_errors.labels(self.name).inc()
        self.metrics.records_retried.labels(self.name).inc(len(records))
        self.metrics.output_up.labels(self.name).set(0)
        self.health.state = "retrying"
        self.health.failures += 1
        self.health.note_error(reason)


@dataclass
class PipelineParts:
    """What one configuration builds; SIGHUP builds a new one and swaps it in."""

    inputs: list[Input]
    routes: list[Route]
    retry: RetryConfig
    secrets: tuple[str, ...] = ()  # configured secret values, scrubbed from /health and dead letters


class Pipeline:
    def __init__(self, spool: Spool, metrics: Metrics, enrich: Enricher, dead_letter: DeadLetterFile,
                 health_path: Path | None = None) -> None:
        self.spool = spool
        self.metrics = metrics
        self.enrich = enrich
        self.dead_letter = dead_letter
        self.health_path = health_path
        self.started = time.time()
        self._parts: PipelineParts | None = None
        self._workers: list[OutputWorker] = []
        self._stop_housekeeping = threading.Event()
        self._housekeeper: threading.Thread | None = None
        self._seen_refusals: dict[str, int] = {}  # per input, at the last housekeeping round

    # -- inputs ----------------------------------------------------------------------------------

    def sink_for(self, input_name: str) -> RecordSink:
        """The sink an input writes to: enrich, then store (fsynced when ``durable``) before returning."""

        self.metrics.declare_input(input_name)
        records_in = self.metrics.records_in.labels(input_name)  # resolved once: sinks are hot
        ack_latency = self.metrics.ack_latency.labels(input_name)

        def sink(records: list[Record], durable: bool) -> None:
            started = time.monotonic()
            try:
                self.spool.append(self.enrich(records), durable=durable)
            except SpoolError:
                self.metrics.input_errors.labels(input_name).inc()
                raise
            records_in.inc(len(records))
            ack_latency.observe(time.monotonic() - started)

        return sink

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self, parts: PipelineParts) -> None:
        self._parts = parts  # first: a failed start is stopped like a running one
        self._start_workers(parts)
        self._start_inputs(parts)
        if self._housekeeper is None:
            self._housekeeper = threading.Thread(target=self._housekeep, name="housekeeping", daemon=True)
            self._housekeeper.start()

    def _start_workers(self, parts: PipelineParts) -> None:
        self._workers = [OutputWorker(route, self.spool, parts.retry, self.metrics, self.dead_letter,
                                      secrets=parts.secrets) for route in parts.routes]
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
        self._stop_inputs(parts)
        for worker in self._workers:
            worker.drain()
        self._stop_workers(abort=False, timeout=timeout)
        self._close_outputs(parts)
        self._stop_housekeeping.set()
        if self._housekeeper is not None:
            self._housekeeper.join(timeout=5)
        self.housekeep_once(stopping=True)
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

    def _housekeep(self) -> None:
        while not self._stop_housekeeping.wait(1.0):
            try:
                self.housekeep_once()
            except (OSError, LogAgentError) as err:
                log.warning("housekeeping failed: %s", err)

    def housekeep_once(self, stopping: bool = False) -> dict[str, Any]:
        """Refresh the spool gauges and write the health document; returns it."""
        stats = self.spool.stats()
        self.metrics.observe_spool(stats)
        now_ns = time.time_ns()
        outputs = {}
        for worker in self._workers:
            oldest = worker.health.oldest_unsent_ns
            age = max(0.0, (now_ns - oldest) / 1e9) if oldest else 0.0
            self.metrics.oldest_unsent_age.labels(worker.name).set(age)
            outputs[worker.name] = {**asdict(worker.health), "oldest_unsent_age_seconds": round(age, 3),
                                    "backlog_bytes": stats.backlog_bytes.get(worker.name, 0),
                                    "backlog_records": stats.backlog_records.get(worker.name, 0),
                                    "dropped": stats.dropped.get(worker.name, 0)}
        inputs = self._inputs_health()
        document = {
            "status": self._status(outputs, inputs, stopping),
            "pid": os.getpid(),
            "updated": time.time(),
            "started": self.started,
            "spool": {"bytes": stats.total_bytes, "segments": stats.segments,
                      "mode": self.spool.config.mode, "max_bytes": self.spool.config.max_bytes},
            "inputs": inputs,
            "outputs": outputs,
        }
        if self.health_path is not None:
            write_json_atomically(self.health_path, document)
        return document

    def _inputs_health(self) -> dict[str, Any]:
        """Per input: where it listens ("address": operators, tests using port 0) and, for inputs that
        keep connection stats, open connections, errors by reason and whether it refuses clients now."""
        inputs = self._parts.inputs if self._parts else []
        report: dict[str, Any] = {}
        for item in inputs:
            report[item.name] = {"address": getattr(item, "address", None)}
            stats = getattr(item, "stats", None)
            if isinstance(stats, ConnectionStats):
                report[item.name].update(self._connection_health(item.name, stats))
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


def write_json_atomically(path: Path, document: dict[str, Any]) -> None:
    """Readers never see half a file (the health file lives on tmpfs: no fsync, no wear)."""
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temp.write_text(json.dumps(document))
    os.replace(temp, path)
