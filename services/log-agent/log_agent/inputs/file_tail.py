"""One tailed file: reading from an offset, lines out of bytes, long lines split, multiline joining,
and the identity a checkpoint keeps for it (device, inode and a fingerprint of the first bytes).

``committed`` is the offset a restart may resume from: the end of the last line handed out as a
record, never inside a multiline record still being collected (that one is re-read after a crash).
"""

from __future__ import annotations

import hashlib
import os
import re
import time
from dataclasses import dataclass
from typing import Any

from ..processors.base import TimedRecord

FINGERPRINT_BYTES = 1024


def fingerprint(fd: int, length: int) -> str:
    """SHA-1 of the first ``length`` bytes: tells a rotated-in file from the one the checkpoint saw
    when the inode number was reused."""
    return hashlib.sha1(os.pread(fd, length, 0)).hexdigest() if length else ""


@dataclass(frozen=True, slots=True)
class LineRules:
    max_line_bytes: int
    multiline_start: re.Pattern[str] | None
    multiline_timeout: float
    multiline_max_lines: int
    multiline_max_bytes: int = 1024 * 1024


def _text(raw: bytes) -> str | bytes:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw  # kept exact (msgpack bin); JSON outputs escape it


class TailedFile:
    def __init__(self, path: str, fd: int, offset: int, rules: LineRules) -> None:
        info = os.fstat(fd)
        self.path, self.fd, self.rules = path, fd, rules
        self.dev, self.ino = info.st_dev, info.st_ino
        self.offset = offset  # read position
        self.committed = offset
        self.fp_len = min(FINGERPRINT_BYTES, info.st_size)
        self.fp = fingerprint(fd, self.fp_len)
        self.rotated_at: float | None = None  # its path now names another file: drain, then close
        self._buffer = b""  # bytes after the last newline
        self._split_index = 0  # pieces of the current over-long line already handed out
        self._multi: list[str | bytes] = []  # multiline record being collected
        self._multi_time = 0
        self._multi_offset = 0  # offset where it started
        self._multi_started = 0.0
        self._multi_bytes = 0
        self.truncations_total = 0
        self.split_lines_total = 0

    @property
    def key(self) -> str:
        return f"{self.dev}:{self.ino}"

    def state(self) -> dict[str, Any]:
        return {"path": self.path, "offset": self.committed, "fp": self.fp, "fp_len": self.fp_len}

    def was_truncated(self) -> bool:
        """Shorter than what we read, or its first bytes changed (copytruncate, then written again
        past our offset before we looked)."""
        size = os.fstat(self.fd).st_size
        if size < self.offset:
            return True
        return bool(self.fp_len) and fingerprint(self.fd, self.fp_len) != self.fp

    def continue_from(self, other: TailedFile) -> None:
        """Read on where ``other`` stopped: this is a copy of the same bytes (copytruncate)."""
        self.offset = self.committed = other.offset
        self._buffer, self._split_index = other._buffer, other._split_index
        self._multi, self._multi_time = other._multi, other._multi_time
        self._multi_offset, self._multi_started = other._multi_offset, other._multi_started
        self._multi_bytes = other._multi_bytes
        other._multi = []

    def restart_from_top(self) -> None:
        self.truncations_total += 1
        self.offset = self.committed = 0
        self._buffer, self._split_index, self._multi = b"", 0, []
        self.fp_len, self.fp = 0, ""

    def read(self, max_bytes: int, now_ns: int) -> list[TimedRecord]:
        """Records from what was appended since the last read (up to ``max_bytes``)."""
        data = os.pread(self.fd, max_bytes, self.offset)
        if not data:
            return []
        self.offset += len(data)
        if self.fp_len < FINGERPRINT_BYTES and self.offset > self.fp_len:
            self.fp_len = min(FINGERPRINT_BYTES, self.offset)
            self.fp = fingerprint(self.fd, self.fp_len)
        out: list[TimedRecord] = []
        data = self._buffer + data
        line_start = self.offset - len(data)  # file offset of data[0]
        start = 0
        fast = None
        if self.rules.multiline_start is None and not self._split_index:
            last_newline = data.rfind(b"\n")
            fast = self._plain_lines(data[:last_newline], now_ns) if last_newline >= 0 else None
            if fast is not None:
                out, start = fast, last_newline + 1
        while fast is None:
            end = data.find(b"\n", start)
            if end < 0:
                break
            line, line_offset = data[start:end].rstrip(b"\r"), line_start + start
            while len(line) > self.rules.max_line_bytes:
                self._piece(line[:self.rules.max_line_bytes], now_ns, out, last=False)
                line = line[self.rules.max_line_bytes:]
            self._line(line, line_offset, now_ns, out)
            start = end + 1
        rest = data[start:]
        limit = self.rules.max_line_bytes
        while len(rest) >= limit:  # an over-long line: hand out a piece, marked, never drop it
            self._piece(rest[:limit], now_ns, out, last=False)
            start += limit
            rest = rest[limit:]
        self._buffer = rest
        self.committed = self._multi_offset if self._multi else self.offset - len(rest)
        return out

    def _plain_lines(self, block: bytes, now_ns: int) -> list[TimedRecord] | None:
        """The common case in one pass (no multiline, no line over the limit): one record per line.
        None when a line is too long (the caller then goes line by line and splits it)."""
        limit = self.rules.max_line_bytes
        try:
            lines: list[str] | list[bytes] = block.decode("utf-8").split("\n")
            too_long = len(block) > limit and any(len(x) * 4 > limit and len(x.encode()) > limit
                                                  for x in lines)  # type: ignore[union-attr]
        except UnicodeDecodeError:
            lines = block.split(b"\n")
            too_long = len(block) > limit and any(len(x) > limit for x in lines)
        if too_long:
            return None
        path = self.path
        if b"\r" in block:
            lines = [line.rstrip("\r" if isinstance(line, str) else b"\r") for line in lines]  # type: ignore[misc]
        if isinstance(lines[0], str):
            return [(now_ns, {"message": line, "path": path}) for line in lines]
        return [(now_ns, {"message": _text(line), "path": path}) for line in lines]  # type: ignore[arg-type]

    def read_to_end(self, chunk_bytes: int, now_ns: int) -> list[TimedRecord]:
        out: list[TimedRecord] = []
        while True:
            before = self.offset
            out.extend(self.read(chunk_bytes, now_ns))
            if self.offset == before:
                return out

    def _piece(self, raw: bytes, now_ns: int, out: list[TimedRecord], last: bool) -> None:
        self._flush_multi(out)
        out.append((now_ns, {"message": _text(raw), "path": self.path,
                             "split_index": self._split_index, "split_last": last}))
        self._split_index = 0 if last else self._split_index + 1
        if last:
            self.split_lines_total += 1

    def _line(self, raw: bytes, offset: int, now_ns: int, out: list[TimedRecord]) -> None:
        if self._split_index:  # the end of an over-long line
            self._piece(raw, now_ns, out, last=True)
            return
        start_pattern = self.rules.multiline_start
        if start_pattern is None:
            out.append((now_ns, {"message": _text(raw), "path": self.path}))
            return
        text = _text(raw)
        probe = text if isinstance(text, str) else text.decode("utf-8", "replace")
        if start_pattern.search(probe) or not self._multi or \
                len(self._multi) >= self.rules.multiline_max_lines or \
                self._multi_bytes + len(raw) > self.rules.multiline_max_bytes:
            self._flush_multi(out)
            self._multi, self._multi_time, self._multi_offset = [text], now_ns, offset
            self._multi_started = time.monotonic()
            self._multi_bytes = len(raw)
        else:
            self._multi.append(text)
            self._multi_bytes += len(raw) + 1

    def _flush_multi(self, out: list[TimedRecord]) -> None:
        if not self._multi:
            return
        lines = self._multi
        if any(isinstance(line, bytes) for line in lines):
            message: str | bytes = b"\n".join(x if isinstance(x, bytes) else x.encode() for x in lines)
        else:
            message = "\n".join(lines)  # type: ignore[arg-type]
        out.append((self._multi_time, {"message": message, "path": self.path}))
        self._multi = []

    def multiline_deadline(self) -> float | None:
        return self._multi_started + self.rules.multiline_timeout if self._multi else None

    def flush_expired(self, now: float) -> list[TimedRecord]:
        """The multiline record collected so far once no line came for ``multiline_timeout``; the
        end of the file is the end of a record after that (a stack trace printed last)."""
        out: list[TimedRecord] = []
        deadline = self.multiline_deadline()
        if deadline is not None and now >= deadline:
            self._flush_multi(out)
            self.committed = self.offset - len(self._buffer)
        return out

    def close(self) -> None:
        """Once: a second close would close whatever descriptor took this number since."""
        fd, self.fd = self.fd, -1
        if fd >= 0:
            os.close(fd)
