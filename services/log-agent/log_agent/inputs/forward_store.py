"""How the Forward input stores what a connection read: the requests of one read grouped per tag,
compressed payloads inflated in pieces, and the wait for room in the agent's memory budget."""

from __future__ import annotations

import contextlib

from ..budget import MemoryBudget
from ..errors import BudgetExceeded, ProtocolError, SpoolError
from ..protocol import ProtocolLimitError
from ..sink import working_bytes
from .base import EntrySink
from .forward_config import ConnectionClosed, ForwardStats
from .forward_frames import inflate

BUDGET_WAIT_SECONDS = 2.0  # a frame waits this long for room in the memory budget, then is refused
FREE_BYTES = 64 * 1024  # per connection, not reserved: small frames never touch the budget's lock
_PIECE_BYTES = 1024 * 1024  # inflated entries handed to the sink at a time
# a compressed frame besides the sink's work: the inflated bytes not handed on yet, the piece cut
# from them, the framing unpacker's buffer, and the piece waiting to be stored
_INFLATE_BYTES = 4 * _PIECE_BYTES


class Reservation:
    """What one connection holds in the agent's memory budget. It grows (waiting up to
    BUDGET_WAIT_SECONDS, else the frame is refused: ConnectionClosed "memory_budget") to cover what
    the connection is about to hold, and shrinks once it holds less; the sink is then called with
    ``reserved=True``, so a connection never waits for the budget twice for the same bytes."""

    def __init__(self, budget: MemoryBudget) -> None:
        self.budget = budget
        self.held = 0

    def ensure(self, amount: int) -> None:
        amount = max(0, amount - FREE_BYTES)
        if amount <= self.held:
            return
        try:
            self.budget.acquire(amount - self.held, BUDGET_WAIT_SECONDS)
        except BudgetExceeded as err:
            raise ConnectionClosed("memory_budget", f"frame refused, no ack sent: {err}") from err
        self.held = amount

    def shrink(self, amount: int) -> None:
        amount = max(0, amount - FREE_BYTES)
        if amount < self.held:
            self.budget.release(self.held - amount)
            self.held = amount


class FrameStore:
    """One per connection: hands what it read to the sink (SpoolError, a full budget and bad entries
    become ConnectionClosed with a counted reason: no ack is sent)."""

    def __init__(self, sink: EntrySink, reservation: Reservation, stats: ForwardStats,
                 max_decompressed_bytes: int) -> None:
        self.sink = sink
        self.reservation = reservation
        self.stats = stats
        self.max_decompressed_bytes = max_decompressed_bytes

    def pending(self, pending: list[tuple[str, bytes | memoryview, int]], durable: bool,
                closing: bool = False) -> None:
        """Store what was read (consecutive requests of one tag as one chunk), then forget it."""
        if not pending:
            if durable:
                self.store("", b"", 0, durable=True)
            return
        groups: list[tuple[str, list[bytes | memoryview], int]] = []
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
                entries = parts[0] if len(parts) == 1 else b"".join(parts)
                self.store(tag, entries, count, durable=durable and last)
            except ConnectionClosed:
                if not closing:
                    raise

    def compressed(self, tag: str, payload: bytes | memoryview, durable: bool) -> None:
        """Inflate in steps, each piece stored as it comes: memory stays a piece, not the payload.

        The reservation covers the inflating and the sink's work on one piece, whatever the frame
        inflates to; the pieces are one batch for the size cap (it never drops the frame's earlier
        pieces to make room for its later ones)."""
        self.reservation.ensure(len(payload) + _INFLATE_BYTES + working_bytes(_PIECE_BYTES))
        previous: tuple[bytes, int] | None = None  # one piece behind: the last one is the durable one
        batch = getattr(self.sink, "batch", contextlib.nullcontext)
        try:
            with batch():
                for piece in inflate(payload, self.max_decompressed_bytes, _PIECE_BYTES):
                    if previous is not None:
                        self._call(tag, *previous, durable=False)
                    previous = piece
                self._call(tag, *(previous or (b"", 0)), durable=durable)
        except ProtocolLimitError as err:
            raise ConnectionClosed("decompressed_too_large", str(err)) from err
        except ProtocolError as err:
            raise ConnectionClosed("protocol", str(err)) from err

    def store(self, tag: str, entries: bytes | memoryview, count: int, durable: bool) -> None:
        """Hand entries to the sink (an empty call with ``durable`` only syncs what came before),
        once the connection's reservation covers them and the sink's work on them."""
        self.reservation.ensure(len(entries) + working_bytes(len(entries)))
        self._call(tag, bytes(entries), count, durable)  # the one copy out of the frame (the sink keeps it)

    def _call(self, tag: str, entries: bytes | memoryview, count: int, durable: bool) -> None:
        try:
            stored = self.sink(tag, entries, count, durable=durable, reserved=True)
        except BudgetExceeded as err:  # a sink in front of the core's that took a reservation of its own
            raise ConnectionClosed("memory_budget", f"records not stored, no ack sent: {err}") from err
        except SpoolError as err:
            # no ack: the client keeps the chunk and resends it after reconnecting
            raise ConnectionClosed("spool", f"records not stored, no ack sent: {err}") from err
        except ProtocolError as err:
            raise ConnectionClosed("protocol", str(err)) from err
        self.stats.add("records_total", stored if isinstance(stored, int) else max(count, 0))
