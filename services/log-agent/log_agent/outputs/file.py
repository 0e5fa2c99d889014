"""file output: JSON lines (the http envelope, one record per line) appended to a local file, rotated
by size like logrotate's ``rotate N``: path -> path.1 -> ... -> path.<keep>, the oldest deleted.

A record's line is never split across files. fsync "batch" makes each delivered batch durable before
send() returns (the spool may then advance its cursor); "never" leaves it to the kernel.
"""

from __future__ import annotations

import logging
import os
import urllib.parse
from dataclasses import dataclass, field
from typing import IO, Any, Literal, Self

from ..confparse import PARSE, dataclass_from_dict, parse_size
from ..errors import ConfigError
from ..models import Outcome, Record, SendResult
from .encoding import json_line

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FileOutputConfig:
    path: str
    max_bytes: int = field(default=10 * 1024 * 1024, metadata={PARSE: parse_size})  # 0 = never rotate
    keep: int = 5  # rotated files kept besides the live one
    fsync: Literal["batch", "never"] = "batch"

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        config = dataclass_from_dict(cls, data, "file")
        if not config.path or not os.path.isabs(config.path):
            raise ConfigError("file.path", f"must be an absolute path, got {config.path!r}")
        if os.path.isdir(config.path):
            raise ConfigError("file.path", f"is a directory: {config.path!r}")
        if config.keep < 0:
            raise ConfigError("file.keep", "must not be negative")
        return config

    @classmethod
    def from_url(cls, url: str) -> Self:
        """``file:///var/log/agent.jsonl[?max_bytes=8MiB&keep=3&fsync=never]``: query = options."""
        parts = urllib.parse.urlsplit(url)
        if parts.netloc not in ("", "localhost"):
            raise ConfigError("file.path", f"file URLs need three slashes (file:///path), got {url!r}")
        query = dict(urllib.parse.parse_qsl(parts.query))
        return cls.from_dict({**query, "path": urllib.parse.unquote(parts.path)})


class FileOutput:
    def __init__(self, config: FileOutputConfig, name: str = "file") -> None:
        self.name = name
        self._config = config
        self._file: IO[bytes] | None = None
        self._size = 0
        self._last_ok = True

    def send(self, records: list[Record]) -> SendResult:
        try:
            self._write([json_line(r).encode("utf-8") for r in records])
        except OSError as err:
            self._last_ok = False
            self._close_file()
            return SendResult(Outcome.RETRY, f"{self._config.path}: {err}")
        self._last_ok = True
        return SendResult(Outcome.DELIVERED)

    def _write(self, lines: list[bytes]) -> None:
        handle = self._open()
        pending: list[bytes] = []
        pending_size = 0
        for line in lines:
            if self._needs_rotation(pending_size + len(line)):
                self._flush(handle, pending)
                handle = self._rotate()
                pending, pending_size = [], 0
            pending.append(line)
            pending_size += len(line)
        self._flush(handle, pending)

    def _needs_rotation(self, extra: int) -> bool:
        limit = self._config.max_bytes
        return limit > 0 and self._size > 0 and self._size + extra > limit

    def _flush(self, handle: IO[bytes], lines: list[bytes]) -> None:
        data = b"".join(lines)
        handle.write(data)
        handle.flush()
        if self._config.fsync == "batch":
            os.fsync(handle.fileno())
        self._size += len(data)

    def _open(self) -> IO[bytes]:
        # Reopen when something else (logrotate, an operator) moved or deleted the file under us.
        if self._file is not None and not _same_file(self._file, self._config.path):
            self._close_file()
        if self._file is None:
            self._file = open(self._config.path, "ab")  # noqa: SIM115 - kept open across batches
            self._size = os.fstat(self._file.fileno()).st_size
        return self._file

    def _rotate(self) -> IO[bytes]:
        self._close_file()
        path, keep = self._config.path, self._config.keep
        if keep == 0:
            os.unlink(path)
        else:
            for index in range(keep - 1, 0, -1):
                if os.path.exists(f"{path}.{index}"):
                    os.replace(f"{path}.{index}", f"{path}.{index + 1}")
            os.replace(path, f"{path}.1")
        log.info("%s: rotated %s", self.name, path)
        return self._open()

    def _close_file(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def healthcheck(self) -> bool:
        return self._last_ok

    def close(self) -> None:
        self._close_file()


def _same_file(handle: IO[bytes], path: str) -> bool:
    try:
        return os.path.samestat(os.fstat(handle.fileno()), os.stat(path))
    except FileNotFoundError:
        return False
