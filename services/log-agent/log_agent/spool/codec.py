"""The on-disk record frame: ``length:u32 | crc32:u32 | msgpack([tag, time_ns, record])`` (big-endian).

Eight bytes of framing per record keep the bytes written close to the payload. The CRC covers the
payload only; a frame whose length runs past the data or whose CRC does not match is "bad". Pure
functions: no I/O here, so the segment stores (file or memory) share one format.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import msgpack

from ..models import Record

HEADER = struct.Struct(">II")
MAX_RECORD_BYTES = 64 * 1024 * 1024  # a length above this is garbage, not a record


def encode(record: Record) -> bytes:
    payload = msgpack.packb([record.tag, record.time_ns, record.record], use_bin_type=True)
    return HEADER.pack(len(payload), zlib.crc32(payload)) + payload


def encode_all(records: Iterable[Record]) -> bytes:
    return b"".join(encode(record) for record in records)


def decode_payload(payload: bytes) -> Record:
    tag, time_ns, body = msgpack.unpackb(payload, raw=False, strict_map_key=False)
    return Record(tag=tag, time_ns=time_ns, record=body)


@dataclass(frozen=True, slots=True)
class Frame:
    """One frame found in a buffer: ``record`` is None when the frame is corrupt (counted, skipped)."""

    start: int
    end: int
    record: Record | None


def frame_end(data: bytes | memoryview, pos: int) -> int | None:
    """Where the frame at ``pos`` ends when its header is plausible and its CRC matches, else None.
    No payload decoding: counting records (at spool open) needs only this."""
    if pos + HEADER.size > len(data):
        return None
    length, crc = HEADER.unpack_from(data, pos)
    end = pos + HEADER.size + length
    if length > MAX_RECORD_BYTES or end > len(data):
        return None
    if zlib.crc32(memoryview(data)[pos + HEADER.size : end]) != crc:
        return None
    return end


def frame_at(data: bytes | memoryview, pos: int) -> Frame | None:
    """The well-formed frame starting at ``pos``, or None when there is none (torn or garbage)."""
    end = frame_end(data, pos)
    if end is None:
        return None
    try:
        return Frame(pos, end, decode_payload(bytes(data[pos + HEADER.size : end])))
    except (ValueError, TypeError, msgpack.UnpackException):
        # CRC matched but the payload is not ours: treat as corrupt, keep going.
        return Frame(pos, end, None)


def resync(data: bytes | memoryview, pos: int) -> int | None:
    """Offset of the next well-formed frame after a bad one at ``pos`` (None: nothing good follows)."""
    for candidate in range(pos + 1, len(data) - HEADER.size + 1):
        if frame_end(data, candidate) is not None:
            return candidate
    return None


def _boundaries(data: bytes | memoryview, pos: int) -> Iterator[tuple[int, int, bool]]:
    """(start, end, good) of every frame from ``pos``; a bad stretch followed by good frames is one
    bad frame. Stops at a bad stretch nothing good follows (a torn tail, or a frame being written)."""
    while pos < len(data):
        end = frame_end(data, pos)
        good = end is not None
        if end is None:
            end = resync(data, pos)
            if end is None:
                return
        yield pos, end, good
        pos = end


def scan(data: bytes | memoryview, pos: int = 0) -> Iterator[Frame]:
    """Every frame from ``pos`` (see ``_boundaries``); a bad stretch yields one corrupt Frame."""
    for start, end, good in _boundaries(data, pos):
        frame = frame_at(data, start) if good else None
        yield frame or Frame(start, end, None)


def count(data: bytes | memoryview) -> int:
    """How many frames ``scan`` would yield, without decoding any (a CRC check per frame)."""
    return sum(1 for _ in _boundaries(data, 0))


def count_records(data: bytes | memoryview, pos: int = 0) -> int:
    """How many good frames (CRC checked, not decoded) ``scan`` would yield from ``pos``."""
    return sum(good for _, _, good in _boundaries(data, pos))
