"""How the Forward input stores what a connection read: the requests of one read grouped per tag,
compressed payloads inflated in pieces, and the wait for room in the agent's memory budget."""

from __future__ import annotations

import threading
import time

from ..budget import MemoryBudget
from ..errors import BudgetExceeded, ProtocolError, SpoolError
from ..protocol import ProtocolLimitError
from ..sink import working_bytes
from .base import EntrySink
from .forward_config import ConnectionClosed, ForwardStats
from .forward_frames import inflate

BUDGET_WAIT_SECONDS = 2.0  # a frame waits this long for room in the memory budget, then is refused
_PIECE_BYTES = 1024 * 1024  # inflated entries handed to the sink at a time
# what a compressed frame holds: the inflated bytes not handed on yet, the piece cut from them, the
# framing unpacker's buffer, the piece waiting to be stored, and the sink's work on a piece
_INFLATE_RESERVE = 4 * _PIECE_BYTES + working_bytes(_PIECE_BYTES)


class FrameStore:
    """One per connection: hands what it read to the sink (SpoolError, a full budget and bad entries
    become ConnectionClosed with a counted reason: no ack is sent)."""

    def __init__(self, sink: EntrySink, budget: MemoryBudget, stats: ForwardStats, stopping: threading.Event,
                 max_decompressed_bytes: int) -> None:
        self.sink = sink
        self.budget = budget
        self.stats = stats
        self.stopping = stopping
        self.max_decompressed_bytes = max_decompressed_bytes

    def pending(self, pending: list[tuple[str, bytes, int]], durable: bool,
                       closing: bool = False) -> None:
        """Store what was read (consecutive requests of one tag as one chunk), then forget it."""
        if not pending:
            if durable:
                self.store("", b"", 0, durable=True)
            return
        groups: list[tuple[str, list[bytes], int]] = []
        for tag, entries, count in pending:
            if groups and groups[-1][0] == tag and count >= 0 and groups[-1][2] >= 0:
                groups[-1][1].append(entries)
                groups[-1] = (tag, groups[-1][1], groups[-1][2] + count)
            else:
                groups.append((tag, [entries], count))
        pending.clear()
        for index, (tag, parts, count) in enumerate(groups):
            last = index == len(groups) - 1
            try:
                self.store(tag, b"".join(parts), count, durable=durable and last)
            except ConnectionClosed:
                if not closing:
                    raise

    def compressed(self, tag: str, payload: bytes, durable: bool) -> None:
        """Inflate in steps, each piece stored as it comes: memory stays a piece, not the payload.

        One reservation covers the whole frame (inflating and the sink's work on each piece): a
        connection never holds part of the budget while it waits for more."""
        try:
            self.budget.acquire(_INFLATE_RESERVE, BUDGET_WAIT_SECONDS)
        except BudgetExceeded as err:
            raise ConnectionClosed("memory_budget", f"compressed frame refused: {err}") from err
        previous: tuple[bytes, int] | None = None  # one piece behind: the last one is the durable one
        try:
            for piece in inflate(payload, self.max_decompressed_bytes, _PIECE_BYTES):
                if previous is not None:
                    self.store(tag, *previous, durable=False, reserved=True)
                previous = piece
            self.store(tag, *(previous or (b"", 0)), durable=durable, reserved=True)
        except ProtocolLimitError as err:
            raise ConnectionClosed("decompressed_too_large", str(err)) from err
        except ProtocolError as err:
            raise ConnectionClosed("protocol", str(err)) from err
        finally:
            self.budget.release(_INFLATE_RESERVE)

    def store(self, tag: str, entries: bytes, count: int, durable: bool, reserved: bool = False) -> None:
        """Hand entries to the sink (an empty call with ``durable`` only syncs what came before);
        waits up to BUDGET_WAIT_SECONDS while the memory budget is in use."""
        deadline = time.monotonic() + BUDGET_WAIT_SECONDS
        while True:
            try:
                stored = self.sink(tag, entries, count, durable=durable, reserved=reserved)
                self.stats.add("records_total", stored if isinstance(stored, int) else max(count, 0))
                return
            except BudgetExceeded as err:
                if time.monotonic() >= deadline or self.stopping.is_set():
                    detail = f"records not stored, no ack sent: {err}"
                    raise ConnectionClosed("memory_budget", detail) from err
                time.sleep(0.05)
            except SpoolError as err:
                # no ack: the client keeps the chunk and resends it after reconnecting
                raise ConnectionClosed("spool", f"records not stored, no ack sent: {err}") from err
            except ProtocolError as err:
                raise ConnectionClosed("protocol", str(err)) from err
