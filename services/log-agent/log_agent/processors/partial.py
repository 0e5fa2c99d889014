"""Joining the pieces of a line Docker split (it splits lines over 16 KiB): the fluentd log driver marks
them ``partial_message``/``partial_id``/``partial_ordinal``/``partial_last``, the journald driver
``CONTAINER_PARTIAL_MESSAGE``/``_ID``/``_ORDINAL``/``_LAST``.

``PartialAssembler`` is the shared, bounded core: pieces wait per (container, partial id) until the
last one; a line longer than ``max_bytes``, more than ``max_pending`` lines waiting, or a line whose
last piece did not come within ``timeout`` is let out as it is (``partial_incomplete: true``) rather
than held forever or dropped. ``DockerPartial`` is the processor for Forward input records.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ..confparse import PARSE, SectionConfig, parse_duration, parse_size
from ..errors import ConfigError, LogAgentError
from .base import ProcessorStats, TimedRecord

MARKER = b"partial_message"  # a Forward chunk without these bytes has no pieces: no decoding needed


@dataclass(slots=True)
class _Pending:
    time_ns: int
    record: dict[str, Any]  # the first piece's record: the joined line takes its other fields
    pieces: list[tuple[int, str | bytes]]  # (ordinal, text)
    size: int
    started: float


class PartialAssembler:
    def __init__(self, max_bytes: int, max_pending: int, timeout: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.max_bytes, self.max_pending, self.timeout = max_bytes, max_pending, timeout
        self.clock = clock
        self.pending: OrderedDict[Any, _Pending] = OrderedDict()
        self.joined_total = 0
        self.incomplete_total = 0

    def add(self, key: Any, time_ns: int, record: dict[str, Any], text: str | bytes, ordinal: int,
            last: bool, message_field: str) -> list[TimedRecord]:
        """Take one piece; returns the records that are complete now (zero, one or more)."""
        out: list[TimedRecord] = []
        entry = self.pending.get(key)
        if entry is None:
            entry = _Pending(time_ns, record, [], 0, self.clock())
            self.pending[key] = entry
            if len(self.pending) > self.max_pending:
                out.append(self._release(next(iter(self.pending)), message_field, complete=False))
        entry.pieces.append((ordinal, text))
        entry.size += len(text)
        if last:
            out.append(self._release(key, message_field, complete=True))
        elif entry.size >= self.max_bytes:
            out.append(self._release(key, message_field, complete=False))
        return out

    def expired(self, message_field: str) -> list[TimedRecord]:
        """Lines whose last piece is overdue, let out as they are."""
        deadline = self.clock() - self.timeout
        stale = [key for key, entry in self.pending.items() if entry.started <= deadline]
        return [self._release(key, message_field, complete=False) for key in stale]

    def oldest_started(self) -> float | None:
        return min((entry.started for entry in self.pending.values()), default=None)

    def _release(self, key: Any, message_field: str, complete: bool) -> TimedRecord:
        entry = self.pending.pop(key)
        texts = [text for _, text in sorted(entry.pieces, key=lambda piece: piece[0])]
        if any(isinstance(text, bytes) for text in texts):
            joined: str | bytes = b"".join(t if isinstance(t, bytes) else t.encode() for t in texts)
        else:
            joined = "".join(texts)  # type: ignore[arg-type]
        entry.record[message_field] = joined
        if complete:
            self.joined_total += 1
        else:
            entry.record["partial_incomplete"] = True
            self.incomplete_total += 1
        return entry.time_ns, entry.record


def flag(value: Any) -> bool:
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    return value is True or (isinstance(value, str) and value.lower() == "true")


def ordinal(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


@dataclass(slots=True)
class DockerPartialConfig(SectionConfig):
    SECTION: ClassVar[str] = "docker_partial"
    message_field: str = "log"
    max_bytes: int = field(default=1024 * 1024, metadata={PARSE: parse_size})
    max_pending: int = 256
    timeout: float = field(default=5.0, metadata={PARSE: parse_duration})

    def validate(self) -> None:
        for key in ("max_bytes", "max_pending"):
            if getattr(self, key) <= 0:
                raise ConfigError(f"docker_partial.{key}", "must be positive")


_DOCKER_KEYS = ("partial_message", "partial_id", "partial_ordinal", "partial_last")


class DockerPartial:
    """Records the fluentd log driver sent as pieces come out as one record, ``log`` joined, the
    ``partial_*`` keys removed. A record without ``partial_message`` passes untouched and in order."""

    def __init__(self, config: DockerPartialConfig, name: str = "docker_partial",
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.name = name
        self.stats = ProcessorStats()
        self._field = config.message_field
        self.assembler = PartialAssembler(config.max_bytes, config.max_pending, config.timeout, clock)

    def __call__(self, records: list[TimedRecord]) -> list[TimedRecord]:
        out: list[TimedRecord] = self.assembler.expired(self._field)
        for time_ns, record in records:
            if not flag(record.get("partial_message")):
                out.append((time_ns, record))
                continue
            piece = record.pop(self._field, "")
            meta = {key: record.pop(key, None) for key in _DOCKER_KEYS}
            key = (record.get("container_id"), meta["partial_id"])
            out.extend(self.assembler.add(key, time_ns, record, piece, ordinal(meta["partial_ordinal"]),
                                          flag(meta["partial_last"]), self._field))
        return out


class DockerPartialSink:
    """An EntrySink wrapper for the Forward input: a chunk holding no ``partial_message`` bytes (all
    but the rare line over 16 KiB) goes through untouched, never decoded; a chunk with pieces is
    decoded, joined by ``DockerPartial`` and packed again. The Forward input acks once this returns:
    the pieces of a line not complete yet are then held in memory only (bounded as configured), so a
    crash between the pieces of one line loses its earlier pieces."""

    def __init__(self, sink: Any, config: DockerPartialConfig | None = None) -> None:
        self.sink = sink
        self.budget = getattr(sink, "budget", None)
        self.joiner = DockerPartial(config or DockerPartialConfig())

    def __call__(self, tag: str, entries: bytes, count: int, *, durable: bool,
                 reserved: bool = False) -> None:
        if MARKER not in entries and not self.joiner.assembler.pending:
            self.sink(tag, entries, count, durable=durable, reserved=reserved)  # the caller's reservation
            return
        import msgpack

        from ..inputs.emit import pack_chunks
        from ..protocol.decode import decode_time

        unpacker = msgpack.Unpacker(raw=False, strict_map_key=False, max_buffer_size=len(entries) + 1)
        unpacker.feed(entries)
        try:
            records = [(decode_time(time_value), record) for time_value, record in unpacker]
        except (ValueError, TypeError, LogAgentError):  # not UTF-8, odd shapes: store as it came
            self.sink(tag, entries, count, durable=durable, reserved=reserved)
            return
        for chunk, chunk_count in pack_chunks(self.joiner(records)):
            self.sink(tag, chunk, chunk_count, durable=durable)
