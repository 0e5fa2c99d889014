"""What every input is given: a sink that stores records in the spool before returning."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from ..models import Record


class RecordSink(Protocol):
    def __call__(self, records: list[Record], durable: bool) -> None:
        """Store ``records``; with ``durable=True`` return only once they are fsynced (ack-able).

        Raises SpoolError when the records could not be stored (the input must not ack then).
        """


class Input(Protocol):
    """An input runs until ``stop()``; it hands every record to the sink it was started with."""

    name: str

    def start(self, sink: RecordSink) -> None: ...

    def stop(self) -> None: ...


# Connection error reasons that mean a client was turned away (the input is saturated).
REFUSALS = ("too_many_connections", "no_thread")


@runtime_checkable
class ConnectionStats(Protocol):
    """What a connection-oriented input reports (exported as metrics and in /health)."""

    connections_active: int
    errors: dict[str, int]
