"""The path every record-building input shares: processors -> msgpack entries -> the durable sink.

``Emitter.emit`` returns only once the records are fsynced in the spool (so the caller may advance its
checkpoint or answer 2xx); while the agent's memory budget is used up, or the spool fails (disk full
in block mode), it waits and stores again what is not stored yet; the input's ``stop()`` ends the
wait (``Stopping``: the caller must not checkpoint).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from typing import Any

import msgpack

from ..errors import BudgetExceeded, SpoolError
from ..processors import Chain
from ..processors.base import TimedRecord
from ..protocol.encode import event_time

# A chunk is at most this much entry bytes: the sink reserves about twice it in the memory budget,
# so a large batch goes in several durable calls instead of one that could never fit.
CHUNK_BYTES = 1024 * 1024
_BUDGET_RETRY_SECONDS = (0.05, 0.1, 0.2, 0.5, 1.0)
_SPOOL_RETRY_SECONDS = 1.0
log = logging.getLogger(__name__)


class Stopping(Exception):
    """The input is stopping while it waited for room in the memory budget."""


def pack_chunks(records: list[TimedRecord], chunk_bytes: int = CHUNK_BYTES) -> Iterator[tuple[bytes, int]]:
    """``[EventTime, record]`` msgpack entries back to back (the core's chunk format), cut into
    chunks of about ``chunk_bytes``: (entries, count) each.

    Records are packed many per call (one C call packs a list of entries; its array header is cut
    off), in groups sized from the entries packed so far so a chunk ends near ``chunk_bytes``; one
    EventTime object serves a run of records with the same time (a file's read round has one)."""
    packer = msgpack.Packer(use_bin_type=True)
    parts: list[bytes] = []
    size = count = 0
    want = _FIRST_GROUP
    last_ns: int | None = None
    last_time: Any = None
    index, total = 0, len(records)
    while index < total:
        group = records[index:index + want]
        index += len(group)
        entries = []
        for time_ns, record in group:
            if time_ns != last_ns:
                last_ns, last_time = time_ns, event_time(time_ns)
            entries.append([last_time, record])
        packed = packer.pack(entries)
        body = packed[_array_header_size(len(entries)):]
        parts.append(body)
        size += len(body)
        count += len(entries)
        if size >= chunk_bytes:
            yield b"".join(parts), count
            parts, size, count = [], 0, 0
        average = len(body) / len(entries) or 1.0
        # ramped up (x4 per call): a few small records first say little about the next ones
        want = max(1, min(_MAX_GROUP, 4 * len(entries), int((chunk_bytes - size) / average) + 1))
    if parts:
        yield b"".join(parts), count


_FIRST_GROUP = 4  # records packed in the first call, before their size is known
_MAX_GROUP = 4096


def _array_header_size(length: int) -> int:
    return 1 if length <= 15 else 3 if length <= 0xFFFF else 5


# Inputs whose source keeps the data (a file, the journal) wait while the spool is fuller than this,
# until it is below the lower mark, rather than have drop_oldest throw away what they could re-read.
SPOOL_HIGH_WATER = 0.75
SPOOL_LOW_WATER = 0.5
_SPOOL_WAIT_SECONDS = 0.2


class Emitter:
    def __init__(self, sink: Any, chain: Chain, stopping: threading.Event, name: str = "input",
                 *, source_keeps_data: bool = False) -> None:
        self.sink = sink
        self.chain = chain
        self.stopping = stopping
        self.name = name
        self.source_keeps_data = source_keeps_data
        self.spool_full_waits = 0
        self.records_in = 0  # built by the input
        self.records_out = 0  # durably spooled (after processors)
        self.budget_waits = 0
        self.spool_errors_total = 0

    def emit(self, tag: str, records: list[TimedRecord], *, retry: bool = True) -> int:
        """Run the processors (once) and spool what they keep durably; returns how many were spooled.

        ``retry``: on a SpoolError wait and store again what is not stored yet (until ``stopping``:
        Stopping); without it the SpoolError goes to the caller (the HTTP input answers 503)."""
        self.records_in += len(records)
        if self.chain:
            records = self.chain(records)
        chunks = list(pack_chunks(records))
        if self.source_keeps_data:
            self._wait_for_room()
        while chunks:
            entries, count = chunks[0]
            try:
                self._store(tag, entries, count)
            except SpoolError as err:
                self.spool_errors_total += 1
                if not retry:
                    raise
                log.warning("%s: cannot spool (%s); retrying", self.name, err)
                if self.stopping.wait(_SPOOL_RETRY_SECONDS):
                    raise Stopping from None
                continue
            chunks.pop(0)
            self.records_out += count
        return len(records)

    def _spool_fill(self) -> float:
        """How full the spool is (0..1), when the sink tells (the core's SpoolSink has ``spool``)."""
        spool = getattr(self.sink, "spool", None)
        config = getattr(spool, "config", None)
        if spool is None or not getattr(config, "max_bytes", 0):
            return 0.0
        return spool.stats().total_bytes / config.max_bytes

    def _wait_for_room(self) -> None:
        if self._spool_fill() < SPOOL_HIGH_WATER:
            return
        self.spool_full_waits += 1
        log.info("%s: the spool is %.0f%% full; reading pauses until the outputs catch up",
                 self.name, 100 * self._spool_fill())
        while self._spool_fill() >= SPOOL_LOW_WATER:
            if self.stopping.wait(_SPOOL_WAIT_SECONDS):
                raise Stopping

    def _store(self, tag: str, entries: bytes, count: int) -> None:
        """One durable sink call; while the memory budget is used up, wait and call again."""
        attempt = 0
        while True:
            try:
                # entries this agent packed need no check: the core's sink stores them as they are
                store = getattr(self.sink, "store_packed", None)
                if store is not None:
                    store(tag, entries, count, durable=True)
                else:
                    self.sink(tag, entries, count, durable=True)
                return
            except BudgetExceeded:
                self.budget_waits += 1
                delay = _BUDGET_RETRY_SECONDS[min(attempt, len(_BUDGET_RETRY_SECONDS) - 1)]
                attempt += 1
                if self.stopping.wait(delay):
                    raise Stopping from None
