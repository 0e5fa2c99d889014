"""The core's side of the input contract (inputs/base.py EntrySink): check a chunk's entries
(protocol/walk.py) and store them in the spool as they came.

The device identity is not stored with every record: the delivery workers splice it in when they
send (delivery.py), so the spool holds what the clients sent and its bytes on disk stay close to the
payload (a balena identity is ~100 bytes, as much as a log line).

Nothing is decoded: the entry bytes an input hands over are walked once and written as large pieces,
one fsync for the whole call when ``durable``. The bytes held meanwhile are reserved in the agent's
memory budget; when it is used up the call raises BudgetExceeded at once (the input decides whether
to wait or refuse). A chunk that is not valid Forward entries raises ProtocolError; the pieces before
the bad entry are already stored (as an input's read before a bad frame always was).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from .budget import MemoryBudget
from .errors import SpoolError
from .models import Chunk
from .protocol.walk import walk
from .spool import Spool

PIECE_BYTES = 1024 * 1024  # one spool frame; large enough that framing costs nothing


def working_bytes(size: int) -> int:
    """What storing ``size`` bytes of entries holds: the input and the walker's copy of it, plus the
    pieces and their spool frames."""
    return 2 * size + 2 * min(size, PIECE_BYTES)


class SpoolSink:
    """Callable as ``sink(tag, entries, count, *, durable)``; ``budget`` is shared by every input."""

    def __init__(self, spool: Spool, budget: MemoryBudget, input_name: str, metrics: Any) -> None:
        self.spool = spool
        self.budget = budget
        self.name = input_name
        self._batch = threading.local()  # per input thread: the batch several calls belong to
        self._metrics = metrics
        self._records_in = metrics.records_in.labels(input_name) if metrics else None
        self._ack_latency = metrics.ack_latency.labels(input_name) if metrics else None

    def __call__(self, tag: str, entries: bytes, count: int, *, durable: bool, reserved: bool = False) -> int:
        """Store; returns how many records were stored (``count``, or counted when it is -1).
        ``reserved``: the caller's reservation already covers ``working_bytes(len(entries))``."""
        if not count or not entries:
            if durable:
                self.spool.sync()  # an empty durable call: make what was stored before durable
            return 0
        started = time.monotonic()
        with self.budget.hold(0 if reserved else working_bytes(len(entries))):
            try:
                stored = self._store(tag, bytes(entries), count, durable)
            except SpoolError:
                if self._metrics:
                    self._metrics.input_errors.labels(self.name).inc()
                raise
        if self._records_in is not None:
            self._records_in.inc(stored)
            self._ack_latency.observe(time.monotonic() - started)
        return stored

    def store_packed(self, tag: str, entries: bytes, count: int, *, durable: bool) -> int:
        """Store entries the agent packed itself (``inputs.emit.pack_chunks``: valid ``[EventTime,
        map]`` entries, ``count`` exact, about a spool frame in size) without walking them again."""
        if not count or not entries:
            return self(tag, entries, count, durable=durable)
        started = time.monotonic()
        with self.budget.hold(working_bytes(len(entries))):
            try:
                own_from = getattr(self._batch, "own_from", None)
                if own_from is None:
                    own_from = self.spool.batch_start()
                self.spool.append_chunks([Chunk(tag, entries, count)], durable, own_from)
            except SpoolError:
                if self._metrics:
                    self._metrics.input_errors.labels(self.name).inc()
                raise
        if self._records_in is not None:
            self._records_in.inc(count)
            self._ack_latency.observe(time.monotonic() - started)
        return count

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Calls made inside (one frame stored in several calls: an inflated payload, piece by
        piece) are one batch for the size cap: making room never drops its earlier pieces."""
        self._batch.own_from = self.spool.batch_start()
        try:
            yield
        finally:
            self._batch.own_from = None

    def _store(self, tag: str, entries: bytes, count: int, durable: bool) -> int:
        pending: list[tuple[bytes, int]] = []
        pending_bytes = stored = 0
        # the cap never drops this call's earlier pieces (nor, inside batch(), earlier calls')
        own_from = getattr(self._batch, "own_from", None)
        if own_from is None:
            own_from = self.spool.batch_start()
        for piece, pieces_count in walk(entries, count, None, PIECE_BYTES):
            pending.append((piece, pieces_count))
            pending_bytes += len(piece)
            stored += pieces_count
            if pending_bytes >= PIECE_BYTES:  # a big chunk is stored piece by piece: memory stays bounded
                self._append(tag, pending, False, own_from)
                pending, pending_bytes = [], 0
        self._append(tag, pending, durable, own_from)
        return stored

    def _append(self, tag: str, pieces: list[tuple[bytes, int]], durable: bool, own_from: int) -> None:
        if pieces:
            self.spool.append_chunks([Chunk(tag, piece, n) for piece, n in pieces], durable, own_from)
        elif durable:
            self.spool.sync()  # the last pieces went in non-durably: make them durable now
