"""The spool's settings and the values it hands out (batches, statistics), and the small helpers that
group frames; the Spool itself is in __init__.py (writing) and reading.py (readers and cursors)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import ClassVar, Literal

from ..confparse import PARSE, SectionConfig, parse_duration, parse_size
from ..errors import ConfigError
from ..models import Chunk, Record
from ..protocol.entries import Decoded, decode_chunks
from . import codec
from .cursor import Position

MIN_MAX_BYTES = 1024 * 1024
_INTERVAL = re.compile(r"^interval:(\d+)$")


@dataclass
class SpoolConfig(SectionConfig):
    """``mode`` disk | memory; ``fsync`` batch | always | interval:<ms>; ``when_full`` drop_oldest | block."""

    SECTION: ClassVar[str] = "spool"
    mode: Literal["disk", "memory"] = "disk"
    dir: str = "/var/lib/log-agent"
    max_bytes: int = field(default=64 * 1024 * 1024, metadata={PARSE: parse_size})
    segment_bytes: int = field(default=0, metadata={PARSE: parse_size})  # 0: max_bytes/8, 64KiB..8MiB
    fsync: str = "batch"
    when_full: Literal["drop_oldest", "block"] = "drop_oldest"
    block_timeout: float = field(default=5.0, metadata={PARSE: parse_duration})

    def validate(self) -> None:
        if not self.dir:
            raise ConfigError("spool.dir", "must be a directory path")
        if self.max_bytes < MIN_MAX_BYTES:
            raise ConfigError("spool.max_bytes", f"must be at least {MIN_MAX_BYTES} (1 MiB)")
        if self.segment_bytes and not 4096 <= self.segment_bytes <= self.max_bytes // 2:
            raise ConfigError("spool.segment_bytes", "must be between 4096 and max_bytes / 2")
        if self.fsync not in ("batch", "always") and not _INTERVAL.fullmatch(str(self.fsync)):
            raise ConfigError("spool.fsync", f"must be batch, always or interval:<ms>, not {self.fsync!r}")

    @property
    def effective_segment_bytes(self) -> int:
        return self.segment_bytes or min(8 * 1024 * 1024, max(64 * 1024, self.max_bytes // 8))

    @property
    def fsync_interval_s(self) -> float | None:
        """How often unacked appends are fsynced: "batch" means every second, "always" never waits."""
        match = _INTERVAL.match(str(self.fsync))
        if match:
            return int(match.group(1)) / 1000
        return 1.0 if self.fsync == "batch" else None


@dataclass(slots=True)
class Batch:
    """Chunks handed to one reader; ``commit(batch)`` moves its cursor to ``end``."""

    reader: str
    chunks: list[Chunk]
    start: Position
    end: Position
    corrupt: int = 0
    start_seq: int = 0  # sequence number of the first record at ``start`` (see Spool._first_seq)
    _decoded: Decoded | None = None

    @property
    def count(self) -> int:
        return sum(chunk.count for chunk in self.chunks)

    def decoded(self) -> Decoded:
        """The records, decoded once (for outputs that need them; the Forward output never does)."""
        if self._decoded is None:
            self._decoded = decode_chunks(self.chunks)
        return self._decoded

    @property
    def records(self) -> list[Record]:
        return self.decoded().records


@dataclass(slots=True)
class SpoolStats:
    total_bytes: int
    segments: int
    appended_records: int
    torn_bytes_dropped: int
    dropped: dict[str, int] = field(default_factory=dict)
    corrupt: dict[str, int] = field(default_factory=dict)
    backlog_bytes: dict[str, int] = field(default_factory=dict)
    backlog_records: dict[str, int] = field(default_factory=dict)


def pieces(frames: list[tuple[bytes, int]], size: int) -> Iterator[list[tuple[bytes, int]]]:
    """Consecutive frames grouped into pieces of at most ``size`` bytes (a bigger frame alone)."""
    piece: list[tuple[bytes, int]] = []
    piece_bytes = 0
    for frame in frames:
        if piece and piece_bytes + len(frame[0]) > size:
            yield piece
            piece, piece_bytes = [], 0
        piece.append(frame)
        piece_bytes += len(frame[0])
    if piece:
        yield piece


def take(frames: Iterator[codec.Frame], max_records: int) -> list[codec.Frame]:
    """Frames until they hold ``max_records`` records (at least one frame)."""
    taken: list[codec.Frame] = []
    records = 0
    for frame in frames:
        taken.append(frame)
        records += max(frame.count, 1)
        if records >= max_records:
            break
    return taken
