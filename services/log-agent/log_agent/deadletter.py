"""The dead-letter file: records an output rejected or gave up on, kept for an operator to inspect.

One JSON line per record: ``{"output", "reason", "time", "tag", "record"}`` (the JSON scheme of
outputs/encoding.py: never fails on non-UTF-8 keys or values). An entry that could not even be
decoded is kept whole as ``{"output", "reason", "tag", "entry_base64"}``.
"""

from __future__ import annotations

import base64
import os
import threading
from pathlib import Path

from .models import Record
from .outputs.encoding import envelope, to_json


class DeadLetterFile:
    """Rejected records as JSON lines, one backup (``<path>.1``) when ``max_bytes`` is reached."""

    def __init__(self, path: Path, max_bytes: int) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self._lock = threading.Lock()

    def write(self, output: str, reason: str, records: list[Record]) -> None:
        self._append("".join(
            to_json({"output": output, "reason": reason, **envelope(record)}) + "\n" for record in records))

    def write_raw(self, output: str, reason: str, tag: str, entry: bytes) -> None:
        self._append(to_json({"output": output, "reason": reason, "tag": tag,
                              "entry_base64": base64.b64encode(entry).decode("ascii")}) + "\n")

    def _append(self, lines: str) -> None:
        data = lines.encode("utf-8")
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if self.path.exists() and self.path.stat().st_size + len(data) > self.max_bytes:
                os.replace(self.path, self.path.with_name(self.path.name + ".1"))
            with self.path.open("ab") as handle:
                handle.write(data)
                handle.flush()
                os.fdatasync(handle.fileno())  # the cursor moves past these records right after
