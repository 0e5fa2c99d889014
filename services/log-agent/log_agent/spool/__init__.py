"""The durable spool: append-only checksummed segments, one read cursor per output, a size cap.

Writers append whole batches (one large sequential write, then one fsync shared by every writer
that wrote meanwhile: group commit). Each output reads from its own cursor and commits it only after
delivery (reading.py). A segment is deleted once every registered reader has passed it, or, when the
cap is hit with ``when_full: drop_oldest``, the oldest segment goes and every reader that had not
read it yet counts exactly how many records it lost.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Self

from ..errors import SpoolError
from ..models import Chunk, Record
from ..protocol.entries import chunks_from_records, split_chunk
from . import codec, legacy
from .cursor import CursorStore, FileCursors, MemoryCursors, Position
from .reading import SpoolReading
from .store import FileStore, MemoryStore, SegmentStore
from .types import MIN_MAX_BYTES, Batch, SpoolConfig, SpoolStats, pieces

__all__ = ["MIN_MAX_BYTES", "Batch", "Position", "Spool", "SpoolConfig", "SpoolStats"]

log = logging.getLogger(__name__)


class Spool(SpoolReading):
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
        for piece in pieces(frames, self._segment_bytes):
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
