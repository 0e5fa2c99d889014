"""journalctl's export format read into entries (inputs/journal_export.py); the real journalctl's
output is read in test_journald_input.py, these are the edge cases fed in any cut."""

from __future__ import annotations

import struct

import pytest
from log_agent.inputs.journal_export import ExportReader

FIELDS = ("__CURSOR", "MESSAGE", "PRIORITY")


def binary(name: bytes, value: bytes) -> bytes:
    return name + b"\n" + struct.pack("<Q", len(value)) + value + b"\n"


STREAM = (
    b"__CURSOR=c1\nMESSAGE=plain\nPRIORITY=6\n_BOOT_ID=x\n\n"
    + b"__CURSOR=c2\n" + binary(b"MESSAGE", b"two\n\nlines \xff") + b"PRIORITY=3\n\n"
    + b"__CURSOR=c3\nMESSAGE=caf\xc3\xa9\nMESSAGE=second\n\n"
    + b"__CURSOR=c4\nMESSAGE=not utf-8 \xfe\n\n"
)
EXPECTED = [{"__CURSOR": "c1", "MESSAGE": "plain", "PRIORITY": "6"},
            {"__CURSOR": "c2", "MESSAGE": b"two\n\nlines \xff", "PRIORITY": "3"},
            {"__CURSOR": "c3", "MESSAGE": "caf\u00e9"},
            {"__CURSOR": "c4", "MESSAGE": b"not utf-8 \xfe"}]


def wanted(entries: list[dict]) -> list[dict]:
    return [{k: v for k, v in entry.items() if k in FIELDS} for entry in entries]


@pytest.mark.parametrize("step", [1, 2, 7, 13, 64, len(STREAM)])
def test_entries_come_out_whole_however_the_reads_cut_them(step: int) -> None:
    reader = ExportReader(FIELDS, 1 << 20)
    entries = []
    for start in range(0, len(STREAM), step):
        entries.extend(reader.feed(STREAM[start:start + step]))
    assert wanted(entries) == EXPECTED


def test_an_entry_over_the_limit_is_skipped_and_counted() -> None:
    reader = ExportReader(FIELDS, 100)
    big = b"__CURSOR=big\nMESSAGE=" + b"x" * 500 + b"\n\n"
    entries = []
    for start in range(0, len(big), 64):
        entries.extend(reader.feed(big[start:start + 64]))
    entries.extend(reader.feed(b"__CURSOR=after\nMESSAGE=ok\n\n"))
    assert wanted(entries) == [{"__CURSOR": "after", "MESSAGE": "ok"}] and reader.too_large == 1


@pytest.mark.parametrize("message", [b"MESSAGE=" + b"x" * 500 + b"\n", binary(b"MESSAGE", b"x\n" * 250)])
def test_an_entry_over_the_limit_that_arrives_in_one_read_is_skipped_too(message: bytes) -> None:
    """Reads go up to 1 MiB: a large entry can come whole, never as an incomplete rest."""
    reader = ExportReader(FIELDS, 100)
    data = b"__CURSOR=a\nMESSAGE=before\n\n__CURSOR=big\n" + message + b"\n__CURSOR=b\nMESSAGE=after\n\n"
    entries = reader.feed(data)
    assert [entry["MESSAGE"] for entry in entries] == ["before", "after"] and reader.too_large == 1
