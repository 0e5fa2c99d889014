"""Whole-file reads of /proc and /sys with the descriptor kept open between samples.

The kernel generates a procfs or sysfs file's text anew on every read from offset 0, so a descriptor
opened once can be re-read with pread(fd, n, 0) for as long as the file exists. Opening is what costs:
a sysfs open (kernfs lookup, permission checks) takes several times the read itself, and a fast sample
reads some fifty such files. Only files on a mounted proc or sysfs are kept (known from the device
numbers in /proc/self/mountinfo): a regular file (a test's copied tree, os-release) can be replaced by a
rename, which a kept descriptor would never see. A read that fails on a kept descriptor (the network
device or hwmon chip went away: ENODEV) closes it and opens the path again, so a vanished file reports
as absent exactly as a fresh open would. At most ``LIMIT`` descriptors are kept; beyond that files are
opened per read.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

READ_CHUNK = 65536
LIMIT = 256
KERNEL_FILESYSTEMS = frozenset({"proc", "sysfs"})

_kept: dict[str, int] = {}
_lock = threading.Lock()
_kernel_devices: frozenset[int] | None = None


def read_file(path: Path | str) -> str:
    """The whole file as text, with plain os calls (Path.read_text's TextIOWrapper costs about three
    times as much). Raises OSError as open/read would."""
    key = os.fspath(path)
    fd = _kept.get(key)
    if fd is not None:
        try:
            return _read_all(fd).decode("utf-8", "replace")
        except OSError:
            _forget(key, fd)  # gone or replaced: a fresh open below tells which
    fd = os.open(key, os.O_RDONLY | os.O_CLOEXEC)
    try:
        data = _read_all(fd)
    except BaseException:
        os.close(fd)
        raise
    if not _keep(key, fd):
        os.close(fd)
    return data.decode("utf-8", "replace")


def _read_all(fd: int) -> bytes:
    data = os.pread(fd, READ_CHUNK, 0)
    # Some /proc files hand out one page or one record set per read: read on until end of file.
    if data and (chunk := os.pread(fd, READ_CHUNK, len(data))):
        chunks = [data, chunk]
        offset = len(data) + len(chunk)
        while chunk := os.pread(fd, READ_CHUNK, offset):
            chunks.append(chunk)
            offset += len(chunk)
        data = b"".join(chunks)
    return data


def _keep(key: str, fd: int) -> bool:
    if len(_kept) >= LIMIT or os.fstat(fd).st_dev not in _kernel_filesystem_devices():
        return False
    with _lock:
        if key in _kept:
            return False
        _kept[key] = fd
    return True


def _forget(key: str, fd: int) -> None:
    with _lock:
        if _kept.get(key) == fd:
            del _kept[key]
            os.close(fd)


def _kernel_filesystem_devices() -> frozenset[int]:
    """st_dev of every mounted proc and sysfs (the host's bound into a container included)."""
    global _kernel_devices
    if _kernel_devices is None:
        devices = set()
        try:
            with open("/proc/self/mountinfo", encoding="utf-8", errors="replace") as mountinfo:
                for line in mountinfo:
                    before, _, after = line.partition(" - ")
                    fields = before.split()
                    if len(fields) > 2 and after.split(" ", 1)[0] in KERNEL_FILESYSTEMS:
                        major, _, minor = fields[2].partition(":")
                        devices.add(os.makedev(int(major), int(minor)))
        except (OSError, ValueError):
            pass  # nothing kept: every read opens the file
        _kernel_devices = frozenset(devices)
    return _kernel_devices


def close_all() -> None:
    """Close every kept descriptor (tests; a process that stops sampling)."""
    with _lock:
        for fd in _kept.values():
            os.close(fd)
        _kept.clear()
