"""Decoding helpers of the Forward protocol v1 (pure: no I/O): the limits a connection is held to,
EventTime, and turning raw handshake values into text. Requests themselves are never decoded into
objects: inputs/forward_frames.py cuts them as bytes and protocol/walk.py checks their entries.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from typing import Any

import msgpack

from ..errors import ProtocolError

EVENT_TIME_EXT_CODE = 0
NS_PER_SECOND = 1_000_000_000
EVENT_TIME = struct.Struct(">II")  # EventTime ext payload: seconds, nanoseconds
_MAX_SECONDS = 2**32  # EventTime's range
MAX_DEPTH = 100  # nesting of a handshake message (they are flat)


class ProtocolLimitError(ProtocolError):
    """A frame or its decompressed payload is larger than the configured limit."""


@dataclass(frozen=True, slots=True)
class Limits:
    """Per-connection caps; both bound the memory one client can make the server hold."""

    max_frame_bytes: int = 8 * 1024 * 1024
    max_decompressed_bytes: int = 32 * 1024 * 1024


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
