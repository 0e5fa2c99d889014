"""Allocated and maximum file handles from <proc>/sys/fs/file-nr."""

from __future__ import annotations

from ..errors import CollectorError
from ..models import Sample
from .common import BaseCollector, gauge, read_text


def parse_file_nr(text: str) -> tuple[int, int]:
    """'1184\t0\t9223372036854775807' -> (allocated, maximum)."""
    fields = text.split()
    try:
        return int(fields[0]), int(fields[2])
    except (IndexError, ValueError) as err:
        raise CollectorError(f"file-nr: unexpected content {text[:60]!r}") from err


class FileFdCollector(BaseCollector):
    name = "filefd"

    def collect(self) -> list[Sample]:
        allocated, maximum = parse_file_nr(read_text(self.paths.in_proc("sys", "fs", "file-nr")))
        return [
            gauge("node_filefd_allocated", allocated, "File descriptor statistics: allocated."),
            gauge("node_filefd_maximum", maximum, "File descriptor statistics: maximum."),
        ]
