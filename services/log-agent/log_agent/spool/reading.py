"""The reading side of the Spool: readers (outputs) register, read batches at their cursor and commit
them; exact backlog and drop accounting. A mixin of Spool: it uses the state Spool.__init__ sets up
(segments, cursors, sequence numbers, the condition) and holds none of its own."""

from __future__ import annotations

import time
from collections.abc import Callable

from . import codec
from .cursor import Position
from .types import Batch, SpoolStats, take


class SpoolReading:
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
        # a window shorter than what was written ends at a frame it cuts: not a bad frame
        frames = take(codec.scan(data, whole=len(data) >= available), max_records)
        if not frames and len(data) < available:
            # the first frame is larger than the window: read to its end (all that was written
            # when its header is not plausible: the scan then finds what follows the bad stretch)
            claimed = codec.claimed_end(data, 0)
            size = available if claimed is None or claimed > available else claimed
            data = self._store.read(start.segment, start.offset, size)
            frames = take(codec.scan(data, whole=size >= available), max_records)
            if not frames and size < available:
                data = self._store.read(start.segment, start.offset, available)
                frames = take(codec.scan(data), max_records)
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

