"""Fluent Forward protocol v1: decoding, encoding and the shared_key handshake. No I/O here."""

from .decode import (
    EventBatch,
    KeepAlive,
    Limits,
    ProtocolLimitError,
    Request,
    StreamDecoder,
    decode_request,
    decode_time,
    gunzip_capped,
    unpack_event_stream,
)
from .encode import ack, event_stream, event_time, new_chunk_id, pack, packed_forward
from .handshake import Helo, Ping, Pong, parse_helo, parse_ping, parse_pong

__all__ = [
    "EventBatch",
    "Helo",
    "KeepAlive",
    "Limits",
    "Ping",
    "Pong",
    "ProtocolLimitError",
    "Request",
    "StreamDecoder",
    "ack",
    "decode_request",
    "decode_time",
    "event_stream",
    "event_time",
    "gunzip_capped",
    "new_chunk_id",
    "pack",
    "packed_forward",
    "parse_helo",
    "parse_ping",
    "parse_pong",
    "unpack_event_stream",
]
