"""Value types that flow through the pipeline: inputs -> spool -> outputs. They import nothing else."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Chunk:
    """Records as they travel: ``entries`` is ``count`` msgpack ``[time, record]`` entries back to back,
    all under ``tag``. Inputs hand chunks to the spool, the spool stores them, the Forward output sends
    them as they are; only outputs that need JSON decode them (``protocol.entries.decode_chunk``)."""

    tag: str
    entries: bytes
    count: int


@dataclass(frozen=True, slots=True)
class Record:
    """One log event. ``time_ns`` is nanoseconds since the epoch; ``record`` is the event's map."""

    tag: str
    time_ns: int
    record: dict[str, Any]


class Outcome(enum.Enum):
    DELIVERED = "delivered"
    RETRY = "retry"  # nothing (or not everything) was accepted; send the same batch again later
    REJECTED = "rejected"  # permanent: the records go to the dead-letter file


@dataclass(slots=True)
class SendResult:
    """What an output says about one batch.

    ``rejected`` holds the indexes (into the batch) of records refused permanently when the rest was
    delivered (Elasticsearch per-item errors); with ``Outcome.REJECTED`` the whole batch was refused.
    """

    outcome: Outcome
    reason: str = ""
    retry_after: float | None = None
    rejected: list[int] = field(default_factory=list)
