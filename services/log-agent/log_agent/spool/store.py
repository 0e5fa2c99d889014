"""Where segments live: files in a directory, or bytearrays in memory. Same frames either way.

Only appends, whole-file deletes, and (at recovery only) one truncate of a torn tail touch the disk.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Protocol

from ..errors import SpoolError

SUFFIX = ".seg"


class SegmentStore(Protocol):
    def ids(self) -> list[int]: ...
    def size(self, seg_id: int) -> int: ...
    def create(self, seg_id: int) -> None: ...
    def append(self, seg_id: int, data: bytes) -> None: ...
    def sync(self, seg_id: int) -> None: ...
    def seal(self, seg_id: int) -> None: ...
    def read(self, seg_id: int, offset: int, length: int) -> bytes: ...
    def truncate(self, seg_id: int, size: int) -> None: ...
    def delete(self, seg_id: int) -> None: ...
    def close(self) -> None: ...


def fsync_dir(path: Path) -> None:
    """Make a create/rename/delete in ``path`` survive power loss."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class FileStore:
    """Segment files ``<dir>/<id:016d>.seg``; one append fd open for the active segment."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise SpoolError(f"cannot create spool directory {directory}: {err.strerror}") from err
        self._append_fds: dict[int, int] = {}
        # sync() and seal() of one fd must not overlap (seal closes it); append() runs beside them.
        self._fd_lock = threading.Lock()

    def _path(self, seg_id: int) -> Path:
        return self.directory / f"{seg_id:016d}{SUFFIX}"

    def ids(self) -> list[int]:
        found = []
        for path in self.directory.glob(f"*{SUFFIX}"):
            stem = path.name.removesuffix(SUFFIX)
            if stem.isdigit():
                found.append(int(stem))
        return sorted(found)

    def size(self, seg_id: int) -> int:
        return self._path(seg_id).stat().st_size

    def create(self, seg_id: int) -> None:
        try:
            self._append_fds[seg_id] = os.open(
                self._path(seg_id), os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o640
            )
            fsync_dir(self.directory)
        except OSError as err:
            raise SpoolError(f"cannot create segment {seg_id}: {err.strerror}") from err

    def append(self, seg_id: int, data: bytes) -> None:
        fd = self._append_fds[seg_id]
        view = memoryview(data)
        try:
            while view:
                written = os.write(fd, view)
                view = view[written:]
        except OSError as err:
            raise SpoolError(f"cannot write segment {seg_id}: {err.strerror}") from err

    def sync(self, seg_id: int) -> None:
        with self._fd_lock:
            self._sync_locked(seg_id)

    def _sync_locked(self, seg_id: int) -> None:
        fd = self._append_fds.get(seg_id)
        if fd is None:
            return  # sealed meanwhile: seal() fsynced it
        try:
            os.fdatasync(fd)
        except OSError as err:
            raise SpoolError(f"cannot fsync segment {seg_id}: {err.strerror}") from err

    def seal(self, seg_id: int) -> None:
        with self._fd_lock:
            self._sync_locked(seg_id)
            fd = self._append_fds.pop(seg_id, None)
            if fd is not None:
                os.close(fd)

    def read(self, seg_id: int, offset: int, length: int) -> bytes:
        try:
            with open(self._path(seg_id), "rb") as handle:
                handle.seek(offset)
                return handle.read(length)
        except FileNotFoundError:
            return b""  # dropped by the size cap meanwhile; the caller moves on
        except OSError as err:
            raise SpoolError(f"cannot read segment {seg_id}: {err.strerror}") from err

    def truncate(self, seg_id: int, size: int) -> None:
        # The one non-append write, at recovery: cut a torn tail back to the last good frame.
        with open(self._path(seg_id), "r+b") as handle:
            handle.truncate(size)
            os.fsync(handle.fileno())

    def delete(self, seg_id: int) -> None:
        self.seal(seg_id)
        self._path(seg_id).unlink(missing_ok=True)

    def close(self) -> None:
        for seg_id in list(self._append_fds):
            self.seal(seg_id)


class MemoryStore:
    """Segments as bytearrays: the memory-only mode (lost on restart, by choice)."""

    def __init__(self) -> None:
        self._segments: dict[int, bytearray] = {}

    def ids(self) -> list[int]:
        return sorted(self._segments)

    def size(self, seg_id: int) -> int:
        return len(self._segments.get(seg_id, b""))

    def create(self, seg_id: int) -> None:
        self._segments[seg_id] = bytearray()

    def append(self, seg_id: int, data: bytes) -> None:
        self._segments[seg_id] += data

    def sync(self, seg_id: int) -> None:
        """Nothing to flush in memory."""

    def seal(self, seg_id: int) -> None:
        """Nothing to close in memory."""

    def read(self, seg_id: int, offset: int, length: int) -> bytes:
        return bytes(self._segments.get(seg_id, b"")[offset : offset + length])

    def truncate(self, seg_id: int, size: int) -> None:
        del self._segments[seg_id][size:]

    def delete(self, seg_id: int) -> None:
        self._segments.pop(seg_id, None)

    def close(self) -> None:
        self._segments.clear()
