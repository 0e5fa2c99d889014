"""Forward protocol frames as bytes: cut the connection stream into top-level frames, tell the modes
apart, and hand on entry bytes, never a Python object per record.

    Message                  [tag, time, record, option?]   -> one entry: 0x92 + time + record bytes
    Forward                  [tag, [entry...], option?]     -> the array's contents, as they are
    PackedForward            [tag, bin|str, option?]        -> the payload, as it is
    CompressedPackedForward  same, option.compressed=gzip   -> inflated in steps (``inflate``)

msgpack's C ``Unpacker`` finds where values end (``skip``/``tell``); the entries themselves are
checked by the core (protocol/walk.py) when they are stored.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import msgpack

from ..errors import ProtocolError
from ..protocol import ProtocolLimitError

_MIN_BYTES_PER_ELEMENT = 1
_OPTION_KEYS_MAX = 64
_INFLATE_STEP = 256 * 1024
_HEAD_BYTES = 64 * 1024
_SMALL_FRAME_BYTES = 1024 * 1024  # above this, a frame alone in the buffer is handed on without copies


def _unpacker(max_bytes: int, raw: bool = True) -> msgpack.Unpacker:
    limit = max(16, max_bytes // _MIN_BYTES_PER_ELEMENT)
    return msgpack.Unpacker(raw=raw, strict_map_key=False, max_buffer_size=max_bytes, max_array_len=limit,
                            max_map_len=limit, max_str_len=max_bytes, max_bin_len=max_bytes,
                            max_ext_len=max_bytes)


class FrameReader:
    """Feed a connection's bytes, get each complete top-level msgpack value as bytes.

    The framing unpacker only skips (no objects); a frame larger than ``max_frame_bytes`` raises
    ProtocolLimitError before it is buffered whole."""

    def __init__(self, max_frame_bytes: int) -> None:
        self.max_frame_bytes = max_frame_bytes
        self._framer = _unpacker(max_frame_bytes)
        self._buffer = bytearray()
        self._frame_start = 0  # stream offset of the first byte in _buffer

    @property
    def pending_bytes(self) -> int:
        """Bytes of an incomplete frame held (non-zero at EOF: the peer closed mid-frame)."""
        return len(self._buffer)

    def feed(self, data: bytes) -> Iterator[bytes]:
        try:
            self._framer.feed(data)
        except msgpack.BufferFull as err:
            raise ProtocolLimitError(f"frame exceeds {self.max_frame_bytes} bytes") from err
        self._buffer += data
        done = 0  # frames handed out are cut from the buffer once per read, not once per frame
        try:
            while done < len(self._buffer):
                end = self._next_end(done)
                if end is None:
                    return
                if done == 0 and end == len(self._buffer) and end > _SMALL_FRAME_BYTES:
                    yield self._take_all()  # a big frame alone: both buffered copies freed first
                    continue
                start, done = done, end
                yield bytes(self._buffer[start:end])
        finally:
            del self._buffer[:done]
            self._frame_start += done

    def _next_end(self, done: int) -> int | None:
        """Where the frame starting at ``done`` ends (index into the buffer), None: not complete yet."""
        first = self._buffer[done]
        if not (0x92 <= first <= 0x9F or first == 0xC0):
            # requests are arrays of 2-4 (PING: 6) or a nil keep-alive: refuse anything else before
            # buffering it (a 4-billion-element header must not wait for its elements)
            raise ProtocolError(f"a request must be a small array, not type 0x{first:02x}")
        try:
            self._framer.skip()
        except msgpack.OutOfData:
            if len(self._buffer) - done > self.max_frame_bytes:
                raise ProtocolLimitError(f"frame exceeds {self.max_frame_bytes} bytes") from None
            return None
        except (ValueError, TypeError, msgpack.UnpackException) as err:
            reason = str(err) or type(err).__name__
            where = self._framer.tell()
            raise ProtocolError(f"invalid msgpack at stream byte {where}: {reason}") from err
        return self._framer.tell() - self._frame_start

    def _take_all(self) -> bytes:
        """The whole buffer as one frame; the framing unpacker (holding its own copy) starts over."""
        frame = bytes(self._buffer)
        self._buffer = bytearray()
        self._framer = _unpacker(self.max_frame_bytes)
        self._frame_start = 0  # the new unpacker counts from here
        return frame


@dataclass(frozen=True, slots=True)
class Frame:
    """One request: ``entries`` (``count`` of them, or -1 when unknown: a compressed ``payload``)."""

    tag: str
    entries: bytes | memoryview
    count: int
    chunk: str | None
    compressed: bool = False


KEEPALIVE = None


def _text(value: Any, what: str) -> str:
    if isinstance(value, bytes):
        try:
            value = value.decode("utf-8")
        except UnicodeDecodeError:
            raise ProtocolError(f"{what} must be UTF-8") from None
    if not isinstance(value, str) or not value:
        raise ProtocolError(f"{what} must be a non-empty string")
    return value


def _option(unpacker: msgpack.Unpacker) -> dict[str, Any]:
    value = unpacker.unpack()
    if value is None:
        return {}
    if not isinstance(value, dict) or len(value) > _OPTION_KEYS_MAX:
        raise ProtocolError("option must be a (small) map")
    return {(k.decode("utf-8", "replace") if isinstance(k, bytes) else k):
            (v.decode("utf-8", "replace") if isinstance(v, bytes) else v) for k, v in value.items()}


def _chunk_id(option: dict[str, Any]) -> str | None:
    chunk = option.get("chunk")
    return chunk if isinstance(chunk, str) and chunk else None


def parse_frame(frame: bytes) -> Frame | None:
    """Classify one complete frame (None: a keep-alive nil); ProtocolError when it is none of the modes."""
    if frame == b"\xc0":
        return KEEPALIVE
    view = memoryview(frame)
    head = min(len(frame), _HEAD_BYTES)  # PackedForward needs only its head parsed: no copy of the rest
    unpacker = _unpacker(len(frame))
    unpacker.feed(view[:head])
    try:
        size = unpacker.read_array_header()
        if not 2 <= size <= 4:
            raise ProtocolError("request must be an array of 2 to 4 elements")
        tag = _text(unpacker.unpack(), "tag")
        second = unpacker.tell()
        kind = frame[second]
        if 0x90 <= kind <= 0x9F or kind in (0xDC, 0xDD):  # Forward: [tag, [entries], option?]
            if size > 3:
                raise ProtocolError("Forward mode takes at most 3 elements")
            unpacker.feed(view[head:])
            count = unpacker.read_array_header()
            start = unpacker.tell()
            for _ in range(count):
                unpacker.skip()
            entries = view[start:unpacker.tell()]  # no copy: the sink copies once
            option = _option(unpacker) if size == 3 else {}
            return Frame(tag, entries, count, _chunk_id(option))
        if kind in (0xC4, 0xC5, 0xC6, 0xD9, 0xDA, 0xDB) or 0xA0 <= kind <= 0xBF:  # PackedForward
            if size > 3:
                raise ProtocolError("PackedForward takes at most 3 elements")
            header = 1 if kind <= 0xBF else {0xC4: 2, 0xC5: 3, 0xC6: 5, 0xD9: 2, 0xDA: 3, 0xDB: 5}[kind]
            length = kind & 0x1F if kind <= 0xBF else int.from_bytes(frame[second + 1:second + header], "big")
            end = second + header + length
            if end > len(frame):
                raise ProtocolError("the packed entries run past the frame")
            payload = view[second + header:end]
            option = {}
            if size == 3:
                rest = _unpacker(len(frame) - end)
                rest.feed(view[end:])
                option = _option(rest)
            compressed = option.get("compressed")
            if compressed not in (None, "text", "gzip"):  # "text": Fluentd's out_forward for "none"
                raise ProtocolError(f"unsupported option.compressed {compressed!r}")
            # option.size is not trusted: fluent-logger-node sends the byte size there; the core counts
            return Frame(tag, payload, -1, _chunk_id(option), compressed == "gzip")
        if size < 3:
            raise ProtocolError("Message mode needs [tag, time, record]")
        unpacker.feed(view[head:])
        unpacker.skip()  # time (checked by the core)
        unpacker.skip()  # record
        entry = b"\x92" + frame[second:unpacker.tell()]
        option = _option(unpacker) if size == 4 else {}
        return Frame(tag, entry, 1, _chunk_id(option))
    except ProtocolError:
        raise
    except msgpack.OutOfData as err:
        raise ProtocolError(f"request head longer than {_HEAD_BYTES} bytes (the tag?)") from err
    except (ValueError, TypeError, IndexError, msgpack.UnpackException) as err:
        raise ProtocolError(f"invalid request: {str(err) or type(err).__name__}") from err


def count_entries(entries: bytes) -> int:
    """How many msgpack values ``entries`` holds (PackedForward without option.size); C skips."""
    unpacker = _unpacker(len(entries))
    unpacker.feed(entries)
    count = 0
    try:
        while unpacker.tell() < len(entries):
            unpacker.skip()
            count += 1
    except (ValueError, msgpack.UnpackException) as err:
        raise ProtocolError(f"packed event stream ends in the middle of an entry: {err}") from err
    return count


def inflate(payload: bytes, cap: int, piece_bytes: int) -> Iterator[tuple[bytes, int]]:
    """Inflate gzip (one or more members) in steps; yield ``(entries, count)`` pieces of about
    ``piece_bytes``, cut at entry boundaries. Never holds more than a piece and a step inflated;
    passing ``cap`` inflated bytes in total raises ProtocolLimitError."""
    framer = _unpacker(cap)
    held = bytearray()  # inflated bytes not handed on yet; held[0] is the start of an entry
    held_start = 0  # stream offset of held[0]
    boundary = 0  # stream offset after the last complete entry seen
    count = 0
    total = 0
    pending = payload
    try:
        while pending:
            inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
            tail = pending
            while tail or not inflater.eof:
                out = inflater.decompress(tail, _INFLATE_STEP)
                tail = inflater.unconsumed_tail
                if not out:
                    if inflater.eof or not tail:
                        break
                    continue
                total += len(out)
                if total > cap:
                    raise ProtocolLimitError(f"decompressed payload exceeds {cap} bytes")
                held += out
                framer.feed(out)
                while True:
                    try:
                        framer.skip()
                    except msgpack.OutOfData:
                        break
                    boundary = framer.tell()
                    count += 1
                    if boundary - held_start >= piece_bytes:
                        cut = boundary - held_start
                        yield bytes(held[:cut]), count
                        del held[:cut]
                        held_start, count = boundary, 0
            if not inflater.eof:
                raise ProtocolError("truncated gzip payload")
            pending = inflater.unused_data
    except zlib.error as err:
        raise ProtocolError(f"invalid gzip payload: {err}") from err
    except (ValueError, TypeError, msgpack.UnpackException) as err:
        raise ProtocolError(f"invalid entry in the compressed stream: {err}") from err
    if boundary != held_start + len(held):
        raise ProtocolError("packed event stream ends in the middle of an entry")
    if count:
        yield bytes(held), count
