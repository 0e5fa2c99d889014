"""files input: tails files matching glob patterns, through rotation, with a checkpoint per file.

Rotation: *rename and create* (the renamed file is read to its end, and kept open ``rotate_wait``
for a writer that has not reopened yet, while the new file is read from its first byte) and
*copytruncate* (a file that got shorter or whose first bytes changed is read again from the top;
what the writer appended after our last read and before the copy is read from the copy when it is
found next to it). Lines the writer appends after logrotate's copy and before its truncate exist in
no file: copytruncate itself loses them, whoever reads; prefer rename and create.

Checkpoint (``<state dir>/<name>.json``): per file device + inode, the fingerprint (SHA-1) of its
first bytes and the offset of the end of the last line spooled; written only after the sink returned
durably, and only when something moved. A file whose inode is reused by another file (fingerprint
differs) is read from the top. After a restart, a checkpointed file that was renamed away while the
agent was down is found by its inode in the same directory and read to its end first.

Waiting: inotify on the directories (ctypes; the standard library has none), so an idle agent
sleeps until a file changes; without inotify it sleeps ``poll_interval`` (short while files are
growing, ``idle_poll_interval`` when nothing changed for a while). Globs with a wildcard in a
directory part are also rescanned every ``scan_interval`` (directories that appear later).
"""

from __future__ import annotations

import contextlib
import glob
import logging
import os
import re
import select
import stat
import time
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from ..confparse import PARSE, SectionConfig, parse_duration, parse_size
from ..errors import ConfigError
from ..processors import Chain, ProcessorSpec, parse_processors
from ..processors.base import TimedRecord
from .checkpoint import CheckpointFile
from .emit import Emitter, Stopping
from .file_tail import LineRules, TailedFile, fingerprint
from .inotify import DIRECTORY_CHANGES, Inotify
from .reader_thread import ReaderThread
from .report import emitter_report

log = logging.getLogger(__name__)


def _globs(value: Any, key: str) -> tuple[str, ...]:
    items = [v.strip() for v in value.split(",") if v.strip()] if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not all(isinstance(item, str) for item in items):
        raise ConfigError(key, "expected a glob, a comma-separated string of globs or a list of them")
    for item in items:
        if not os.path.isabs(item):
            raise ConfigError(key, f"use absolute paths, got {item!r}")
    return tuple(items)


def _regex(value: Any, key: str) -> str:
    if value in (None, ""):
        return ""
    try:
        re.compile(value)
    except (re.error, TypeError) as err:
        raise ConfigError(key, f"invalid regular expression: {err}") from None
    return value


@dataclass(slots=True)
class FilesInputConfig(SectionConfig):
    """``read_from`` applies to files found at the first start (no checkpoint yet); files that appear
    later, or while the agent was down, are always read from their first byte."""

    SECTION: ClassVar[str] = "files"
    paths: tuple[str, ...] = field(default=(), metadata={PARSE: _globs})
    exclude: tuple[str, ...] = field(default=(), metadata={PARSE: _globs})
    name: str = "files"
    tag: str = "file"
    read_from: Literal["head", "tail"] = "tail"
    max_line_bytes: int = field(default=64 * 1024, metadata={PARSE: parse_size})
    multiline_start: str = field(default="", metadata={PARSE: _regex})
    multiline_timeout: float = field(default=1.0, metadata={PARSE: parse_duration})
    multiline_max_lines: int = 500
    multiline_max_bytes: int = field(default=1024 * 1024, metadata={PARSE: parse_size})
    max_open_files: int = 256
    read_bytes: int = field(default=1024 * 1024, metadata={PARSE: parse_size})  # per file per round
    rotate_wait: float = field(default=5.0, metadata={PARSE: parse_duration})
    scan_interval: float = field(default=10.0, metadata={PARSE: parse_duration})
    poll_interval: float = field(default=0.25, metadata={PARSE: parse_duration})
    idle_poll_interval: float = field(default=2.0, metadata={PARSE: parse_duration})
    processors: tuple[ProcessorSpec, ...] = field(default=(), metadata={PARSE: parse_processors})
    state_dir: str = ""  # the checkpoint's directory; empty: <spool dir>/inputs (config.py fills it)

    def validate(self) -> None:
        if not self.paths:
            raise ConfigError("files.paths", "name at least one file or glob")
        for key in ("max_line_bytes", "read_bytes", "max_open_files", "multiline_max_lines",
                    "multiline_max_bytes"):
            if getattr(self, key) <= 0:
                raise ConfigError(f"files.{key}", "must be positive")

    def rules(self) -> LineRules:
        pattern = re.compile(self.multiline_start) if self.multiline_start else None
        return LineRules(self.max_line_bytes, pattern, self.multiline_timeout, self.multiline_max_lines,
                         self.multiline_max_bytes)


