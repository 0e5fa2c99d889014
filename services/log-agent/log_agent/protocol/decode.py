"""Decoding Fluent Forward protocol v1 requests from a byte stream (pure: no I/O).

The server tells the carrier modes apart by the 2nd element of the array (spec, "Event Modes"):
str/int/ext -> Message, array -> Forward, bin/str -> PackedForward (gzip when option.compressed).
The connection stream is unpacked with ``raw=True`` so that str and bin arrive alike as bytes; record
keys and values are then turned into str where they are valid UTF-8 and kept as bytes otherwise, so
one bad byte never costs a whole batch. PackedForward streams take a faster path (see
``unpack_event_stream``) with the same result.
"""

from __future__ import annotations

import math
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import msgpack

from ..errors import ProtocolError

EVENT_TIME_EXT_CODE = 0
NS_PER_SECOND = 1_000_000_000
EVENT_TIME = struct.Struct(">II")  # EventTime ext payload: seconds, nanoseconds
# A msgpack container header of a few bytes may announce millions of elements, which msgpack
# preallocates; one element needs at least one byte, so more than this share of the frame is a lie.
_MIN_BYTES_PER_ELEMENT = 4
_INFLATE_STEP = 64 * 1024
_MAX_SECONDS = 2**32  # EventTime's range; beyond it time_ns would not fit the spool's int64
MAX_DEPTH = 100  # maps/arrays nested inside a record (msgpack itself would allow 1024)


class ProtocolLimitError(ProtocolError):
    """A frame or its decompressed payload is larger than the configured limit."""


@dataclass(frozen=True, slots=True)
class Limits:
    """Per-connection caps; both bound the memory one client can make the server hold."""

    max_frame_bytes: int = 8 * 1024 * 1024
    max_decompressed_bytes: int = 32 * 1024 * 1024


@dataclass(slots=True)
class EventBatch:
    """One request's events: ``entries`` are ``(time_ns, record)``; ``chunk`` asks for an ack."""

    tag: str
    entries: list[tuple[int, dict[str, Any]]]
    option: dict[str, Any] = field(default_factory=dict)

    @property
    def chunk(self) -> str | None:
        chunk = self.option.get("chunk")
        return chunk if isinstance(chunk, str) and chunk else None


@dataclass(frozen=True, slots=True)
class KeepAlive:
    """A msgpack ``nil`` sent by the client to check the connection."""


Request = EventBatch | KeepAlive


def text_or_bytes(value: bytes) -> str | bytes:
    """UTF-8 text as str; anything else stays bytes (never lose a payload to a decode error)."""
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return value


