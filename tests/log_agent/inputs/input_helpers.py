"""Helpers the device-input tests share: a sink that decodes the chunks it is given (as the core's
would store them), and real journal files written by systemd-journal-remote from export format."""

from __future__ import annotations

import struct
import subprocess
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import msgpack
from log_agent.errors import SpoolError
from log_agent.protocol.decode import decode_time

JOURNAL_REMOTE = "/lib/systemd/systemd-journal-remote"
BOOT_ID = "0123456789abcdef0123456789abcdef"


class ChunkSink:
    """The EntrySink contract: ``(tag, entries, count, *, durable)``; keeps (tag, time_ns, record)."""

    def __init__(self) -> None:
        self.records: list[tuple[str, int, dict[str, Any]]] = []
        self.calls: list[tuple[str, int, bool]] = []
        self.fail = False
        self.changed = threading.Condition()

    def __call__(self, tag: str, entries: bytes, count: int, *, durable: bool,
                 reserved: bool = False) -> None:
        if self.fail:
            raise SpoolError("disk full (test)")
        unpacker = msgpack.Unpacker(raw=False, strict_map_key=False)
        unpacker.feed(entries)
        decoded = [(tag, decode_time(t), r) for t, r in unpacker]
        assert len(decoded) == count or count == -1
        with self.changed:
            self.records.extend(decoded)
            self.calls.append((tag, count, durable))
            self.changed.notify_all()

    def messages(self) -> list[Any]:
        return [record.get("message") for _, _, record in self.records]

    def wait_count(self, count: int, timeout: float = 10.0) -> bool:
        with self.changed:
            return self.changed.wait_for(lambda: len(self.records) >= count, timeout)


def export_entry(fields: Mapping[str, str | bytes], index: int) -> bytes:
    """One entry in journal export format; binary-safe fields use the length-prefixed form."""
    out = [b"__REALTIME_TIMESTAMP=%d\n" % (1_700_000_000_000_000 + index * 1000 + 7),
           b"__MONOTONIC_TIMESTAMP=%d\n" % (1_000 + index), f"_BOOT_ID={BOOT_ID}\n".encode()]
    for key, value in fields.items():
        raw = value if isinstance(value, bytes) else value.encode()
        if b"\n" in raw or not raw.isascii() or isinstance(value, bytes):
            out.append(key.encode() + b"\n" + struct.pack("<Q", len(raw)) + raw + b"\n")
        else:
            out.append(f"{key}={value}\n".encode())
    return b"".join(out) + b"\n"


def write_journal(path: Path, entries: Iterable[Mapping[str, str | bytes]], start: int = 0) -> None:
    """Append entries to the journal file ``path`` (created if new) with the real journal writer."""
    data = b"".join(export_entry(fields, start + i) for i, fields in enumerate(entries))
    subprocess.run([JOURNAL_REMOTE, f"--output={path}", "-"], input=data, check=True,
                   capture_output=True, timeout=30)


def container_entry(message: str | bytes, name: str = "main_1_2_abc123", priority: str = "6",
                    **extra: str) -> dict[str, str | bytes]:
    """What balenaEngine's journald log driver writes for one line of a container's stdout/stderr."""
    return {"MESSAGE": message, "CONTAINER_NAME": name, "CONTAINER_ID": "c0ffee123456",
            "CONTAINER_ID_FULL": "c0ffee123456" + "0" * 52, "CONTAINER_TAG": "c0ffee123456",
            "IMAGE_NAME": "registry2.balena-cloud.com/v2/abc@sha256:1234", "PRIORITY": priority,
            "SYSLOG_IDENTIFIER": "c0ffee123456", "_SYSTEMD_UNIT": "balena.service",
            "_HOSTNAME": "device-1", "_PID": "812", **extra}


def unit_entry(message: str, unit: str = "NetworkManager.service", priority: str = "6") -> dict[str, str]:
    return {"MESSAGE": message, "_SYSTEMD_UNIT": unit, "PRIORITY": priority,
            "SYSLOG_IDENTIFIER": unit.split(".")[0], "_HOSTNAME": "device-1", "_PID": "99"}
