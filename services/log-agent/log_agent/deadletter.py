"""The dead-letter file: records an output rejected or gave up on, kept for an operator to inspect."""

from __future__ import annotations

import os
import threading
from pathlib import Path

from .models import Record
from .outputs.encoding import envelope, to_json


class DeadLetterFile:
    """Rejected records as JSON lines ``{"output", "reason", "time", "tag", "record"}``, one backup."""

    def __init__(self, path: Path, max_bytes: int) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self._lock = threading.Lock()

    def write(self, output: str, reason: str, records: list[Record]) -> None:
        lines = "".join(
            to_json({"output": output, "reason": reason, **envelope(record)}) + "\n" for record in records)
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if self.path.exists() and self.path.stat().st_size + len(lines) > self.max_bytes:
                os.replace(self.path, self.path.with_name(self.path.name + ".1"))
            with self.path.open("a", encoding="utf-8") as handle:
                handle.write(lines)
                handle.flush()
                os.fdatasync(handle.fileno())  # the cursor moves past these records right after
