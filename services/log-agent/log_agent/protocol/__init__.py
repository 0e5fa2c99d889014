"""Fluent Forward protocol v1: the handshake, encoding, entries. No I/O here."""

from .decode import Limits, ProtocolLimitError, decode_time
from .encode import ack, event_stream, event_time, new_chunk_id, pack, packed_forward, packed_forward_frame
from .handshake import Helo, Ping, Pong, parse_helo, parse_ping, parse_pong

__all__ = [
    "Helo",
    "Limits",
    "Ping",
    "Pong",
    "ProtocolLimitError",
    "ack",
    "decode_time",
    "event_stream",
    "event_time",
    "new_chunk_id",
    "pack",
    "packed_forward",
    "packed_forward_frame",
    "parse_helo",
    "parse_ping",
    "parse_pong",
]
