"""Check a chunk's entries and splice extra keys into each record map, without decoding the records.

One pass over the entry bytes: msgpack's C ``Unpacker`` skips the time and the record (``skip`` /
``tell`` give the byte offsets); Python looks at two type bytes per entry. Each record map's header is
rewritten for N more pairs and the pre-encoded pairs are appended after the record's own:

    fixmap 0x8n (n <= 15)  ->  fixmap, or map16 0xde once n + N > 15
    map16  0xde nnnn       ->  map16, or map32 0xdf once n + N > 65535
    map32  0xdf nnnnnnnn   ->  map32

Rare shapes take a slow path that decodes that one entry: a record that already holds a spliced key
(see ``Splice.merge``), a record that is not a map (kept as ``{"message": value}``, as Fluentd's
in_forward users expect), and Fluent Bit's ``[[time, metadata], record]`` (metadata dropped).
Anything else (not a 2-element array, a time that is not EventTime/int/float, bytes that are not
msgpack, fewer or more entries than announced) is a ProtocolError: the chunk is refused whole.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import msgpack

from ..errors import ProtocolError
from .entries import event_time_bytes, pack_entry, time_ns_of

_MAP16 = struct.Struct(">BH")
_MAP32 = struct.Struct(">BI")
# type bytes of a time that is valid whatever its value: positive fixint, uint8/16/32 (< 2**32 s);
# other forms (int64, negative, float, ext8...) are checked and normalised on the slow path
_PLAIN_SECONDS = frozenset([*range(0x00, 0x80), 0xCC, 0xCD, 0xCE])
_NS_FIRST_BYTE_OK = 0x3B  # EventTime nanoseconds < 1e9 = 0x3B9ACA00: a first byte below is always fine
_NS_PER_SECOND = 1_000_000_000
_FIXEXT8 = 0xD7
_MIN_BYTES_PER_ELEMENT = 1


@dataclass(frozen=True, slots=True)
class Splice:
    """``pairs``: N encoded key/value pairs appended to every record; ``key``: the encoding of the
    key a record may already hold (a record containing these bytes takes the slow path, where
    ``merge(record) -> record`` decides: the app's own keys win)."""

    pairs: bytes
    count: int
    key: bytes
    merge: Callable[[dict], dict]


def map_header(count: int) -> bytes:
    if count <= 15:
        return bytes((0x80 | count,))
    if count <= 0xFFFF:
        return _MAP16.pack(0xDE, count)
    return _MAP32.pack(0xDF, count)


def _unpacker(size: int) -> msgpack.Unpacker:
    limit = max(16, size // _MIN_BYTES_PER_ELEMENT)
    return msgpack.Unpacker(max_buffer_size=max(size, 1), max_array_len=limit, max_map_len=limit,
                            max_str_len=size, max_bin_len=size, max_ext_len=size, strict_map_key=False,
                            unicode_errors="surrogateescape")


def walk(entries: bytes, count: int, splice: Splice | None, piece_bytes: int) -> Iterator[tuple[bytes, int]]:
    """Yield ``(entries, count)`` pieces of about ``piece_bytes`` each, checked and spliced.

    ``count`` is how many entries were announced (-1: unknown, count them). Raises ProtocolError at
    the first bad entry (pieces yielded before it are good)."""
    size = len(entries)
    unpacker = _unpacker(size)
    unpacker.feed(entries)
    skip, tell, read_array_header = unpacker.skip, unpacker.tell, unpacker.read_array_header
    pairs = splice.pairs if splice else b""
    extra = splice.count if splice else 0
    key = splice.key if splice else b""
    grow = len(pairs)
    small_headers = [map_header(n + extra) for n in range(16)]  # fixmap n -> its new header
    out = bytearray()  # the piece being built (bytes objects per entry would cost ~50 bytes each)
    view = memoryview(entries)
    out_bytes = 0
    in_piece = 0
    pos = 0
    seen = 0
    run_start = 0  # entries from here to ``start`` are kept as they are: copied once, as one slice
    find = entries.find
    try:
        while pos < size:
            seen += 1
            if seen > count >= 0:
                raise ProtocolError(f"more entries than the {count} announced")
            start = pos
            kind = entries[pos + 1] if entries[pos] == 0x92 else -1
            if kind == _FIXEXT8 and entries[pos + 2] == 0 and (entries[pos + 7] < _NS_FIRST_BYTE_OK or (
                    entries[pos + 7] == _NS_FIRST_BYTE_OK
                    and int.from_bytes(entries[pos + 7:pos + 11], "big") < _NS_PER_SECOND)):
                read_array_header()
                skip()
                pos += 11
            elif kind in _PLAIN_SECONDS:
                read_array_header()
                skip()
                pos = tell()
            else:  # not [time, record] with a plain time: decode this one entry
                entry, pos = _slow_entry(unpacker, splice)
                kind = -1
                if run_start < start:
                    out += view[run_start:start]
                out += entry
                out_bytes += len(entry)
                run_start = pos
            if kind != -1:
                head = entries[pos]
                skip()
                end = tell()
                if 0x80 <= head <= 0x8F:
                    header, header_size = small_headers[head & 0x0F], 1
                elif head == 0xDE:
                    header = map_header(int.from_bytes(entries[pos + 1:pos + 3], "big") + extra)
                    header_size = 3
                elif head == 0xDF:
                    header = map_header(int.from_bytes(entries[pos + 1:pos + 5], "big") + extra)
                    header_size = 5
                else:
                    header_size = 0
                if not header_size or (key and find(key, pos, end) != -1):
                    entry = _rebuild(entries[start:end], splice)
                    if run_start < start:
                        out += view[run_start:start]
                    out += entry
                    out_bytes += len(entry)
                    run_start = end
                elif extra:
                    if run_start < start:
                        out += view[run_start:start]
                    out += view[start:pos]
                    out += header
                    out += view[pos + header_size:end]
                    out += pairs
                    out_bytes += end - start + grow
                    run_start = end
                else:
                    out_bytes += end - start  # unchanged: stays in the run
                pos = end
            in_piece += 1
            if out_bytes >= piece_bytes:
                if run_start < pos:
                    out += view[run_start:pos]
                run_start = pos
                yield bytes(out), in_piece
                out, out_bytes, in_piece = bytearray(), 0, 0
    except (IndexError, msgpack.OutOfData) as err:
        raise ProtocolError(f"the entries end in the middle of an entry (entry {seen})") from err
    except (ValueError, TypeError, msgpack.UnpackException) as err:
        raise ProtocolError(f"invalid entry {seen} of {count}: {str(err) or type(err).__name__}") from err
    if seen != count and count >= 0:
        raise ProtocolError(f"{seen} entries where {count} were announced")
    if run_start == 0 and not out:  # nothing changed: the input itself, not a copy
        if pos:
            yield entries, in_piece
        return
    if run_start < pos:
        out += view[run_start:pos]
    if out:
        yield bytes(out), in_piece


def _slow_entry(unpacker: msgpack.Unpacker, splice: Splice | None) -> tuple[bytes, int]:
    """Decode the unusual entry the unpacker stands at; returns it normalised, and where it ends."""
    value = unpacker.unpack()
    end = unpacker.tell()
    if not isinstance(value, list) or len(value) != 2:
        raise ProtocolError("an entry must be a [time, record] array")
    return _normalised(value, splice), end


def _rebuild(raw: bytes, splice: Splice | None) -> bytes:
    value = msgpack.unpackb(raw, raw=False, strict_map_key=False, unicode_errors="surrogateescape")
    return _normalised(value, splice)


def _normalised(value: list, splice: Splice | None) -> bytes:
    time_value, record = value
    try:
        time_ns = time_ns_of(time_value)
    except ValueError as err:
        raise ProtocolError(str(err)) from err
    if not isinstance(record, dict):
        record = {"message": record}
    if splice is not None:
        record = splice.merge(record)
    if isinstance(time_value, msgpack.ExtType):
        return b"\x92" + event_time_bytes(time_ns) + msgpack.packb(
            record, use_bin_type=True, unicode_errors="surrogateescape")
    return pack_entry(time_ns, record)
