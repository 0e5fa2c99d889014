"""Entries: msgpack ``[time, record]`` as they travel in a Chunk. Packing (for inputs that build records
from Python values), grouping Records into chunks, and decoding a chunk at an output's edge.

Decoding keeps every payload: msgpack str that is not valid UTF-8 is decoded with ``surrogateescape``
(each bad byte 0xXY becomes U+DCXY, reversible with ``.encode("utf-8", "surrogateescape")``); msgpack
bin stays ``bytes``, also as a map key. The JSON encoders (outputs/encoding.py) write such characters
as ``\\udcXY`` escapes and non-UTF-8 bin as ``{"base64": ...}``. An entry that still cannot become a
Record (an array as a map key, a time out of range) is returned apart, as raw bytes, for the dead letter.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import msgpack

from ..models import Chunk, Record
from .decode import EVENT_TIME, EVENT_TIME_EXT_CODE, NS_PER_SECOND

_MAX_SECONDS = 2**32


def event_time_bytes(time_ns: int) -> bytes:
    """EventTime as msgpack fixext8 type 0 (the form Fluent Bit and Fluentd send)."""
    seconds, nanoseconds = divmod(time_ns, NS_PER_SECOND)
    return b"\xd7\x00" + EVENT_TIME.pack(seconds, nanoseconds)


_PACKER = msgpack.Packer(use_bin_type=True, unicode_errors="surrogateescape")


def pack_entry(time_ns: int, record: dict[Any, Any]) -> bytes:
    """One entry ``[EventTime, record]``; str holding surrogate escapes goes back to its raw bytes."""
    return b"\x92" + event_time_bytes(time_ns) + _PACKER.pack(record)


def chunks_from_records(records: Iterable[Record]) -> list[Chunk]:
    """Consecutive records of one tag become one chunk (order kept)."""
    chunks: list[Chunk] = []
    tag: str | None = None
    parts: list[bytes] = []
    for record in records:
        if record.tag != tag and parts:
            chunks.append(Chunk(tag, b"".join(parts), len(parts)))  # type: ignore[arg-type]
            parts = []
        tag = record.tag
        parts.append(pack_entry(record.time_ns, record.record))
    if parts:
        chunks.append(Chunk(tag, b"".join(parts), len(parts)))  # type: ignore[arg-type]
    return chunks


def split_chunk(chunk: Chunk, max_bytes: int) -> list[Chunk]:
    """``chunk`` cut at entry boundaries into chunks of about ``max_bytes`` (an entry bigger than
    that alone). The walk skips entries in C (msgpack ``skip``); nothing is decoded."""
    if len(chunk.entries) <= max_bytes:
        return [chunk]
    unpacker = msgpack.Unpacker(max_buffer_size=0)
    unpacker.feed(chunk.entries)
    pieces: list[Chunk] = []
    start = count = 0
    for _ in range(chunk.count):
        unpacker.skip()
        count += 1
        end = unpacker.tell()
        if end - start >= max_bytes:
            pieces.append(Chunk(chunk.tag, chunk.entries[start:end], count))
            start, count = end, 0
    if count:
        pieces.append(Chunk(chunk.tag, chunk.entries[start:], count))
    return pieces


def first_time_ns(chunk: Chunk) -> int | None:
    """The time of a chunk's first entry when it is the usual fixext8 EventTime (no decoding)."""
    head = chunk.entries[:11]
    if len(head) == 11 and head[:3] == b"\x92\xd7\x00":
        seconds, nanoseconds = EVENT_TIME.unpack(head[3:])
        return seconds * NS_PER_SECOND + nanoseconds
    return None


def time_ns_of(value: Any) -> int:
    """Nanoseconds from an entry's time: EventTime, integer or float seconds, or [time, metadata]."""
    if isinstance(value, list) and len(value) == 2:
        value = value[0]
    if isinstance(value, msgpack.ExtType) and value.code == EVENT_TIME_EXT_CODE and len(value.data) == 8:
        seconds, nanoseconds = EVENT_TIME.unpack(value.data)
        if nanoseconds < NS_PER_SECOND:
            return seconds * NS_PER_SECOND + nanoseconds
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < _MAX_SECONDS:
        return value * NS_PER_SECOND
    if isinstance(value, float) and math.isfinite(value) and 0 <= value < _MAX_SECONDS:
        return int(value * NS_PER_SECOND)
    raise ValueError(f"not an event time: {value!r}"[:80])


@dataclass(slots=True)
class Decoded:
    """A chunk decoded at the edge: ``records`` in order; ``undecodable`` raw entries (dead letter)."""

    records: list[Record] = field(default_factory=list)
    undecodable: list[tuple[str, bytes, str]] = field(default_factory=list)  # (tag, entry, reason)


def _unpacker() -> msgpack.Unpacker:
    return msgpack.Unpacker(raw=False, unicode_errors="surrogateescape", strict_map_key=False,
                            max_buffer_size=0)


def _record(tag: str, entry: Any) -> Record:
    if not isinstance(entry, list) or len(entry) != 2:
        raise ValueError("entry is not a [time, record] array")
    time_value, body = entry
    if not isinstance(body, dict):
        body = {"message": body}
    return Record(tag, time_ns_of(time_value), body)


def decode_chunk(chunk: Chunk, into: Decoded | None = None) -> Decoded:
    """All records of ``chunk`` in one C-level pass; only a chunk holding a bad entry is walked entry
    by entry (msgpack ``skip``) so the bad entry alone is set apart."""
    out = into if into is not None else Decoded()
    try:
        entries = msgpack.unpackb(b"\xdd" + len_bytes(chunk.count) + chunk.entries, raw=False,
                                  unicode_errors="surrogateescape", strict_map_key=False)
        out.records.extend(_record(chunk.tag, entry) for entry in entries)
        return out
    except (ValueError, TypeError, msgpack.UnpackException):
        pass
    unpacker = _unpacker()
    unpacker.feed(chunk.entries)
    start = 0
    while start < len(chunk.entries):
        try:
            unpacker.skip()
        except (ValueError, msgpack.UnpackException) as err:
            out.undecodable.append((chunk.tag, chunk.entries[start:], f"invalid msgpack: {err}"))
            break
        end = unpacker.tell()
        raw = chunk.entries[start:end]
        try:
            out.records.append(_record(chunk.tag, msgpack.unpackb(
                raw, raw=False, unicode_errors="surrogateescape", strict_map_key=False)))
        except (ValueError, TypeError, msgpack.UnpackException) as err:
            out.undecodable.append((chunk.tag, raw, f"{type(err).__name__}: {err}"[:200]))
        start = end
    return out


def decode_chunks(chunks: Iterable[Chunk]) -> Decoded:
    decoded = Decoded()
    for chunk in chunks:
        decode_chunk(chunk, decoded)
    return decoded


def len_bytes(count: int) -> bytes:
    return count.to_bytes(4, "big")
