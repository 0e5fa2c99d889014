"""Logging as JSON lines on stdout: one object per line, state changes with their fields at top level."""

from __future__ import annotations

import json
import logging
import logging.config
import sys
from datetime import UTC, datetime
from typing import Any

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


def logging_config(level: int | str = logging.INFO) -> dict[str, Any]:
    """A ``logging.config.dictConfig`` dict: every record of the process to stdout as JSON lines."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": JsonFormatter}},
        "handlers": {"stdout": {"class": "logging.StreamHandler", "formatter": "json", "stream": sys.stdout}},
        "root": {"level": level, "handlers": ["stdout"]},
    }


def gunicorn_logging_config() -> dict[str, Any]:
    """``logging_config`` for gunicorn's ``logconfig_dict``: gunicorn's own loggers keep no handler of
    their own (no plain text on stderr) and reach the JSON root. gunicorn.error keeps ``--log-level``;
    no access log (a line per phone request, as without a logconfig)."""
    return {
        **logging_config(),
        "loggers": {
            "gunicorn.error": {"handlers": [], "propagate": True},
            "gunicorn.access": {"handlers": [], "propagate": True, "level": "WARNING"},
        },
    }


def setup_logging(level: int = logging.INFO) -> None:
    """Send every log record of the process to stdout as JSON lines (the container's log)."""
    logging.config.dictConfig(logging_config(level))