class FilesStats:
    def __init__(self) -> None:
        self.files_open = 0
        self.rotations_total = 0
        self.truncations_total = 0
        self.lines_total = 0
        self.errors: dict[str, int] = {}


class FilesInput:
    def __init__(self, config: FilesInputConfig) -> None:
        self.config = config
        self.name = config.name
        self.stats = FilesStats()
        self.checkpoint = CheckpointFile(os.path.join(config.state_dir, f"{config.name}.json"))
        self._rules = config.rules()
        self._files: dict[str, TailedFile] = {}  # "dev:ino" -> file
        self._by_path: dict[str, str] = {}  # path -> key of the file it names now
        self._saved: dict[str, dict[str, Any]] = {}
        self._first_run = True
        self._reader = ReaderThread(f"input-{self.name}")
        self._stopping = self._reader.stopping
        self._inotify = Inotify()
        self.emitter: Emitter | None = None

    def start(self, sink: Any) -> None:
        self.emitter = Emitter(sink, Chain.build(self.config.processors), self._stopping, self.name,
                               source_keeps_data=True)
        saved = self.checkpoint.load()
        if isinstance(saved, dict) and isinstance(saved.get("files"), dict):
            self._saved, self._first_run = saved["files"], False
        self._reader.start(self._run)

    def stop(self) -> None:
        if not self._reader.stop():
            return
        for tailed in self._files.values():
            tailed.close()
        self._files.clear()
        self._inotify.close()
        self._reader.close()

    def report(self) -> dict[str, Any]:
        """Counters for /health and /metrics."""
        stats = self.stats
        return {**emitter_report(self.emitter), "files_open": stats.files_open,
                "lines_total": stats.lines_total, "rotations_total": stats.rotations_total,
                "truncations_total": stats.truncations_total,
                "split_lines_total": sum(t.split_lines_total for t in list(self._files.values())),
                "checkpoint_writes_total": self.checkpoint.writes_total,
                "checkpoint_bytes_total": self.checkpoint.bytes_written_total,
                "inotify": self._inotify.available, "errors": dict(stats.errors)}

    # ------------------------------------------------------------------ discovery
    def _matching_paths(self) -> list[str]:
        found: set[str] = set()
        for pattern in self.config.paths:
            found.update(glob.glob(pattern))
        excluded = {p for pattern in self.config.exclude for p in glob.glob(pattern)}
        return sorted(found - excluded)

    def _scan(self, startup: bool = False) -> None:
        directories = {os.path.dirname(p) for p in self.config.paths
                       if not any(c in os.path.dirname(p) for c in "*?[")}
        for path in self._matching_paths():
            directories.add(os.path.dirname(path))
            try:
                info = os.stat(path)
            except OSError:
                continue
            if not stat.S_ISREG(info.st_mode):
                continue
            key = f"{info.st_dev}:{info.st_ino}"
            previous = self._by_path.get(path)
            if previous == key:
                continue
            if previous is not None and previous in self._files:
                self._files[previous].rotated_at = time.monotonic()  # renamed away: drain it
                self.stats.rotations_total += 1
            self._by_path[path] = key
            if key not in self._files:
                self._open(path, key, startup)
        if startup:
            self._drain_renamed_while_down()
        for directory in directories:
            self._inotify.watch(directory)
        self.stats.files_open = len(self._files)

    def _open(self, path: str, key: str, startup: bool) -> None:
        if len(self._files) >= self.config.max_open_files:
            self.stats.errors["too_many_files"] = self.stats.errors.get("too_many_files", 0) + 1
            return
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError as err:
            log.warning("%s: cannot open %s: %s", self.name, path, err.strerror)
            return
        size = os.fstat(fd).st_size
        offset = self._resume_offset(fd, key, size)
        if offset is None:
            offset = size if (startup and self._first_run and self.config.read_from == "tail") else 0
        self._files[key] = TailedFile(path, fd, offset, self._rules)

    def _resume_offset(self, fd: int, key: str, size: int) -> int | None:
        saved = self._saved.get(key)
        if not isinstance(saved, dict):
            return None
        fp_len, offset = saved.get("fp_len", 0), saved.get("offset", 0)
        if not isinstance(fp_len, int) or not isinstance(offset, int):
            return 0
        if size < fp_len or fingerprint(fd, fp_len) != saved.get("fp") or offset > size:
            # Another file now (inode reused), or truncated (copytruncate while the agent was down):
            # what we had not read is in the copy, if one is next to it; this file from the top.
            self._recover_copy(saved)
            return 0
        return offset

    def _recover_copy(self, saved: dict[str, Any]) -> None:
        """Read a copytruncate copy (same first bytes, another inode) from the saved offset to its end."""
        path, offset = saved.get("path"), saved.get("offset")
        fp_len, fp = saved.get("fp_len"), saved.get("fp")
        if not (isinstance(path, str) and isinstance(offset, int) and isinstance(fp_len, int) and fp_len):
            return
        with contextlib.suppress(OSError):
            for entry in os.scandir(os.path.dirname(path)):
                info = entry.stat(follow_symlinks=False)
                key = f"{info.st_dev}:{info.st_ino}"
                if entry.path == path or not stat.S_ISREG(info.st_mode) or info.st_size < offset or \
                        key in self._files or key in self._saved:
                    continue
                fd = os.open(entry.path, os.O_RDONLY | os.O_CLOEXEC)
                if fingerprint(fd, fp_len) != fp:
                    os.close(fd)
                    continue
                copy = TailedFile(path, fd, offset, self._rules)  # records name the original path
                copy.rotated_at = time.monotonic()
                self._files[key] = copy
                return

    def _drain_renamed_while_down(self) -> None:
        """A checkpointed file no glob names any more (rotated while the agent was down): find it by
        inode next to its old path and read what is left of it."""
        for key, saved in self._saved.items():
            if key in self._files or not isinstance(saved, dict) or not isinstance(saved.get("path"), str):
                continue
            directory = os.path.dirname(saved["path"])
            with contextlib.suppress(OSError):
                for entry in os.scandir(directory):
                    info = entry.stat(follow_symlinks=False)
                    if f"{info.st_dev}:{info.st_ino}" == key and stat.S_ISREG(info.st_mode):
                        self._open(entry.path, key, startup=False)
                        if key in self._files:
                            self._files[key].rotated_at = time.monotonic()
                        break

    # ------------------------------------------------------------------ reading
    def _run(self) -> None:
        try:
            self._scan(startup=True)
            self._loop()
        except Stopping:
            return
        except Exception:
            log.exception("%s: the files input stopped", self.name)

    def _rescan_interval(self) -> float:
        """With inotify, directory events show new files: a periodic rescan is only needed for
        patterns with a wildcard in a directory part, or a directory that does not exist yet."""
        directories = [os.path.dirname(p) for p in self.config.paths]
        wildcard_dirs = any(any(c in d for c in "*?[") for d in directories)
        unwatched = any(d not in self._inotify.watches for d in directories)  # not there yet
        return self.config.scan_interval if wildcard_dirs or unwatched else 86400.0

    def _loop(self) -> None:
        next_scan = time.monotonic() + self._rescan_interval()
        idle_rounds = 0
        pending: list[TimedRecord] = []
        while not self._stopping.is_set():
            pending.extend(self._read_round())
            now = time.monotonic()
            for tailed in self._files.values():
                pending.extend(tailed.flush_expired(now))
            if pending:
                self._spool(pending)
                idle_rounds = 0
                continue
            self._save_if_moved()
            self._close_drained(now)
            if now >= next_scan:
                self._scan()
                next_scan = now + self._rescan_interval()
                continue  # read what the scan found before sleeping
            idle_rounds += 1
            self._wait(min(next_scan, self._next_multiline_deadline(now)) - now, idle_rounds)

    def _read_round(self) -> list[TimedRecord]:
        records: list[TimedRecord] = []
        now_ns = time.time_ns()
        for tailed in list(self._files.values()):
            try:
                if tailed.was_truncated():
                    self._on_truncated(tailed, records, now_ns)
                records.extend(tailed.read(self.config.read_bytes, now_ns))
            except OSError as err:
                log.warning("%s: reading %s failed: %s", self.name, tailed.path, err)
                self.stats.errors["read"] = self.stats.errors.get("read", 0) + 1
        self.stats.lines_total += len(records)
        return records

    def _on_truncated(self, tailed: TailedFile, records: list[TimedRecord], now_ns: int) -> None:
        """copytruncate: first read what we had not read yet from the copy (same first bytes, another
        inode, at least as long as our offset), then start the truncated file from the top."""
        copy = self._find_copy(tailed)
        if copy is not None:
            records.extend(copy.read_to_end(self.config.read_bytes, now_ns))
            records.extend(copy.flush_expired(float("inf")))
            copy.close()
        self.stats.truncations_total += 1
        log.info("%s: %s was truncated; reading it again from the top", self.name, tailed.path)
        tailed.restart_from_top()

    def _find_copy(self, tailed: TailedFile) -> TailedFile | None:
        directory = os.path.dirname(tailed.path)
        with contextlib.suppress(OSError):
            for entry in os.scandir(directory):
                if entry.path == tailed.path or not entry.is_file(follow_symlinks=False):
                    continue
                info = entry.stat()
                if info.st_size < tailed.offset or f"{info.st_dev}:{info.st_ino}" in self._files:
                    continue
                fd = os.open(entry.path, os.O_RDONLY | os.O_CLOEXEC)
                if fingerprint(fd, tailed.fp_len) == tailed.fp:
                    copy = TailedFile(tailed.path, fd, tailed.offset, self._rules)
                    copy.continue_from(tailed)
                    return copy
                os.close(fd)
        return None

    def _spool(self, pending: list[TimedRecord]) -> None:
        assert self.emitter is not None
        self.emitter.emit(self.config.tag, pending)
        pending.clear()
        self._save_if_moved()

    def _save_if_moved(self) -> None:
        state = {key: tailed.state() for key, tailed in self._files.items()}
        self.checkpoint.save({"files": state})

    def _close_drained(self, now: float) -> None:
        for key, tailed in list(self._files.items()):
            waited = tailed.rotated_at is not None and now - tailed.rotated_at >= self.config.rotate_wait
            if waited and os.fstat(tailed.fd).st_size <= tailed.offset:
                tailed.close()
                del self._files[key]
        self.stats.files_open = len(self._files)

    def _next_multiline_deadline(self, now: float) -> float:
        deadlines = [d for t in self._files.values() if (d := t.multiline_deadline()) is not None]
        deadlines += [t.rotated_at + self.config.rotate_wait for t in self._files.values()
                      if t.rotated_at is not None]
        return min(deadlines, default=now + 3600.0)

    def _wait(self, timeout: float, idle_rounds: int) -> None:
        timeout = max(0.0, timeout)
        if self._inotify.available:
            # Sleep until a file changes, a deadline (multiline, rotate_wait, rescan) or stop().
            readable, _, _ = select.select([self._inotify.fd, self._reader.wake_fd], [], [], timeout)
            if self._inotify.fd in readable and self._inotify.read_masks() & DIRECTORY_CHANGES:
                self._scan()
            return
        interval = self.config.poll_interval if idle_rounds < 20 else self.config.idle_poll_interval
        self._stopping.wait(min(timeout, interval))