def normalize(value: Any, depth: int = 0) -> Any:
    """Recursively turn bytes into str where valid UTF-8 (keys and values of maps, array items).

    Nesting deeper than MAX_DEPTH is a ProtocolError: no log record needs it, and recursion that
    deep would hit Python's limit (RecursionError) instead of a clear reason."""
    if isinstance(value, bytes):
        return text_or_bytes(value)
    if isinstance(value, dict | list) and depth >= MAX_DEPTH:
        raise ProtocolError(f"record nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, dict):
        return {normalize(key, depth + 1): normalize(item, depth + 1) for key, item in value.items()}
    if isinstance(value, list):
        return [normalize(item, depth + 1) for item in value]
    return value


_PLAIN_TYPES = frozenset((str, int, float, bool, type(None)))


def _is_plain(record: dict[Any, Any]) -> bool:
    """A flat map of str keys and scalar values needs no normalizing (the common log line)."""
    return all(type(key) is str and type(value) in _PLAIN_TYPES for key, value in record.items())


def decode_time(value: Any) -> int:
    """Return nanoseconds for an integer-seconds time or an EventTime (ext 0, fixext8 or ext8)."""
    if isinstance(value, bool):
        raise ProtocolError(f"event time must be an integer or EventTime, got {type(value).__name__}")
    if isinstance(value, int | float):  # float: not in the spec, but some msgpack clients send it
        if not (math.isfinite(value) and 0 <= value < _MAX_SECONDS):
            raise ProtocolError(f"event time must be seconds between 1970 and 2106, got {value}")
        return int(value * NS_PER_SECOND) if isinstance(value, float) else value * NS_PER_SECOND
    if isinstance(value, msgpack.ExtType) and value.code == EVENT_TIME_EXT_CODE:
        if len(value.data) != EVENT_TIME.size:
            raise ProtocolError(f"EventTime must carry 8 bytes, got {len(value.data)}")
        seconds, nanoseconds = EVENT_TIME.unpack(value.data)
        if nanoseconds >= NS_PER_SECOND:
            raise ProtocolError("EventTime nanoseconds must be below 1e9")
        return seconds * NS_PER_SECOND + nanoseconds
    raise ProtocolError(f"event time must be an integer or EventTime, got {type(value).__name__}")


def _decode_entry(entry: Any) -> tuple[int, dict[str, Any]]:
    if not isinstance(entry, list) or len(entry) != 2:
        raise ProtocolError("entry must be a [time, record] array")
    time_value, record = entry
    # Fluent Bit >= 2.1 may send [[time, metadata], record] ("retain_metadata_in_forward_mode").
    if isinstance(time_value, list) and len(time_value) == 2 and isinstance(time_value[1], dict):
        time_value = time_value[0]
    if not isinstance(record, dict):
        # fluent-logger's FluentHandler without FluentRecordFormatter sends the formatted str; keep
        # it rather than drop the line (Fluentd skips such events)
        return decode_time(time_value), {"message": normalize(record)}
    return decode_time(time_value), record if _is_plain(record) else normalize(record)


def gunzip_capped(data: bytes, cap: int) -> bytes:
    """Inflate one or more concatenated gzip members, failing as soon as the output passes ``cap``.

    Decompression is incremental with ``max_length`` so a gzip bomb never allocates past the cap.
    """
    out = bytearray()
    pending = data
    while pending:
        inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        try:
            tail = pending
            while tail and len(out) <= cap:  # small steps: peak memory stays near cap, not 2 x cap
                out += inflater.decompress(tail, min(_INFLATE_STEP, cap + 1 - len(out)))
                tail = inflater.unconsumed_tail
        except zlib.error as err:
            raise ProtocolError(f"invalid gzip payload: {err}") from err
        if len(out) > cap:
            raise ProtocolLimitError(f"decompressed payload exceeds {cap} bytes")
        if not inflater.eof:
            raise ProtocolError("truncated gzip payload")
        pending = inflater.unused_data
    return bytes(out)


def _bounded_unpacker(max_bytes: int, raw: bool = True) -> msgpack.Unpacker:
    max_elements = max(16, max_bytes // _MIN_BYTES_PER_ELEMENT)
    return msgpack.Unpacker(
        raw=raw,
        strict_map_key=False,
        max_buffer_size=max_bytes,
        max_array_len=max_elements,
        max_map_len=max_elements,
        max_ext_len=max_bytes,
    )


def unpack_event_stream(stream: bytes) -> list[tuple[int, dict[str, Any]]]:
    """Decode a MessagePackEventStream: concatenated ``[time, record]`` entries.

    Fast path: msgpack decodes str as UTF-8 in C. Only a stream holding a str that is not UTF-8 is
    decoded again raw (such strings then stay bytes), so the common case skips the Python walk.
    """
    try:
        return _unpack_entries(stream, raw=False)
    except UnicodeDecodeError:
        return _unpack_entries(stream, raw=True)


def _unpack_entries(stream: bytes, raw: bool) -> list[tuple[int, dict[str, Any]]]:
    unpacker = _bounded_unpacker(max(len(stream), 1), raw)
    unpacker.feed(stream)
    entries = []
    end_of_last_entry = 0  # tell() also counts a trailing partial entry, so remember where each ended
    try:
        for entry in unpacker:
            entries.append(_decode_entry(entry))
            end_of_last_entry = unpacker.tell()
    except UnicodeDecodeError:
        raise
    except (ValueError, TypeError, msgpack.UnpackException) as err:
        raise ProtocolError(f"invalid entry in packed event stream: {err}") from err
    if end_of_last_entry != len(stream):
        raise ProtocolError("packed event stream ends in the middle of an entry")
    return entries


def _decode_option(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ProtocolError(f"option must be a map, got {type(value).__name__}")
    return normalize(value)


def _decode_tag(value: Any) -> str:
    if not isinstance(value, bytes):
        raise ProtocolError(f"tag must be a string, got {type(value).__name__}")
    tag = text_or_bytes(value)
    if not isinstance(tag, str) or not tag:
        raise ProtocolError("tag must be a non-empty UTF-8 string")
    return tag


def _packed_entries(payload: bytes, option: dict[str, Any], limits: Limits) -> list[tuple[int, dict]]:
    compressed = option.get("compressed")
    if compressed == "gzip":
        payload = gunzip_capped(payload, limits.max_decompressed_bytes)
    elif compressed not in (None, "text"):  # "text" is how Fluentd's out_forward spells "none"
        raise ProtocolError(f"unsupported option.compressed {compressed!r}")
    return unpack_event_stream(payload)


def decode_request(message: Any, limits: Limits) -> Request:
    """Classify one top-level msgpack value and decode its events."""
    if message is None:
        return KeepAlive()
    if not isinstance(message, list) or not 2 <= len(message) <= 4:
        raise ProtocolError("request must be an array of 2 to 4 elements")
    tag = _decode_tag(message[0])
    second = message[1]
    if isinstance(second, list):  # Forward
        option = _decode_option(message[2] if len(message) > 2 else None)
        entries = [_decode_entry(entry) for entry in second]
    elif isinstance(second, bytes):  # PackedForward (str or bin) / CompressedPackedForward
        if len(message) > 3:
            raise ProtocolError("PackedForward takes at most 3 elements")
        option = _decode_option(message[2] if len(message) > 2 else None)
        entries = _packed_entries(second, option, limits)
    else:  # Message: [tag, time, record, option?]
        if len(message) < 3:
            raise ProtocolError("Message mode needs [tag, time, record]")
        option = _decode_option(message[3] if len(message) > 3 else None)
        entries = [_decode_entry(message[1:3])]
    return EventBatch(tag, entries, option)


class StreamDecoder:
    """Feed bytes from one connection, get complete requests back.

    The msgpack buffer is capped at ``limits.max_frame_bytes``: a frame that does not fit raises
    ProtocolLimitError instead of growing memory.
    """

    def __init__(self, limits: Limits | None = None) -> None:
        self.limits = limits or Limits()
        self._unpacker = _bounded_unpacker(self.limits.max_frame_bytes)
        self._fed = 0
        self._complete_at = 0  # stream offset just after the last complete value

    @property
    def pending_bytes(self) -> int:
        """Bytes of an incomplete value still buffered (non-zero at EOF: the peer closed mid-frame)."""
        # not fed - tell(): the C unpacker's tell() also counts the bytes of a half-parsed value
        return self._fed - self._complete_at

    def feed(self, data: bytes) -> Iterator[Any]:
        """Yield every complete top-level msgpack value now available (not yet classified)."""
        try:
            self._unpacker.feed(data)
        except msgpack.BufferFull as err:
            raise ProtocolLimitError(f"frame exceeds {self.limits.max_frame_bytes} bytes") from err
        self._fed += len(data)
        try:
            for value in self._unpacker:
                self._complete_at = self._unpacker.tell()
                yield value
        except (ValueError, TypeError, msgpack.UnpackException) as err:
            # ValueError: msgpack's limit checks (max_array_len ...) and bad data; TypeError: a map
            # with an unhashable key (an array as a key). Some carry no message: name the type.
            reason = str(err) or type(err).__name__
            raise ProtocolError(f"invalid msgpack at stream byte {self._unpacker.tell()}: {reason}") from err

    def requests(self, data: bytes) -> Iterator[Request]:
        """Yield every complete request in ``data`` (plus what was buffered before)."""
        for message in self.feed(data):
            yield decode_request(message, self.limits)
