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
    return msgpack.ExtType(EVENT_TIME_EXT_CODE, EVENT_TIME.pack(seconds, nanoseconds))


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
    """``[tag, bin(stream), option]``; gzip makes it CompressedPackedForward."""
    stream = event_stream(entries)
    option: dict[str, Any] = {"size": len(entries)}
    if compress:
        stream = gzip.compress(stream, compresslevel=_GZIP_LEVEL, mtime=0)
        option["compressed"] = "gzip"
    if chunk is not None:
        option["chunk"] = chunk
    return pack([tag, stream, option])


def ack(chunk: str) -> bytes:
    return pack({"ack": chunk})
