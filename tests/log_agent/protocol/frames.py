"""The Forward input's decoding path as the tests drive it: frames cut from a byte stream
(FrameReader), classified (parse_frame), inflated (inflate), checked (walk) and decoded at the edge
(decode_chunk), with the input's limits. No sockets: codec and fuzz tests feed bytes directly."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from log_agent.inputs.forward_frames import FrameReader, inflate, parse_frame
from log_agent.models import Chunk
from log_agent.protocol import Limits
from log_agent.protocol.entries import decode_chunk
from log_agent.protocol.walk import walk


@dataclass
class EventBatch:
    tag: str
    entries: list[tuple[int, dict[Any, Any]]] = field(default_factory=list)
    chunk: str | None = None
    compressed: bool = False


class KeepAlive:
    """A nil frame."""


class Decoder:
    def __init__(self, limits: Limits | None = None) -> None:
        self.limits = limits or Limits()
        self._reader = FrameReader(self.limits.max_frame_bytes)

    def requests(self, data: bytes) -> list[EventBatch | KeepAlive]:
        out: list[EventBatch | KeepAlive] = []
        for raw in self._reader.feed(data):
            frame = parse_frame(raw)
            if frame is None:
                out.append(KeepAlive())
                continue
            batch = EventBatch(frame.tag, chunk=frame.chunk, compressed=frame.compressed)
            pieces = (inflate(frame.entries, self.limits.max_decompressed_bytes, 1 << 20)
                      if frame.compressed else [(bytes(frame.entries), frame.count)])
            for entries, count in pieces:
                for piece, stored in walk(entries, count, None, 1 << 20):
                    batch.entries += [(r.time_ns, r.record)
                                      for r in decode_chunk(Chunk(frame.tag, piece, stored)).records]
            out.append(batch)
        return out


def decode_all(data: bytes, limits: Limits | None = None) -> list[EventBatch | KeepAlive]:
    return Decoder(limits).requests(data)
