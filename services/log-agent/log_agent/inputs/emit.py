"""The path every record-building input shares: processors -> msgpack entries -> the durable sink.

``Emitter.emit`` returns only once the records are fsynced in the spool (so the caller may advance its
checkpoint or answer 2xx); while the agent's memory budget is used up it waits and tries again, and
``stop()`` ends the wait (``Stopping``). A SpoolError goes to the caller: it must not checkpoint.
"""

from __future__ import annotations

import threading
from typing import Any

import msgpack

from .. import errors
from ..processors import Chain
from ..processors.base import TimedRecord
from ..protocol.encode import event_time

# The sink raises BudgetExceeded while the agent's memory budget is used: wait, then try again.
_WAIT_ERRORS: tuple[type[BaseException], ...] = tuple(
    e for e in (getattr(errors, "BudgetExceeded", None),) if e is not None)
_BUDGET_RETRY_SECONDS = (0.05, 0.1, 0.2, 0.5, 1.0)


class Stopping(Exception):
    """The input is stopping while it waited for room in the memory budget."""


def pack_entries(records: list[TimedRecord]) -> bytes:
    """``[EventTime, record]`` msgpack entries, concatenated (the chunk format of the core)."""
    packer = msgpack.Packer(use_bin_type=True, autoreset=False)
    for time_ns, record in records:
        packer.pack([event_time(time_ns), record])
    return packer.bytes()


class Emitter:
    def __init__(self, sink: Any, chain: Chain, stopping: threading.Event) -> None:
        self.sink = sink
        self.chain = chain
        self.stopping = stopping
        self.records_in = 0  # built by the input
        self.records_out = 0  # durably spooled (after processors)
        self.budget_waits = 0

    def emit(self, tag: str, records: list[TimedRecord]) -> int:
        """Run the processors and spool what they keep durably; returns how many were spooled."""
        self.records_in += len(records)
        if self.chain:
            records = self.chain(records)
        if not records:
            return 0
        entries = pack_entries(records)
        attempt = 0
        while True:
            try:
                self.sink(tag, entries, len(records), durable=True)
            except _WAIT_ERRORS:
                self.budget_waits += 1
                delay = _BUDGET_RETRY_SECONDS[min(attempt, len(_BUDGET_RETRY_SECONDS) - 1)]
                attempt += 1
                if self.stopping.wait(delay):
                    raise Stopping from None
                continue
            self.records_out += len(records)
            return len(records)
