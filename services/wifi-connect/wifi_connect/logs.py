"""Logging as JSON lines on stdout: one object per line, state changes with their fields at top level."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

RESERVED = frozenset(("ts", "level", "logger", "message"))


class JsonFormatter(logging.Formatter):
    """``{"ts", "level", "logger", "message", ...}``; ``extra={"fields": {...}}`` adds keys."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            line.update({key: value for key, value in fields.items() if key not in RESERVED})
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def setup_logging(level: int = logging.INFO) -> None:
    """Send every log record of the process to stdout as JSON lines (the container's log)."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
