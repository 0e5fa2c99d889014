"""Per-output read cursors: ``(segment id, byte offset)`` of the first record not yet delivered.

A cursor file is a few bytes of JSON, replaced atomically (write temp, fdatasync, rename) once per
committed batch, never more often: that is the only small write the spool makes. The directory is not
fsynced after the rename: after a power cut the old cursor may come back, which re-sends one batch
(at-least-once) but never skips one.
"""

from __future__ import annotations

import json
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from ..errors import SpoolError

log = logging.getLogger(__name__)

_SAFE_NAME = re.compile(r"[^A-Za-z0-9_.-]")


@dataclass(frozen=True, slots=True, order=True)
class Position:
    segment: int
    offset: int


class CursorStore(Protocol):
    def load(self, reader: str) -> Position | None: ...
    def save(self, reader: str, position: Position, unsent_dropped: int = 0) -> None: ...
    def unsent_dropped(self, reader: str) -> int: ...


class FileCursors:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)

    def _path(self, reader: str) -> Path:
        return self.directory / f"{_SAFE_NAME.sub('_', reader)}.cursor"

    def load(self, reader: str) -> Position | None:
        data = self._read(reader)
        return Position(int(data["segment"]), int(data["offset"])) if data else None

    def unsent_dropped(self, reader: str) -> int:
        """Records of a batch in flight whose segment the size cap dropped before it was delivered
        (saved so a restart counts them as dropped: see Spool._drop_oldest)."""
        data = self._read(reader)
        return int(data.get("unsent_dropped", 0)) if data else 0

    def _read(self, reader: str) -> dict | None:
        path = self._path(reader)
        try:
            data = json.loads(path.read_text())
            int(data["segment"]), int(data["offset"]), int(data.get("unsent_dropped", 0))
            return data
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as err:
            # Unreadable cursor: start from the oldest segment (duplicates, never loss).
            log.warning("cursor %s unreadable (%s); re-reading from the oldest record", path.name, err)
            return None

    def save(self, reader: str, position: Position, unsent_dropped: int = 0) -> None:
        path = self._path(reader)
        temp = path.with_suffix(".tmp")
        state = {"segment": position.segment, "offset": position.offset}
        if unsent_dropped:
            state["unsent_dropped"] = unsent_dropped
        data = json.dumps(state).encode()
        try:
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o640)
            try:
                os.write(fd, data)
                os.fdatasync(fd)
            finally:
                os.close(fd)
            os.replace(temp, path)
        except OSError as err:
            raise SpoolError(f"cannot save cursor for {reader}: {err.strerror}") from err


class MemoryCursors:
    def __init__(self) -> None:
        self._positions: dict[str, Position] = {}

    def load(self, reader: str) -> Position | None:
        return self._positions.get(reader)

    def save(self, reader: str, position: Position, unsent_dropped: int = 0) -> None:
        self._positions[reader] = position

    def unsent_dropped(self, reader: str) -> int:
        return 0
