"""One worker per output: read a batch at the output's spool cursor, send the chunks it routes,
retry with backoff, dead-letter what cannot be sent, then commit (move the cursor).

The cursor moves only after the batch was delivered or written to the dead-letter file, so a crash
at any point re-sends at most the batch in flight. Outputs that speak msgpack (``send_chunks``: the
Forward output) get the spooled chunks as they are; the others get Records, decoded here at the edge,
one pass per chunk. The device identity is spliced into every record here, from pre-encoded bytes
(protocol/walk.py), so the spool keeps only what the clients sent. An entry that cannot be decoded,
a batch an output rejects, and a batch that made the output raise (not a network error: a bug or
a value it cannot encode) three times in a row go to the dead-letter file; if even that write fails,
the records are counted as lost and the output goes on: one bad record never stops shipping.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .deadletter import DeadLetterFile
from .errors import LogAgentError, OutputError, ProtocolError
from .models import Chunk, Outcome, Record, SendResult
from .outputs.base import Output
from .protocol.entries import decode_chunks, first_time_ns
from .protocol.walk import Splice, walk
from .redact import redact
from .retry import RetryConfig
from .spool import Batch, Spool

if TYPE_CHECKING:
    from .metrics import Metrics

log = logging.getLogger(__name__)

TagFilter = Callable[[str], bool]
_MAX_RAISES = 3  # consecutive exceptions (not network errors) before a batch goes to the dead letter
_WHOLE = 1 << 62  # one piece: a spliced chunk stays one chunk


def _spliced(chunk: Chunk, splice: Splice) -> Chunk:
    """The chunk with the identity added to every record (entries were checked when stored; an
    entry the walk refuses now, after disk corruption the CRC missed, leaves the chunk as it was)."""
    try:
        pieces = list(walk(chunk.entries, chunk.count, splice, _WHOLE))
    except ProtocolError:
        return chunk
    return Chunk(chunk.tag, pieces[0][0], pieces[0][1]) if pieces else chunk


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
    dead_letter_failures: int = 0  # records neither sent nor written to the dead-letter file

    def note_error(self, reason: str) -> None:
        self.last_error = reason
        self.last_error_time = time.time()


class OutputWorker:
    """One output's reader: read a batch at its cursor, deliver the records it routes, commit."""

    def __init__(self, route: Route, spool: Spool, retry: RetryConfig, metrics: Metrics,
                 dead_letter: DeadLetterFile, rng: random.Random | None = None,
                 secrets: tuple[str, ...] = (),
                 splice: Callable[[], Splice | None] = lambda: None) -> None:
        self.splice = splice  # the identity to add (looked up per batch: a reload may change it)
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
        self.spool.wake()

    def abort(self) -> None:
        self._abort.set()
        self.spool.wake()

    def _stopping(self) -> bool:
        return self._draining.is_set() or self._abort.is_set()

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
        # No deadline: an idle output sleeps until records arrive or drain()/abort() wakes it.
        batch = self.spool.read(self.name, self.retry.batch_records, self.retry.batch_bytes, timeout=None,
                                until=self._stopping)
        if batch.chunks or batch.corrupt:
            return self._handle(batch)
        self.health.oldest_unsent_ns = None
        return not self._draining.is_set()

    def _handle(self, batch: Batch) -> bool:
        """Deliver (or dead-letter) the routed chunks and commit; False when aborted first."""
        wanted = [chunk for chunk in batch.chunks if self.route.accepts(chunk.tag)]
        if wanted:
            self.health.oldest_unsent_ns = first_time_ns(wanted[0])  # the spool is in arrival order
            if not self._deliver(wanted):
                return False
        self.spool.commit(batch)
        return True

    def _deliver(self, chunks: list[Chunk]) -> bool:
        splice = self.splice()
        if splice is not None:
            chunks = [_spliced(chunk, splice) for chunk in chunks]
        send_chunks = getattr(self.route.output, "send_chunks", None)
        if send_chunks is not None:  # msgpack all the way: nothing decoded
            return self._deliver_items(chunks, sum(chunk.count for chunk in chunks), send_chunks,
                                       lambda reason: self._reject_chunks(chunks, reason))
        decoded = decode_chunks(chunks)
        for tag, raw, why in decoded.undecodable:
            self._dead_letter(lambda tag=tag, raw=raw, why=why: self.dead_letter.write_raw(
                self.name, f"cannot decode: {why}", tag, raw), 1, f"cannot decode: {why}")
        records = decoded.records
        if not records:
            return True
        return self._deliver_items(records, len(records), self.route.output.send,
                                   lambda reason: self._reject(records, reason))

    def _deliver_items(self, items: list, count: int, send: Callable[[list], SendResult],
                       reject: Callable[[str], None]) -> bool:
        attempt = raised = 0
        while not self._abort.is_set():
            attempt += 1
            result, crashed = self._send(send, items)
            raised = raised + 1 if crashed else 0
            if result.outcome is Outcome.DELIVERED:
                self._delivered(items, count, result)
                return True
            if result.outcome is Outcome.REJECTED:
                reject(result.reason)
                return True
            self._failed(count, result.reason)
            if self.retry.max_attempts and attempt >= self.retry.max_attempts:
                reject(f"gave up after {attempt} attempts: {result.reason}")
                return True
            if raised >= _MAX_RAISES:
                reject(f"the output raised {raised} times in a row: {result.reason}")
                return True
            self._abort.wait(self.retry.backoff(attempt, result.retry_after, self._rng))
        return False

    def _send(self, send: Callable[[list], SendResult], items: list) -> tuple[SendResult, bool]:
        """The output's answer, and whether it raised (rather than returning RETRY)."""
        started = time.monotonic()
        try:
            return send(items), False
        except OutputError as err:
            return SendResult(Outcome.RETRY if err.retryable else Outcome.REJECTED, str(err)), False
        except Exception as err:  # an output bug must not kill its reader: retry, and say so
            reason = f"{type(err).__name__}: {err}"
            # the message may hold a secret: redacted at error level, the traceback only at debug
            log.error("output %s raised %s", self.name, redact(reason, self.secrets))
            log.debug("output %s traceback", self.name, exc_info=True)
            return SendResult(Outcome.RETRY, reason), True
        finally:
            self.metrics.send_latency.labels(self.name).observe(time.monotonic() - started)

    def _delivered(self, items: list, count: int, result: SendResult) -> None:
        rejected = sorted(set(result.rejected))
        if rejected:  # per-record rejections come only from record outputs (Elasticsearch items)
            self._reject([items[i] for i in rejected if 0 <= i < len(items)], result.reason)
        self.metrics.records_out.labels(self.name).inc(count - len(rejected))
        self.metrics.output_up.labels(self.name).set(1)
        self.health.state = "ok"
        self.health.failures = 0
        self.health.last_delivery = time.time()
        if not rejected:
            self.health.last_error = ""  # recovered: /health must not show a stale error as current

    def _reject(self, records: list[Record], reason: str) -> None:
        reason = redact(reason, self.secrets)
        self._dead_letter(lambda: self.dead_letter.write(self.name, reason, records), len(records), reason)

    def _reject_chunks(self, chunks: list[Chunk], reason: str) -> None:
        decoded = decode_chunks(chunks)
        if decoded.records:
            self._reject(decoded.records, reason)
        for tag, raw, why in decoded.undecodable:
            self._dead_letter(lambda tag=tag, raw=raw, why=why: self.dead_letter.write_raw(
                self.name, f"{reason}; cannot decode: {why}", tag, raw), 1, reason)

    def _dead_letter(self, write: Callable[[], None], count: int, reason: str) -> None:
        """Write to the dead-letter file; if that fails too, count the records as lost and go on."""
        try:
            write()
        except Exception as err:  # disk full, permissions, a bug: never stop the output for it
            self.metrics.records_dead_letter_failed.labels(self.name).inc(count)
            self.health.dead_letter_failures += count
            log.error("output %s: %d records could not be written to the dead-letter file (%s); "
                      "counted as lost: %s", self.name, count, err, reason)
            self.health.note_error(f"dead-letter write failed: {err}")
            return
        log.warning("output %s: %d records to the dead-letter file: %s", self.name, count, reason)
        self.metrics.records_dead_lettered.labels(self.name).inc(count)
        self.health.note_error(reason)

    def _failed(self, count: int, reason: str) -> None:
        reason = redact(reason, self.secrets)
        if not self.health.failures:
            log.warning("output %s: send failed, retrying: %s", self.name, reason)
        self.metrics.output_errors.labels(self.name).inc()
        self.metrics.records_retried.labels(self.name).inc(count)
        self.metrics.output_up.labels(self.name).set(0)
        self.health.state = "retrying"
        self.health.failures += 1
        self.health.note_error(reason)
