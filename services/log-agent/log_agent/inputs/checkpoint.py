"""A checkpoint file: one small JSON document replaced atomically (write a temporary file, fsync,
rename, fsync the directory), so a crash leaves either the old or the new position, never a torn one.

Written only when the state changed (no disk writes at rest). A missing or unreadable checkpoint
reads as None (the input starts as configured for a first run) and is logged, never a crash.
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any

log = logging.getLogger(__name__)


class CheckpointFile:
    def __init__(self, path: str) -> None:
        self.path = path
        self._saved: Any = None
        self.writes_total = 0
        self.bytes_written_total = 0

    def load(self) -> Any:
        try:
            with open(self.path, encoding="utf-8") as handle:
                self._saved = json.load(handle)
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as err:
            log.warning("checkpoint %s is unreadable (%s): starting without it", self.path, err)
            return None
        return self._saved

    def save(self, state: Any) -> bool:
        """Persist ``state`` durably unless it equals what is on disk; True when it wrote."""
        if state == self._saved:
            return False
        data = json.dumps(state, separators=(",", ":"), sort_keys=True).encode()
        directory = os.path.dirname(self.path) or "."
        os.makedirs(directory, exist_ok=True)
        temporary = f"{self.path}.tmp"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temporary, self.path)
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
        self._saved = state
        self.writes_total += 1
        self.bytes_written_total += len(data)
        return True
