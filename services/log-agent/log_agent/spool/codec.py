"""The on-disk chunk frame (spool format 2), big-endian:

    length:u32 | crc32:u32 | payload
    payload = count:u32 | tag_length:u16 | tag (UTF-8) | entries

``entries`` are the chunk's msgpack ``[time, record]`` entries exactly as the input handed them over
(identity already spliced in): the spool neither decodes nor re-encodes them, and the Forward output
sends them on as they are. One frame per chunk (an input's read, up to about a megabyte) keeps the
framing a few bytes per chunk, not per record. The CRC covers the payload; a frame whose length runs
past the data or whose CRC does not match is "bad". Pure functions: no I/O here, so the segment
stores (file or memory) share one format. Format 1 (one frame per record) lives in ``legacy.py``.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

from ..models import Chunk

FORMAT_VERSION = 2
HEADER = struct.Struct(">II")
CHUNK_HEAD = struct.Struct(">IH")  # record count, tag length
MAX_FRAME_BYTES = 64 * 1024 * 1024  # a length above this is garbage, not a chunk


def encode(chunk: Chunk) -> bytes:
    """One frame: the entries are copied once (no per-record work)."""
    tag = chunk.tag.encode("utf-8")
    head = CHUNK_HEAD.pack(chunk.count, len(tag)) + tag
    crc = zlib.crc32(chunk.entries, zlib.crc32(head))
    return b"".join((HEADER.pack(len(head) + len(chunk.entries), crc), head, chunk.entries))


def decode_payload(payload: bytes | memoryview) -> Chunk:
    count, tag_length = CHUNK_HEAD.unpack_from(payload, 0)
    start = CHUNK_HEAD.size + tag_length
    if start > len(payload):
        raise ValueError("tag runs past the payload")
    tag = bytes(payload[CHUNK_HEAD.size:start]).decode("utf-8")
    return Chunk(tag, bytes(payload[start:]), count)


@dataclass(frozen=True, slots=True)
class Frame:
    """One frame found in a buffer: ``chunk`` is None when the frame is corrupt (counted, skipped)."""

    start: int
    end: int
    chunk: Chunk | None

    @property
    def count(self) -> int:
        return self.chunk.count if self.chunk is not None else 0


def frame_end(data: bytes | memoryview, pos: int) -> int | None:
    """Where the frame at ``pos`` ends when its header is plausible and its CRC matches, else None."""
    if pos + HEADER.size > len(data):
        return None
    length, crc = HEADER.unpack_from(data, pos)
    end = pos + HEADER.size + length
    if length < CHUNK_HEAD.size or length > MAX_FRAME_BYTES or end > len(data):
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
        return Frame(pos, end, decode_payload(memoryview(data)[pos + HEADER.size : end]))
    except (ValueError, UnicodeDecodeError, struct.error):
        return Frame(pos, end, None)  # CRC matched but the payload is not ours: corrupt, keep going


def resync(data: bytes | memoryview, pos: int) -> int | None:
    """Offset of the next well-formed frame after a bad one at ``pos`` (None: nothing good follows)."""
    for candidate in range(pos + 1, len(data) - HEADER.size + 1):
        if frame_end(data, candidate) is not None:
            return candidate
    return None


def claimed_end(data: bytes | memoryview, pos: int) -> int | None:
    """Where the frame at ``pos`` says it ends (its header only, nothing checked but plausibility)."""
    if pos + HEADER.size > len(data):
        return None
    length = HEADER.unpack_from(data, pos)[0]
    if length < CHUNK_HEAD.size or length > MAX_FRAME_BYTES:
        return None
    return pos + HEADER.size + length


def _boundaries(data: bytes | memoryview, pos: int, whole: bool = True) -> Iterator[tuple[int, int, bool]]:
    """(start, end, good) of every frame from ``pos``; a bad stretch followed by good frames is one
    bad frame. Stops at a bad stretch nothing good follows (a torn tail, or a frame being written).
    ``whole=False``: ``data`` is a window, a prefix of what was written; a frame that runs past its end
    (or a header cut by it) ends the scan (the next window has it) instead of being searched past
    byte by byte."""
    while pos < len(data):
        if not whole:
            claimed = claimed_end(data, pos)
            if (claimed is None and pos + HEADER.size > len(data)) or \
                    (claimed is not None and claimed > len(data)):
                return
        end = frame_end(data, pos)
        good = end is not None
        if end is None:
            end = resync(data, pos)
            if end is None:
                return
        yield pos, end, good
        pos = end


def scan(data: bytes | memoryview, pos: int = 0, whole: bool = True) -> Iterator[Frame]:
    """Every frame from ``pos`` (see ``_boundaries``); a bad stretch yields one corrupt Frame."""
    for start, end, good in _boundaries(data, pos, whole):
        frame = frame_at(data, start) if good else None
        yield frame or Frame(start, end, None)


def last_end(data: bytes | memoryview) -> int:
    """Where the last frame (good, or a bad stretch good frames follow) ends: the rest is torn."""
    ends = [end for _, end, _good in _boundaries(data, 0)]
    return ends[-1] if ends else 0


def _count_at(data: bytes | memoryview, start: int) -> int:
    return CHUNK_HEAD.unpack_from(data, start + HEADER.size)[0]


def count_records(data: bytes | memoryview, pos: int = 0) -> int:
    """Records in the good frames from ``pos`` (headers and CRCs only, nothing decoded)."""
    return sum(_count_at(data, start) for start, _, good in _boundaries(data, pos) if good)


def count_slots(data: bytes | memoryview, pos: int = 0) -> int:
    """Sequence numbers the frames from ``pos`` take: each good frame its records, a bad one 1."""
    return sum(_count_at(data, start) if good else 1 for start, _, good in _boundaries(data, pos))
