"""What every input is given: a sink that stores msgpack entries in the spool before returning.

An **entry** is the msgpack encoding of ``[time, record_map]`` (time: EventTime ext type 0, or integer
seconds); an input hands the core a **chunk**: a tag, entries back to back, and how many. Inputs that
build records from Python values pack them with ``protocol.entries.pack_entry``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from ..budget import MemoryBudget


class EntrySink(Protocol):
    budget: MemoryBudget  # the agent's one memory budget: reserve what you hold before the call

    def __call__(self, tag: str, entries: bytes, count: int, *, durable: bool, reserved: bool = False) -> int:
        """Store the chunk (the device identity is spliced in by the core); with ``durable=True``
        return only once it is fsynced (ack-able, checkpoint-able).

        ``count`` -1: not known, the core counts. A call without entries and ``durable=True``
        makes everything stored before it durable. Returns how many records were stored.
        ``reserved=True``: the caller holds a budget reservation for the sink's working memory
        (``sink.working_bytes``) and the sink takes none (no waiting while holding the budget).

        Raises SpoolError (not stored: do not ack), BudgetExceeded (the memory budget is in use:
        wait and call again, or refuse), ProtocolError (the entries are not valid: entries before
        the bad one may be stored)."""


class Input(Protocol):
    """An input runs until ``stop()``; it hands every chunk to the sink it was started with."""

    name: str

    def start(self, sink: EntrySink) -> None: ...

    def stop(self) -> None: ...


# Connection error reasons that mean a client was turned away (the input is saturated).
REFUSALS = ("too_many_connections", "no_thread", "memory_budget")


@runtime_checkable
class ConnectionStats(Protocol):
    """What a connection-oriented input reports (exported as metrics and in /health)."""

    connections_active: int
    errors: dict[str, int]
