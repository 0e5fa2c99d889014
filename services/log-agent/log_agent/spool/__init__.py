"""The durable spool: append-only checksummed segments, one read cursor per output, a size cap.

Writers append whole batches (one large sequential write, then one fsync shared by every writer
that wrote meanwhile: group commit). Each output reads from its own cursor and commits it only after
delivery. A segment is deleted once every registered reader has passed it, or, when the cap is hit
with ``when_full: drop_oldest``, the oldest segment goes and every reader that had not read it yet
counts exactly how many records it lost.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Literal, Self

from ..confparse import PARSE, SectionConfig, parse_duration, parse_size
from ..errors import ConfigError, SpoolError
from ..models import Chunk, Record
from ..protocol.entries import Decoded, chunks_from_records, decode_chunks, split_chunk
from . import codec, legacy
from .cursor import CursorStore, FileCursors, MemoryCursors, Position
from .store import FileStore, MemoryStore, SegmentStore

__all__ = ["Batch", "Position", "Spool", "SpoolConfig", "SpoolStats"]

log = logging.getLogger(__name__)

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


class Spool:
    def __init__(self, config: SpoolConfig) -> None:
        self.config = config
        self._store, self._cursors = self._open_backends(config)
        self._segment_bytes = config.effective_segment_bytes
        self._cond = threading.Condition()
        self._sync_lock = threading.Lock()
        self._sizes: dict[int, int] = {}
        self._committed: dict[str, Position] = {}
        # Frames are numbered in append order so a backlog in records is a subtraction, not a scan:
        # the first number in each segment, the next number to hand out, each reader's next number.
        self._first_seq: dict[int, int] = {}
        self._next_seq = 0
        self._committed_seq: dict[str, int] = {}
        self._read_end: dict[str, Position] = {}
        self._dropped: Counter[str] = Counter()
        self._unsent: dict[str, int] = {}  # reader -> records of its batch in flight already dropped
        self._corrupt: Counter[str] = Counter()
        self._appended = 0
        self._written = 0  # bytes appended since open (group-commit bookkeeping)
        self._synced = 0
        self._closed = False
        self._stop_flusher = threading.Event()
        self.torn_bytes_dropped = self._recover()
        self._active = max(self._sizes, default=0) + 1
        self._start_segment(self._active)
        self._flusher = self._start_flusher(config.fsync_interval_s)

    # -- opening ---------------------------------------------------------------------------------

    @staticmethod
    def _open_backends(config: SpoolConfig) -> tuple[SegmentStore, CursorStore]:
        if config.mode == "memory":
            return MemoryStore(), MemoryCursors()
        root = Path(config.dir)
        try:
            layout = legacy.prepare(root)  # refuses a newer format; migrates format 1 once
            return FileStore(layout / "segments"), FileCursors(layout / "cursors")
        except OSError as err:
            raise SpoolError(f"cannot open spool directory {root}: {err.strerror}") from err

    def _recover(self) -> int:
        """Learn segment sizes; cut a torn tail off the newest segment. Returns bytes cut."""
        for seg_id in self._store.ids():
            size = self._store.size(seg_id)
            if size == 0:
                self._store.delete(seg_id)  # left by a crash right after rotation
            else:
                self._sizes[seg_id] = size
        if not self._sizes:
            return 0
        last = max(self._sizes)
        data = self._store.read(last, 0, self._sizes[last])
        good_end = codec.last_end(data)
        torn = len(data) - good_end
        if torn:
            log.warning("spool: segment %d had a torn tail of %d bytes; cut it off", last, torn)
            self._store.truncate(last, good_end)
            self._sizes[last] = good_end
        self._number_segments(last, data[:good_end])
        return torn

    def _number_segments(self, newest: int, newest_data: bytes) -> None:
        """Count the frames of every recovered segment once (headers and CRCs, no decoding)."""
        for seg_id in sorted(self._sizes):
            data = newest_data if seg_id == newest else self._store.read(seg_id, 0, self._sizes[seg_id])
            self._first_seq[seg_id] = self._next_seq
            self._next_seq += codec.count_slots(data)

    def _start_segment(self, seg_id: int) -> None:
        # A fresh segment per start: nothing is ever appended behind a recovered tail or a cursor.
        self._store.create(seg_id)
        self._sizes[seg_id] = 0
        self._first_seq[seg_id] = self._next_seq

    def _start_flusher(self, interval: float | None) -> threading.Thread | None:
        if interval is None:
            return None
        thread = threading.Thread(target=self._flush_loop, args=(interval,), name="spool-fsync", daemon=True)
        thread.start()
        return thread

    def _flush_loop(self, interval: float) -> None:
        """fsync appends nobody waited for, within ``interval``; asleep while nothing is unsynced
        (an idle agent does not wake up every interval)."""
        while True:
            with self._cond:
                while self._written <= self._synced and not self._closed:
                    self._cond.wait()  # _write() and close() notify
                if self._closed:
                    return
            if self._stop_flusher.wait(interval):
                return
            with self._cond:
                target = self._written
            try:
                self._sync_to(target)
            except SpoolError as err:  # keep flushing: the next fsync may work (disk back online)
                log.error("spool: periodic fsync failed: %s", err)
                self._stop_flusher.wait(interval)  # not in a tight loop while the disk is gone

    # -- writing ---------------------------------------------------------------------------------

    def append(self, records: list[Record], durable: bool = True) -> None:
        """Store Python records (tests, migration tools): packed into chunks, then ``append_chunks``."""
        self.append_chunks(chunks_from_records(records), durable)

    def append_chunk(self, tag: str, entries: bytes, count: int, durable: bool = True) -> None:
        """The inputs' path: one chunk of entry bytes, stored as one frame (no decoding)."""
        if count:
            self.append_chunks([Chunk(tag, entries, count)], durable)

    def batch_start(self) -> int:
        """A marker for ``append_chunks(own_from=...)``: one input batch stored in several appends
        (a big chunk, piece by piece) is protected as a whole from the size cap."""
        with self._cond:
            return self._active

    def append_chunks(self, chunks: list[Chunk], durable: bool = True, own_from: int | None = None) -> None:
        """Store ``chunks``. With ``durable`` (an input that acks) they are fsynced before this
        returns, in one fsync shared with concurrent writers; other appends are fsynced by the
        background flusher within the fsync interval, or at once with ``fsync: always``.
        ``own_from`` (``batch_start()``): segments from there on hold earlier parts of the same
        batch, which making room never drops."""
        if not chunks:
            return
        if any(len(chunk.entries) > self._segment_bytes for chunk in chunks):
            chunks = [piece for chunk in chunks for piece in split_chunk(chunk, self._segment_bytes)]
        frames = [(codec.encode(chunk), chunk.count) for chunk in chunks]
        if own_from is None and sum(len(frame) for frame, _ in frames) <= self._max_append:
            target = self._write(b"".join(frame for frame, _ in frames), sum(n for _, n in frames))
        else:
            target = self._write_in_pieces(frames, own_from)
        if durable or self.config.fsync == "always":
            self._sync_to(target)

    def sync(self) -> None:
        """Make everything appended so far durable (one fsync, shared with concurrent writers)."""
        with self._cond:
            target = self._written
        self._sync_to(target)

    @property
    def _max_append(self) -> int:
        return self.config.max_bytes - self._segment_bytes

    def _write_in_pieces(self, frames: list[tuple[bytes, int]], own_from: int | None = None) -> int:
        """A batch larger than one append may be (a big Forward chunk on a small spool) goes in
        segment-sized pieces, and the outputs drain the first pieces while the last are written.
        Making room never drops this batch's own earlier pieces (that would ack records already
        lost): it waits for the outputs up to block_timeout, then fails (no ack, the client resends)."""
        if own_from is None:
            own_from = self.batch_start()  # segments from here on may hold this batch's pieces
        target = 0
        for piece in _pieces(frames, self._segment_bytes):
            target = self._write(b"".join(f for f, _ in piece), sum(n for _, n in piece), own_from)
        return target

    def _write(self, data: bytes, count: int, own_from: int | None = None) -> int:
        if len(data) > self._max_append:
            raise SpoolError(f"a chunk of {len(data)} bytes does not fit in spool.max_bytes")
        with self._cond:
            if self._closed:
                raise SpoolError("spool is closed")
            self._make_room(len(data), own_from)
            if self._sizes[self._active] and self._sizes[self._active] + len(data) > self._segment_bytes:
                self._rotate()
            try:
                self._store.append(self._active, data)
            except SpoolError:
                self._abandon_active()
                raise
            self._sizes[self._active] += len(data)
            self._next_seq += count
            self._written += len(data)
            self._appended += count
            self._cond.notify_all()
            return self._written

    def _sync_to(self, target: int) -> None:
        """Group commit: one fdatasync covers every write made before it started."""
        with self._sync_lock:
            if self._synced >= target:
                return
            with self._cond:
                seg_id, upto = self._active, self._written
            self._store.sync(seg_id)  # earlier segments were fsynced when sealed
            self._synced = upto

    def _abandon_active(self) -> None:
        """After a failed write (disk full, I/O error) the segment may end in half a record: account
        for what is really there and continue in a new segment; readers skip the torn bytes."""
        try:
            self._sizes[self._active] = self._store.size(self._active)
            self._rotate()
        except (OSError, SpoolError) as err:
            log.error("spool: cannot start a new segment after a failed write: %s", err)

    def _rotate(self) -> None:
        self._store.seal(self._active)
        self._active += 1
        self._start_segment(self._active)

    def _make_room(self, needed: int, own_from: int | None = None) -> None:
        """Drop or wait (``when_full``) until ``needed`` bytes fit; segments from ``own_from`` on
        hold the writer's own batch and are waited for, never dropped."""
        deadline = time.monotonic() + self.config.block_timeout
        while sum(self._sizes.values()) + needed > self.config.max_bytes:
            own_batch_is_oldest = own_from is not None and min(self._sizes) >= own_from
            if self.config.when_full == "drop_oldest" and not own_batch_is_oldest:
                self._drop_oldest()
                continue
            if self._reclaim_active():
                continue
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self._closed:
                why = "when_full is block" if own_from is None else "the outputs did not take its first part"
                raise SpoolError(f"spool full ({self.config.max_bytes} bytes) and {why}")
            self._cond.wait(remaining)

    def _reclaim_active(self) -> bool:
        """When every reader has read the whole active segment, seal it so it can be deleted."""
        active_end = Position(self._active, self._sizes[self._active])
        if not self._committed or not self._sizes[self._active]:
            return False
        if min(self._committed.values()) < active_end:
            return False
        self._rotate()
        self._collect_garbage()
        return True

    def _drop_oldest(self) -> None:
        oldest = min(self._sizes)
        if oldest == self._active:
            self._rotate()
        data = self._store.read(oldest, 0, self._sizes[oldest])
        for reader in self._committed:
            position = self._unread_from(reader)
            if position.segment <= oldest:
                offset = position.offset if position.segment == oldest else 0
                self._dropped[reader] += codec.count_records(data, offset)  # no decoding under the lock
            self._note_unsent(reader, oldest, data)
        log.warning("spool full: dropped segment %d (%d bytes)", oldest, self._sizes[oldest])
        self._delete(oldest)

    def _note_unsent(self, reader: str, segment: int, data: bytes) -> None:
        """Records of ``reader``'s batch in flight that lived in the dropped ``segment``: handed out
        but not delivered yet. Saved with the cursor, so if the agent stops before delivering them a
        restart counts them as dropped (they are gone from the spool); delivering clears them."""
        committed, unread = self._committed[reader], self._unread_from(reader)
        if committed >= unread or committed.segment > segment or unread.segment < segment:
            return
        start = committed.offset if committed.segment == segment else 0
        end = unread.offset if unread.segment == segment else len(data)
        in_flight = codec.count_records(data[:end], start)
        if in_flight:
            self._unsent[reader] = self._unsent.get(reader, 0) + in_flight
            self._cursors.save(reader, committed, self._unsent[reader])

    def _delete(self, seg_id: int) -> None:
        self._store.delete(seg_id)
        del self._sizes[seg_id]
        del self._first_seq[seg_id]
        self._cond.notify_all()  # a blocked writer may fit now

    # -- reading ---------------------------------------------------------------------------------

    def register(self, reader: str) -> None:
        """Declare an output: its cursor now holds segments back (new readers start at the oldest)."""
        with self._cond:
            self._register_locked(reader)
            self._count_unsent_as_dropped(reader)
            self._read_end.pop(reader, None)  # a new worker re-reads from the committed cursor

    def _register_locked(self, reader: str) -> None:
        if reader not in self._committed:
            position = self._cursors.load(reader) or Position(min(self._sizes), 0)
            self._committed[reader] = position
            self._committed_seq[reader] = self._seq_at(position)
            self._unsent[reader] = self._cursors.unsent_dropped(reader)  # from before a restart

    def _count_unsent_as_dropped(self, reader: str) -> None:
        """A (new) worker starts at the committed cursor: the previous one's batch in flight was not
        delivered, and what of it the cap dropped is lost: counted now, exactly once."""
        unsent = self._unsent.pop(reader, 0)
        if unsent:
            self._dropped[reader] += unsent
            self._cursors.save(reader, self._committed[reader])

    def _seq_at(self, position: Position) -> int:
        """The sequence number of the frame at a saved cursor: counted once, when a reader registers."""
        if position.segment not in self._first_seq:  # dropped: the reader resumes at the next segment
            return min((seq for seg_id, seq in self._first_seq.items() if seg_id > position.segment),
                       default=self._next_seq)
        before = self._store.read(position.segment, 0, position.offset) if position.offset else b""
        return self._first_seq[position.segment] + codec.count_slots(before)

    def _seq_of(self, reader: str, position: Position) -> int:
        """The sequence number of ``position``, the reader's normalized cursor: its committed number,
        or the start of the later segment normalization moved it to."""
        if position == self._committed[reader]:
            return self._committed_seq[reader]
        return self._first_seq.get(position.segment, self._next_seq)

    def unregister(self, reader: str) -> None:
        """Forget an output that is no longer configured (its cursor file stays for a comeback)."""
        with self._cond:
            self._committed.pop(reader, None)
            self._committed_seq.pop(reader, None)
            self._read_end.pop(reader, None)
            self._collect_garbage()

    def read(self, reader: str, max_records: int = 500, max_bytes: int = 1024 * 1024,
             timeout: float | None = 0.0, until: Callable[[], bool] | None = None) -> Batch:
        """Up to ``max_records`` from the reader's cursor; when there are none, waits up to ``timeout``
        (None: without a deadline, so an idle output sleeps instead of polling) or until ``until()``
        holds, checked whenever ``wake()`` is called. Returns an empty batch then."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            batch = self._read_once(reader, max_records, max_bytes)
            if batch.chunks or batch.corrupt:
                return batch
            with self._cond:
                remaining = None if deadline is None else deadline - time.monotonic()
                if self._closed or (remaining is not None and remaining <= 0) or (until and until()):
                    return batch
                if self._available(self._normalized(reader)) == 0:
                    self._cond.wait(remaining)

    def wake(self) -> None:
        """Make every waiting ``read()`` check its ``until()`` now (an output draining or stopping)."""
        with self._cond:
            self._cond.notify_all()

    def _normalized(self, reader: str) -> Position:
        """The reader's cursor, moved past segments it finished or that were dropped."""
        self._register_locked(reader)
        position = self._committed[reader]
        for seg_id in sorted(self._sizes):
            if seg_id < position.segment:
                continue
            if seg_id > position.segment:
                position = Position(seg_id, 0)
            if position.offset < self._sizes[seg_id] or seg_id == self._active:
                return position
        return Position(self._active, 0)

    def _available(self, position: Position) -> int:
        return self._sizes.get(position.segment, 0) - position.offset

    def _read_once(self, reader: str, max_records: int, max_bytes: int) -> Batch:
        with self._cond:
            start = self._normalized(reader)
            start_seq = self._seq_of(reader, start)
            available = self._available(start)
        frames = self._frames(start, available, max_bytes, max_records) if available > 0 else []
        with self._cond:
            if start.segment not in self._sizes:
                self._uncount_dropped(reader, start.segment, frames)
            end = Position(start.segment, frames[-1].end) if frames else start
            self._read_end[reader] = end
        chunks = [frame.chunk for frame in frames if frame.chunk is not None]
        return Batch(reader, chunks, start, end, corrupt=len(frames) - len(chunks), start_seq=start_seq)

    def _uncount_dropped(self, reader: str, segment: int, frames: list[codec.Frame]) -> None:
        """The cap dropped ``segment`` while we read it (outside the lock) and counted what this reader
        had not read as dropped; these frames are handed out after all, so they are not dropped (else
        in != out + dropped + backlog). Delivering them rather than discarding keeps an output that
        reads while writers hammer the cap from starving."""
        counted_from = self._unread_from(reader)
        handed = sum(frame.count for frame in frames if Position(segment, frame.start) >= counted_from)
        if handed:
            self._dropped[reader] -= handed
            self._unsent[reader] = self._unsent.get(reader, 0) + handed  # in flight from a dropped segment
            self._cursors.save(reader, self._committed[reader], self._unsent[reader])

    def _unread_from(self, reader: str) -> Position:
        """Where the records this reader has not been handed yet begin (a batch in flight is handed)."""
        committed = self._committed[reader]
        return max(committed, self._read_end.get(reader, committed))

    def _frames(self, start: Position, available: int, max_bytes: int, max_records: int) -> list[codec.Frame]:
        """Frames from ``start``: a window of ``max_bytes``, widened for one chunk larger than that;
        whole chunks until ``max_records`` is reached (a chunk is never split)."""
        data = self._store.read(start.segment, start.offset, min(available, max_bytes))
        frames = _take(codec.scan(data), max_records)
        if not frames and len(data) < available:
            data = self._store.read(start.segment, start.offset, available)
            frames = _take(codec.scan(data), max_records)
        if not data:
            return []  # the segment was dropped by the cap meanwhile: its records are counted there
        if not frames:
            # Nothing decodable up to the end of what was written: one corrupt stretch, skipped.
            frames = [codec.Frame(0, len(data), None)]
        return [codec.Frame(start.offset + f.start, start.offset + f.end, f.chunk) for f in frames]

    def commit(self, batch: Batch) -> None:
        """The batch was delivered (or dead-lettered): move the cursor past it, durably."""
        with self._cond:
            current = self._committed.get(batch.reader)
            if current is not None and batch.end <= current:
                return
            self._committed[batch.reader] = batch.end
            self._committed_seq[batch.reader] = batch.start_seq + batch.count + batch.corrupt
            self._unsent.pop(batch.reader, None)  # delivered (or dead-lettered): not dropped after all
            self._corrupt[batch.reader] += batch.corrupt
            self._collect_garbage()
        self._cursors.save(batch.reader, batch.end)

    def _collect_garbage(self) -> None:
        """Delete sealed segments every registered reader has passed."""
        if not self._committed:
            return
        slowest = min(self._committed.values())
        for seg_id in sorted(self._sizes):
            finished = seg_id < slowest.segment or (
                seg_id == slowest.segment and slowest.offset >= self._sizes[seg_id]
            )
            if seg_id == self._active or not finished:
                return
            self._delete(seg_id)

    # -- state -----------------------------------------------------------------------------------

    def stats(self) -> SpoolStats:
        with self._cond:
            return SpoolStats(
                total_bytes=sum(self._sizes.values()),
                segments=len(self._sizes),
                appended_records=self._appended,
                torn_bytes_dropped=self.torn_bytes_dropped,
                dropped=dict(self._dropped),
                corrupt=dict(self._corrupt),
                backlog_bytes={reader: self._backlog_locked(reader) for reader in self._committed},
                backlog_records={reader: self._backlog_records_locked(reader) for reader in self._committed},
            )

    def _backlog_locked(self, reader: str) -> int:
        position = self._normalized(reader)
        ahead = sum(size for seg_id, size in self._sizes.items() if seg_id >= position.segment)
        return ahead - position.offset

    def _backlog_records_locked(self, reader: str) -> int:
        # max(): a torn tail skipped as one corrupt frame may count one frame that was never numbered
        return max(0, self._next_seq - self._seq_of(reader, self._normalized(reader)))

    def close(self) -> None:
        with self._cond:
            if self._closed:
                return
            self._closed = True
            self._cond.notify_all()
        self._stop_flusher.set()
        if self._flusher is not None:
            self._flusher.join(timeout=5)
        with self._sync_lock, self._cond:
            self._store.seal(self._active)
            if self._sizes.get(self._active) == 0:
                self._delete(self._active)
            self._store.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _pieces(frames: list[tuple[bytes, int]], size: int) -> Iterator[list[tuple[bytes, int]]]:
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


def _take(frames: Iterator[codec.Frame], max_records: int) -> list[codec.Frame]:
    """Frames until they hold ``max_records`` records (at least one frame)."""
    taken: list[codec.Frame] = []
    records = 0
    for frame in frames:
        taken.append(frame)
        records += max(frame.count, 1)
        if records >= max_records:
            break
    return taken
