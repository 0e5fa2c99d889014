"""journald input: follows the journal through one long-lived ``journalctl -o export --follow`` child
(journal_export.py reads its output).

Why journalctl: it is the journal's own reader (file format, rotation, vacuum, several files merged
by time), it waits on inotify (idle costs nothing), and no C binding is needed; Vector reads the
journal the same way. Every entry is read (unit/container filters run here, not in journalctl), so
the cursor advances also while the filters match nothing, and a restart never re-reads hours.

Checkpoint (``<state dir>/<name>.json``): the cursor of the last entry handled, written after the
sink returned durably for the records before it; cursor advances over filtered-out entries only are
written at most every ``checkpoint_interval`` and only when it changed (no writes at rest). A restart
starts with ``--cursor=<saved>`` and drops that first entry when it is the saved one; when it is not
(the entry was rotated away or vacuumed), reading resumes at the nearest entry and it is counted as a
gap (``gaps_total``, ``entries_lost_total`` when the sequence numbers tell how many). A cursor the
journal refuses is dropped (counted as a gap) and reading starts at the oldest entry.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import logging
import os
import select
import subprocess
import threading
import time
from typing import Any

from ..processors import Chain
from ..processors.base import TimedRecord
from ..processors.partial import PartialAssembler
from .checkpoint import CheckpointFile
from .children import die_with_agent
from .emit import Emitter, Stopping
from .journal_config import JournaldInputConfig
from .journal_export import ExportReader
from .journal_fields import (
    EntryFilter,
    cursor_seqnum,
    own_container_id,
    partial_piece,
    text,
    to_record,
)
from .report import emitter_report

log = logging.getLogger(__name__)
_READ_BYTES = 1024 * 1024
_PIPE_BYTES = 1024 * 1024  # Linux's default limit for an unprivileged process (fs.pipe-max-size)
_RESTART_SECONDS = (1.0, 2.0, 5.0, 10.0, 30.0)  # journalctl exited: wait, then start it again

__all__ = ["JournaldInput", "JournaldInputConfig"]  # the config class is the registry's too


class JournaldStats:
    def __init__(self) -> None:
        self.entries_total = 0  # entries read from the journal
        self.filtered_total = 0  # entries the unit/container filters skipped
        self.gaps_total = 0
        self.entries_lost_total = 0
        self.restarts_total = 0
        self.errors: dict[str, int] = {}


class JournaldInput:
    def __init__(self, config: JournaldInputConfig) -> None:
        self.config = config
        self.name = config.name
        self.stats = JournaldStats()
        self.checkpoint = CheckpointFile(os.path.join(config.state_dir, f"{config.name}.json"))
        self._filter = EntryFilter(config.include_units, config.exclude_units,
                                   config.include_containers, config.exclude_containers)
        self._own_container = own_container_id() if config.exclude_self else None
        self._partials = PartialAssembler(config.max_line_bytes, 256, config.partial_timeout)
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._child: subprocess.Popen[bytes] | None = None
        self._child_lock = threading.Lock()
        self.emitter: Emitter | None = None
        self.cursor: str | None = None  # the last entry handled (spooled or filtered out)
        self._safe_cursor: str | None = None  # where a restart must resume (no pending pieces before)
        self._dirty_since: float | None = None  # when an unsaved filtered-only advance happened
        self._stderr = b""  # the end of what journalctl said on stderr (for the log when it exits)

    # ------------------------------------------------------------------ lifecycle
    def start(self, sink: Any) -> None:
        self.emitter = Emitter(sink, Chain.build(self.config.processors), self._stopping, self.name,
                               source_keeps_data=True)
        if not self.config.enabled:
            return
        saved = self.checkpoint.load()
        self.cursor = self._safe_cursor = saved.get("cursor") if isinstance(saved, dict) else None
        self._thread = threading.Thread(target=self._run, name=f"input-{self.name}", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._kill_child()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _kill_child(self) -> None:
        with self._child_lock:
            if self._child is not None and self._child.poll() is None:
                self._child.terminate()

    def report(self) -> dict[str, Any]:
        """Counters for /health and /metrics."""
        stats = self.stats
        return {**emitter_report(self.emitter), "entries_total": stats.entries_total,
                "filtered_total": stats.filtered_total, "gaps_total": stats.gaps_total,
                "entries_lost_total": stats.entries_lost_total, "restarts_total": stats.restarts_total,
                "pending_partial_lines": len(self._partials.pending),
                "checkpoint_writes_total": self.checkpoint.writes_total,
                "checkpoint_bytes_total": self.checkpoint.bytes_written_total,
                "errors": dict(stats.errors), "enabled": self.config.enabled}

    # ------------------------------------------------------------------ the child
    def _run(self) -> None:
        failures = 0
        while not self._stopping.is_set():
            started = time.monotonic()
            try:
                clean = self._follow_once()
            except Stopping:
                return
            except Exception:  # never let the input thread die: log, back off, start again
                log.exception("%s: reading the journal failed", self.name)
                clean = False
            if self._stopping.is_set():
                return
            self.stats.restarts_total += 1
            failures = 0 if clean and time.monotonic() - started > 60 else failures + 1
            delay = _RESTART_SECONDS[min(failures, len(_RESTART_SECONDS)) - 1] if failures else 1.0
            if self._stopping.wait(delay):
                return

    def _follow_once(self) -> bool:
        if self._safe_cursor is None and self.config.read_from == "tail":
            self._start_at_the_end()
        resume = self._safe_cursor
        command = self.config.command(resume)
        with self._child_lock:
            if self._stopping.is_set():
                raise Stopping
            self._child = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                           stdin=subprocess.DEVNULL, preexec_fn=die_with_agent())
        child = self._child
        assert child.stdout is not None and child.stderr is not None
        with contextlib.suppress(OSError):  # a larger pipe: fewer, larger reads and wakeups when busy
            fcntl.fcntl(child.stdout.fileno(), fcntl.F_SETPIPE_SZ, _PIPE_BYTES)
        self._stderr = b""
        try:
            self._pump(child.stdout.fileno(), resume, child.stderr.fileno())
        finally:
            self._kill_child()
            code = child.wait()
            self._drain_stderr(child.stderr.fileno())
        stderr = self._stderr.decode("utf-8", "replace").strip()
        if self._stopping.is_set():
            return True
        if resume and "cursor" in stderr.lower():
            # A cursor this journal cannot seek to (another machine's, corrupt): start at the oldest.
            log.warning("%s: the journal refused the saved cursor (%s); reading from the oldest entry",
                        self.name, stderr)
            self.stats.gaps_total += 1
            self.cursor = self._safe_cursor = None
            self.config = _from_head(self.config)
            return True
        log.warning("%s: journalctl exited with %s: %s", self.name, code, stderr or "(no message)")
        self.stats.errors["journalctl_exit"] = self.stats.errors.get("journalctl_exit", 0) + 1
        return False

    def _start_at_the_end(self) -> None:
        """First start, ``read_from: tail``: the cursor of the newest entry now, saved at once, so the
        follow starts exactly there (no window in which new entries are skipped) and a restart before
        the first new entry does not skip what came meanwhile. An empty journal: start at its head."""
        command = [self.config.journalctl, "--output=json", "--lines=1", "--no-pager",
                   *self.config.location()]
        try:
            done = subprocess.run(command, capture_output=True, timeout=30, stdin=subprocess.DEVNULL)
            cursor = json.loads(done.stdout.splitlines()[-1]).get("__CURSOR") if done.stdout.strip() else None
        except (OSError, subprocess.TimeoutExpired, ValueError, AttributeError) as err:
            log.warning("%s: cannot find the journal's end (%s); reading from its head", self.name, err)
            cursor = None
        if cursor:
            self.cursor = self._safe_cursor = cursor
            self._save()
        self.config = _from_head(self.config)  # no cursor: the journal is empty, its head is new

    def _drain_stderr(self, fd: int) -> bool:
        """Read what journalctl wrote to stderr (its pipe must not fill up), keeping the last 4 KiB;
        False at its end."""
        try:
            data = os.read(fd, 65536)
        except (BlockingIOError, OSError):
            return False
        self._stderr = (self._stderr + data)[-4096:]
        return bool(data)

    def _pump(self, fd: int, resume: str | None, err_fd: int) -> None:
        reader = ExportReader(self.config.fields_read(), self.config.max_entry_bytes)
        first = resume is not None
        batch: list[tuple[str, TimedRecord]] = []
        batch_started = 0.0
        while True:
            timeout = self._next_deadline()
            if batch:  # wait up to batch_wait for more: one fsync for many entries
                linger = max(0.0, batch_started + self.config.batch_wait - time.monotonic())
                timeout = linger if timeout is None else min(timeout, linger)
            readable, _, _ = select.select([fd, err_fd] if err_fd >= 0 else [fd], [], [], timeout)
            if err_fd in readable:
                if not self._drain_stderr(err_fd):
                    err_fd = -1  # closed: select on stdout only
                if fd not in readable:
                    continue
            if not readable:
                self._on_timer(batch)
                continue
            if not batch:
                batch_started = time.monotonic()
            data = os.read(fd, _READ_BYTES)
            if not data:
                self._flush(batch)
                return
            too_large = reader.too_large
            entries = reader.feed(data)  # an entry over max_entry_bytes is skipped, counted
            if reader.too_large != too_large:
                self.stats.errors["too_large"] = self.stats.errors.get("too_large", 0) + 1
            for entry in entries:
                if first:
                    first = False
                    if self._is_resume_point(entry, resume):
                        continue
                self._take(entry, batch)
                if len(batch) >= self.config.batch_max_entries:
                    self._flush(batch)
                    batch_started = time.monotonic()

    def _is_resume_point(self, entry: dict[str, Any], resume: str | None) -> bool:
        cursor = text(entry, "__CURSOR")
        if cursor == resume:
            return True
        self.stats.gaps_total += 1
        saved, found = cursor_seqnum(resume or ""), cursor_seqnum(cursor or "")
        lost = found[1] - saved[1] - 1 if saved and found and saved[0] == found[0] else 0
        self.stats.entries_lost_total += max(lost, 0)
        log.warning("%s: the last read entry is no longer in the journal (rotated or vacuumed); "
                    "resuming at the oldest one after it%s", self.name,
                    f" ({lost} entries lost)" if lost > 0 else "")
        return False

    # ------------------------------------------------------------------ entries
    def _take(self, entry: dict[str, Any], batch: list[tuple[str, TimedRecord]]) -> None:
        self.stats.entries_total += 1
        cursor = text(entry, "__CURSOR")
        own = self._own_container is not None and text(entry, "CONTAINER_ID_FULL") == self._own_container
        if not own and self._filter.passes(entry):
            for item in self._records(entry):
                batch.append((cursor, item))
        else:
            self.stats.filtered_total += 1
            if self._dirty_since is None:
                self._dirty_since = time.monotonic()
        self.cursor = cursor
        if not self._partials.pending:
            self._safe_cursor = cursor

    def _records(self, entry: dict[str, Any]) -> list[TimedRecord]:
        piece = partial_piece(entry)
        time_ns, record = to_record(entry, self.config.extra_fields)
        if piece is None:
            # An older engine flags all pieces but the last, which carries no partial field at all.
            key = (record.get("container_id") or record.get("container_name"), None)
            if key not in self._partials.pending:
                return [(time_ns, record)]
            piece = key, 1 << 30, True
        key, ordinal, last = piece
        message = record.pop("message")
        return self._partials.add(key, time_ns, record, message, ordinal, last, "message")

    def _flush(self, batch: list[tuple[str, TimedRecord]]) -> None:
        """Spool the batch durably (retrying while the spool fails: the entries stay in the journal
        and the checkpoint where it was), then checkpoint."""
        assert self.emitter is not None
        if batch:
            self.emitter.emit(self.config.tag, [item for _, item in batch])
            batch.clear()
            self._save()
        elif self._dirty_since is not None and \
                time.monotonic() - self._dirty_since >= self.config.checkpoint_interval:
            self._save()

    def _save(self) -> None:
        if self._safe_cursor is not None:
            self.checkpoint.save({"cursor": self._safe_cursor})
        self._dirty_since = None

    def _next_deadline(self) -> float | None:
        deadlines = []
        if self._dirty_since is not None:
            deadlines.append(self._dirty_since + self.config.checkpoint_interval)
        oldest = self._partials.oldest_started()
        if oldest is not None:
            deadlines.append(oldest + self.config.partial_timeout)
        return max(0.0, min(deadlines) - time.monotonic()) if deadlines else None

    def _on_timer(self, batch: list[tuple[str, TimedRecord]]) -> None:
        for item in self._partials.expired("message"):
            batch.append((self.cursor or "", item))
        if not self._partials.pending:
            self._safe_cursor = self.cursor
        self._flush(batch)


def _from_head(config: JournaldInputConfig) -> JournaldInputConfig:
    return dataclasses.replace(config, read_from="head")
