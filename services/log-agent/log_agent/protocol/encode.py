"""Encoding Forward protocol v1 requests and responses (pure: no I/O)."""

from __future__ import annotations

import base64
import gzip
import os
from collections.abc import Iterable
from typing import Any

import msgpack

from .decode import EVENT_TIME, EVENT_TIME_EXT_CODE, NS_PER_SECOND

# mtime=0 keeps the gzip member deterministic; level 6 is zlib's default speed/ratio balance.
_GZIP_LEVEL = 6


def event_time(time_ns: int) -> msgpack.ExtType:
    """EventTime ext type 0: seconds and nanoseconds as two big-endian uint32 (packs as fixext8)."""
    seconds, nanoseconds = divmod(time_ns, NS_PER_SECOND)
    # tuple.__new__: ExtType's own __new__ only checks what is fixed here, at 3x the cost (the
    # journald input builds one per entry)
    return _new_tuple(msgpack.ExtType, (EVENT_TIME_EXT_CODE, _pack_time(seconds, nanoseconds)))


_new_tuple = tuple.__new__
_pack_time = EVENT_TIME.pack


def new_chunk_id() -> str:
    """A 128-bit random id in base64, the form the spec gives for ``option.chunk``."""
    return base64.b64encode(os.urandom(16)).decode("ascii")


def pack(value: Any) -> bytes:
    return msgpack.packb(value, use_bin_type=True)


def event_stream(entries: Iterable[tuple[int, dict[str, Any]]]) -> bytes:
    """MessagePackEventStream: concatenated ``[EventTime, record]`` entries."""
    packer = msgpack.Packer(use_bin_type=True, autoreset=False)
    for time_ns, record in entries:
        packer.pack([event_time(time_ns), record])
    return packer.bytes()


def packed_forward(
    tag: str,
    entries: list[tuple[int, dict[str, Any]]],
    *,
    chunk: str | None = None,
    compress: bool = False,
) -> bytes:
    """``[tag, bin(stream), option]`` from Python records; gzip makes it CompressedPackedForward."""
    return packed_forward_frame(tag, event_stream(entries), len(entries), chunk, compress)


def packed_forward_frame(tag: str, entries: bytes, count: int, chunk: str | None = None,
                         compress: bool = False, level: int = _GZIP_LEVEL) -> bytes:
    """``[tag, bin(entries), {size, chunk?, compressed?}]`` from entry bytes, without touching them."""
    option: dict[str, Any] = {"size": count}
    if compress:
        entries = gzip.compress(entries, compresslevel=level, mtime=0)
        option["compressed"] = "gzip"
    if chunk is not None:
        option["chunk"] = chunk
    return b"".join((b"\x93", pack(tag), _bin_header(len(entries)), entries, pack(option)))


def _bin_header(length: int) -> bytes:
    if length < 0x100:
        return b"\xc4" + length.to_bytes(1, "big")
    if length < 0x10000:
        return b"\xc5" + length.to_bytes(2, "big")
    return b"\xc6" + length.to_bytes(4, "big")


def ack(chunk: str) -> bytes:
    return pack({"ack": chunk})
